// nidim/tools/eval_dm/inputs.cpp: see inputs.h.
#include "tools/eval_dm/inputs.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include <fmt/format.h>

#include "core/error.h"
#include "core/io.h"
#include "core/json.h"
#include "data/npy.h"

namespace nidim::eval_dm {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Beyond this, sums of fourth powers over a billion rows (kurtosis, Mardia) overflow a double.
constexpr double max_magnitude = 1e70;

template <class T>
T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

FileId file_id(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return {};
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
}

EmbeddingSet load_embedding_set(const std::string& name, const std::string& path,
                                const std::string& labels_path, bool labels_optional,
                                bool drop_nonfinite) {
  EmbeddingSet s;
  s.name = name;
  s.path = path;
  NIDIM_CHECK(file_exists(path), "{}: {} embeddings not found", path, name);
  // The file's identity, when it is the same before and after the read: train_dim replaces files
  // by renaming, so what was read is that file's (FileId).
  const FileId before = file_id(path);
  const NpyArray a = read_npy(path);
  if (file_id(path) == before) s.file = before;
  NIDIM_CHECK(a.dtype == DType::f32 || a.dtype == DType::f64,
              "{}: embeddings must be float32 or float64, got {}", path, dtype_name(a.dtype));
  NIDIM_CHECK(a.shape.size() == 2, "{}: embeddings must be a 2-D array N x d, got shape {}", path,
              shape_str(a.shape));
  NIDIM_CHECK(a.shape[0] >= 1 && a.shape[1] >= 1, "{}: embeddings are empty (shape {})", path,
              shape_str(a.shape));
  s.dtype = dtype_name(a.dtype);
  const int64_t n = a.shape[0], d = a.shape[1];
  std::vector<double> x(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n * d; ++i)
    x[i] = a.dtype == DType::f32 ? static_cast<double>(load_le<float>(a.data.data() + 4 * i))
                                 : load_le<double>(a.data.data() + 8 * i);

  // Labels first, so that dropping rows can drop their labels too.
  std::vector<int64_t> labels;
  if (!labels_path.empty()) {
    if (!file_exists(labels_path)) {
      NIDIM_CHECK(labels_optional, "{}: {} labels not found", labels_path, name);
      s.labels_missing = labels_path + " not found";
    } else {
      const NpyArray l = read_npy(labels_path);
      NIDIM_CHECK(l.dtype == DType::i32 || l.dtype == DType::i64 || l.dtype == DType::u8,
                  "{}: labels must be integers (int32, int64 or uint8), got {}", labels_path,
                  dtype_name(l.dtype));
      NIDIM_CHECK(l.shape.size() == 1 || (l.shape.size() == 2 && l.shape[1] == 1),
                  "{}: labels must have shape [N] or [N, 1], got {}", labels_path,
                  shape_str(l.shape));
      NIDIM_CHECK(l.shape[0] == n, "{} has {} labels but {} has {} rows", labels_path, l.shape[0],
                  path, n);
      labels.resize(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        if (l.dtype == DType::i32) labels[i] = load_le<int32_t>(l.data.data() + 4 * i);
        if (l.dtype == DType::i64) labels[i] = load_le<int64_t>(l.data.data() + 8 * i);
        if (l.dtype == DType::u8) labels[i] = l.data[i];
      }
      s.labels_path = labels_path;
    }
  } else {
    s.labels_missing = "no labels given";
  }

  // Rows with NaN or Inf. Finite values so large that sums of their fourth powers overflow
  // (float64 only) are refused: the statistics would come out as NaN, Inf or 0 without saying why.
  int64_t bad = 0, first_bad = -1, first_col = -1;
  std::vector<char> keep(static_cast<size_t>(n), 1);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < d; ++c) {
      const double v = x[i * d + c];
      NIDIM_CHECK(!(std::fabs(v) > max_magnitude) || std::isinf(v),
                  "{}: row {}, column {} holds {}: values beyond {:g} in magnitude overflow the "
                  "statistics; rescale the embeddings",
                  path, i, c, v, max_magnitude);
      if (!std::isfinite(v)) {
        if (bad == 0) {
          first_bad = i;
          first_col = c;
        }
        ++bad;
        keep[i] = 0;
        break;
      }
    }
  if (bad > 0) {
    NIDIM_CHECK(drop_nonfinite,
                "{}: {} of {} rows contain NaN or Inf (first: row {}, column {}); pass "
                "--drop-nonfinite to evaluate without them",
                path, bad, n, first_bad, first_col);
    NIDIM_CHECK(bad < n, "{}: every row contains NaN or Inf", path);
    std::vector<double> xk;
    std::vector<int64_t> lk;
    for (int64_t i = 0; i < n; ++i) {
      if (!keep[i]) continue;
      s.file_rows.push_back(i);
      xk.insert(xk.end(), x.begin() + i * d, x.begin() + (i + 1) * d);
      if (!labels.empty()) lk.push_back(labels[i]);
    }
    x.swap(xk);
    labels.swap(lk);
    s.dropped_rows = bad;
  }
  s.n = n - bad;
  s.d = d;
  s.x = std::move(x);
  s.labels = std::move(labels);
  return s;
}

void check_compatible(const EmbeddingSet& a, const EmbeddingSet& b) {
  NIDIM_CHECK(a.d == b.d, "{} has d = {} columns but {} has d = {}", a.path, a.d, b.path, b.d);
}

RunInfo read_run_info(const std::string& run_dir) {
  RunInfo info;
  info.run_dir = run_dir;
  if (run_dir.empty()) {
    info.config_missing = "no run directory";
    info.certificate_missing = "no run directory (log.jsonl gives the MI estimate)";
    return info;
  }
  const std::string cfg = run_dir + "/config.json";
  if (file_exists(cfg)) {
    info.config = read_json_file(cfg);
    NIDIM_CHECK(info.config.is_object(), "{}: expected a JSON object", cfg);
  } else {
    info.config_missing = cfg + " not found";
  }
  const std::string state = run_dir + "/checkpoint/state.json";
  if (file_exists(state)) {  // only a hint: a file that cannot be read is left aside
    try {
      const nlohmann::json j = read_json_file(state);
      if (j.is_object() && j.contains("epoch") && j["epoch"].is_number_integer())
        info.checkpoint_epoch = json_int(j, "epoch", state);
    } catch (const Error&) {
    }
  }
  const std::string log = run_dir + "/log.jsonl";
  if (!file_exists(log)) {
    info.certificate_missing = log + " not found";
    return info;
  }
  const std::vector<std::string> lines = read_lines(log);  // a regular file only
  const auto blank = [](const std::string& line) {
    return line.find_first_not_of(" \t\r") == std::string::npos;
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    if (blank(lines[i])) continue;
    const std::string at = fmt::format("{}:{}", log, i + 1);
    nlohmann::json j;
    try {
      j = parse_json(lines[i], at);
    } catch (const Error&) {
      // A run killed mid-write may leave a torn last line: skip it, but only the last one (blank
      // lines after it do not count).
      if (std::all_of(lines.begin() + static_cast<std::ptrdiff_t>(i) + 1, lines.end(), blank))
        break;
      throw;
    }
    ++info.log_lines;
    if (!j.is_object()) continue;
    const int64_t epoch = json_int_or(j, "epoch", at, -1);
    if (json_string_or(j, "type", at, "") == "eval") info.last_eval_epoch = epoch;
    if (j.contains("certificate_not_applicable"))
      info.certificate_not_applicable = json_string(j, "certificate_not_applicable", at);
    // null: not applicable at that line (a run without noise has no capacity).
    const double nan = std::numeric_limits<double>::quiet_NaN();
    CertificateLine c;
    c.capacity = json_double_or(j, "capacity", at, nan);
    c.mi_estimate = json_double_or(j, "mi_estimate", at, nan);
    const double kl = json_double_or(j, "kl_bound", at, nan);
    if (std::isnan(c.capacity) || std::isnan(c.mi_estimate)) continue;
    c.has_kl_bound = !std::isnan(kl);
    if (c.has_kl_bound) c.kl_bound = kl;
    c.epoch = epoch;
    info.has_certificate = true;
    info.certificate = c;
    if (epoch >= 0) info.by_epoch[epoch] = c;
  }
  // The embeddings are those of the last evaluation, which may be older than the last epoch
  // (--eval-every > 1 in a run that was stopped, or is still going).
  const auto evaluated = info.by_epoch.find(info.last_eval_epoch);
  if (evaluated != info.by_epoch.end()) info.certificate = evaluated->second;
  if (!info.has_certificate)
    info.certificate_missing =
        !info.certificate_not_applicable.empty()
            ? info.certificate_not_applicable
            : log + " has no line with both \"capacity\" and \"mi_estimate\"";
  return info;
}

int64_t RunInfo::unfinished_evaluation() const {
  const int64_t e = checkpoint_epoch;
  if (e <= 0 || last_eval_epoch >= e || !config.is_object()) return -1;
  const auto integer = [&](const char* key) {
    return json_int_or(config, key, run_dir + "/config.json", -1);
  };
  const int64_t every = integer("eval_every"), epochs = integer("epochs");
  const bool due = (every > 0 && e % every == 0) || e == epochs;
  return due ? e : -1;
}

RunInfo RunInfo::at_epoch(int64_t epoch) const {
  RunInfo out = *this;
  const auto it = by_epoch.find(epoch);
  out.has_certificate = it != by_epoch.end();
  out.certificate = out.has_certificate ? it->second : CertificateLine{};
  if (!out.has_certificate)
    out.certificate_missing =
        !certificate_not_applicable.empty()
            ? certificate_not_applicable
            : fmt::format("{}/log.jsonl has no certificate line for epoch {}", run_dir, epoch);
  return out;
}

std::vector<KeptEvaluation> kept_evaluations(const std::string& run_dir) {
  namespace fs = std::filesystem;
  std::vector<KeptEvaluation> out;
  const fs::path dir = fs::path(run_dir) / "evaluations";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    // One file only: an evaluation cut short (train_dim redoes it on resume); the caller notes it.
    const int64_t epoch = numbered_name(e.path().filename().string(), "epoch_");
    if (epoch < 0) continue;
    const bool train = fs::is_regular_file(e.path() / "embeddings_train.npy", ec),
               test = fs::is_regular_file(e.path() / "embeddings_test.npy", ec);
    if (train || test) out.push_back({epoch, e.path().string(), train && test});
  }
  std::sort(out.begin(), out.end(),
            [](const KeptEvaluation& a, const KeptEvaluation& b) { return a.epoch < b.epoch; });
  return out;
}

std::string config_prior(const RunInfo& info, bool overridden) {
  if (!info.config.is_object() || !info.config.contains("prior")) return "";
  const nlohmann::json& p = info.config["prior"];
  if (p.is_string() && !p.get<std::string>().empty()) return p.get<std::string>();
  NIDIM_CHECK(overridden,
              "{}/config.json: \"prior\" must be the name of a prior, got {} (or give --prior)",
              info.run_dir, json_excerpt(p));
  return "";
}

}  // namespace nidim::eval_dm
