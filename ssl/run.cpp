// nidim/ssl/run.cpp: see run.h.
#include "ssl/run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>

#include "core/autograd.h"
#include "core/cuda_runtime.h"
#include "core/fpenv.h"
#include "core/io.h"
#include "core/json.h"
#include "core/nvtx.h"
#include "core/parallel.h"
#include "data/npy.h"
#include "kernels/cuda/kernels_cuda.h"
#include "kernels/ops.h"
#include "nn/safetensors.h"
#include "ssl/channel.h"
#include "stats/bootstrap.h"
#include "stats/classifiers.h"
#include "stats/priors.h"

namespace nidim {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// k of the kNN accuracy among the quick metrics at evaluations.
constexpr int64_t quick_knn_neighbors = 5;

// Thrown inside an evaluation when a stop is asked for (TrainHooks::stop); run() catches it.
struct EvaluationStopped {};

// Refuses a directory a new run must not write into: one that holds a run, a file, or a folder
// with files of its own (a new run would overwrite model.safetensors, log.jsonl, ...). A missing
// or empty directory is fine; so is one holding only the lock of a run that never began.
// `locked`: this process holds the directory's lock (the second check, made under it).
void check_new_run_dir(const std::string& dir, bool locked) {
  std::error_code ec;
  const auto status = std::filesystem::status(dir, ec);
  if (!std::filesystem::exists(status)) return;
  NIDIM_CHECK(std::filesystem::is_directory(status), "--out {}: exists and is not a directory",
              dir);
  // Before the lock is ours: a run that is still going is not one to remove or resume.
  NIDIM_CHECK(locked || !file_exists(dir + "/config.json") || !directory_in_use(dir),
              "--out {}: holds a run that is still going (another process holds {}/.lock); choose "
              "another --out",
              dir, dir);
  NIDIM_CHECK(!file_exists(dir + "/config.json"),
              "{}: holds a run already (config.json); resume it with --resume {} or choose "
              "another --out{}",
              dir, dir,
              file_exists(dir + "/checkpoint/checkpoint.safetensors")
                  ? ""
                  : " (it has no checkpoint: to start it over with other settings, remove it)");
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    NIDIM_CHECK(entry.path().filename() == ".lock",
                "--out {}: the directory is not empty and holds no run ({} is there); choose a "
                "new or empty one",
                dir, entry.path().filename().string());
}

NamedTensors with_prefix(const std::string& prefix, const NamedTensors& tensors) {
  NamedTensors out;
  for (const auto& [name, t] : tensors) out.emplace_back(prefix + name, t);
  return out;
}

NamedTensors strip_prefix(const std::string& prefix, const NamedTensors& tensors) {
  NamedTensors out;
  for (const auto& [name, t] : tensors)
    if (name.rfind(prefix, 0) == 0) out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

}  // namespace

// ---- the run ----------------------------------------------------------------------------------------

TrainingRun::TrainingRun(const RunConfig& config, const std::string& run_dir, bool unique_name)
    : TrainingRun(config, run_dir, unique_name ? Start::fresh_unique : Start::fresh) {}

TrainingRun::TrainingRun(const RunConfig& config, const std::string& run_dir, Start start)
    : m_config(config),
      m_dir(run_dir),
      m_noise(config.seed, 1) {
  NIDIM_CHECK(!m_dir.empty(), "the run directory's name is empty");
  // "runs/x/.." is checked as the folder it names before anything is made: resolved as the file
  // system resolves it (through symbolic links: absolute then), other names only tidied.
  if (start != Start::resume) {
    const std::filesystem::path given(m_dir);
    std::error_code ec;
    const bool up = std::any_of(given.begin(), given.end(),
                                [](const std::filesystem::path& part) { return part == ".."; });
    if (up) {
      const std::filesystem::path resolved = std::filesystem::weakly_canonical(given, ec);
      NIDIM_CHECK(!ec, "--out {}: cannot resolve the folder it names: {}", m_dir, ec.message());
      m_dir = resolved.string();
    } else {
      m_dir = given.lexically_normal().string();
    }
  }
  while (m_dir.size() > 1 && m_dir.back() == '/') m_dir.pop_back();  // "runs/x/" names runs/x
  m_config.validate();
  // A new run records where its data are, absolute, so it resumes from any working directory.
  if (start != Start::resume) m_config.data.dir = resolved_data_dir(m_config.data);
  m_device = parse_device(m_config.device);
  set_tf32_cuda(m_config.tf32);
  if (start == Start::fresh) check_new_run_dir(m_dir, /*locked=*/false);
  if (start == Start::resume) {
    m_lock = DirectoryLock(m_dir);  // before anything is read that another process may write
    remove_stale_temporaries(m_dir);
    if (file_exists(path("checkpoint"))) remove_stale_temporaries(path("checkpoint"));
    // Kept evaluations are written before the run's own files, so a kill can leave one there.
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(path("evaluations"), ec))
      if (numbered_name(e.path().filename().string(), "epoch_") >= 0 && e.is_directory(ec))
        remove_stale_temporaries(e.path().string());
  }
  // Before (re)starting the pool's threads, which inherit it.
  set_flush_denormals(m_config.flush_denormals);
  try {
    set_num_threads(m_config.threads);
  } catch (const std::system_error& e) {
    NIDIM_FAIL("--threads {}: cannot start that many threads: {}", m_config.threads, e.what());
  }
  DatasetRequest req = m_config.data;
  req.synthetic_seed = m_config.seed;
  auto [train, test] = load_datasets(req);
  NIDIM_CHECK(train.size() >= m_config.batch,
              "--batch {} is larger than the training set ({} samples)", m_config.batch,
              train.size());
  NIDIM_CHECK(!m_config.quick_metrics || train.size() >= quick_knn_neighbors,
              "the training set has {} samples; the quick metrics' kNN classifier needs at least "
              "{} (or give --no-quick-metrics)",
              train.size(), quick_knn_neighbors);
  m_train = std::make_shared<const ImageDataset>(std::move(train));
  m_test = std::make_shared<const ImageDataset>(std::move(test));
  Generator init(m_config.seed, 0);
  const int64_t steps_per_epoch = m_train->size() / m_config.batch;  // the loader drops the last
  try {
    m_objective = make_objective(
        {m_config, m_train->channels(), m_train->height(), m_train->width(), steps_per_epoch,
         m_device, m_train->num_classes()},
        init);
  } catch (const Error& e) {  // e.g. images too small for the ConvNet: say whose images
    const std::string dir = resolved_data_dir(req);
    NIDIM_FAIL("{}: {}", dir.empty() ? "the " + req.name + " data set" : dir, e.what());
  }
  LoaderOptions lo;
  lo.batch_size = m_config.batch;
  lo.shuffle = true;
  lo.drop_last = true;  // every step contrasts exactly B pairs (InfoNCE's log B)
  lo.seed = m_config.seed;
  lo.num_workers = m_config.loader_workers;
  lo.two_views = m_objective->views();
  m_loader = std::make_unique<Loader>(m_train, lo);
  if (start != Start::resume) {
    // Made only now that nothing above can fail; taken with a lock so that two processes given
    // the same --out cannot both write a run into it (the second is refused).
    if (start == Start::fresh_unique) {
      m_dir = claim_new_directory(m_dir);
      m_made = Made::new_directory;
    } else {
      m_made = file_exists(m_dir) ? Made::in_existing_directory : Made::new_directory;
      std::filesystem::path top = m_dir;
      while (top.has_parent_path() && !file_exists(top.parent_path().string()))
        top = top.parent_path();
      m_made_top = m_made == Made::new_directory ? top.string() : "";
      make_directories(m_dir);
    }
    m_lock = DirectoryLock(m_dir);
    check_new_run_dir(m_dir, /*locked=*/true);  // again, under the lock
    make_directories(path("checkpoint"));
    write_file_atomic(path("config.json"), m_config.to_json().dump(2) + "\n");
  }
}

TrainingRun::~TrainingRun() = default;

std::unique_ptr<TrainingRun> TrainingRun::resume(const std::string& run_dir, int64_t epochs,
                                               const std::string& data_dir) {
  NIDIM_CHECK(!run_dir.empty(), "--resume: the run directory's name is empty");
  NIDIM_CHECK(file_exists(run_dir + "/config.json"),
              "--resume {}: no config.json there (not a train_dim run "
              "directory?)",
              run_dir);
  const RunConfig recorded =
      RunConfig::from_json(read_json_file(run_dir + "/config.json"), run_dir + "/config.json");
  RunConfig config = recorded;
  if (epochs > 0) config.epochs = epochs;
  NIDIM_CHECK(data_dir.empty() || config.data.name != "synthetic",
              "--data-dir: {} trains on the synthetic data set, which is made, not read", run_dir);
  NIDIM_CHECK(!data_dir.empty() || config.data.dir.empty() || file_exists(config.data.dir),
              "--resume {}: its data folder {} is not there; if the data moved, give --data-dir",
              run_dir, config.data.dir);
  if (!data_dir.empty()) {
    DatasetRequest moved = config.data;
    moved.dir = data_dir;
    config.data.dir = resolved_data_dir(moved);
  }
  std::unique_ptr<TrainingRun> t(new TrainingRun(config, run_dir, Start::resume));
  if (file_exists(t->path("checkpoint/checkpoint.safetensors"))) {
    t->load_checkpoint();
  } else {
    // Stopped before its first checkpoint: nothing was trained that could be kept.
    make_directories(t->path("checkpoint"));
    t->m_resume_notes.push_back(
        "note: no checkpoint yet (the run stopped before its first one): starting it from the "
        "beginning");
  }
  const int64_t begun = t->m_epoch + (t->m_next_batch > 0 ? 1 : 0);
  NIDIM_CHECK(begun <= t->m_config.epochs,
              "--epochs {}: {} has trained {} epoch(s){} already; give at least {}", epochs,
              run_dir, t->m_epoch, t->m_next_batch > 0 ? " and part of the next" : "", begun);
  if (t->m_config.epochs != recorded.epochs || t->m_config.data.dir != recorded.data.dir)
    write_file_atomic(t->path("config.json"), t->m_config.to_json().dump(2) + "\n");
  return t;
}

bool TrainingRun::complete() const {
  return m_epoch >= m_config.epochs && m_last_eval_epoch >= m_epoch;
}

std::string TrainingRun::path(const std::string& name) const {
  return m_dir + "/" + name;
}

std::string TrainingRun::discard_unsaved_run() {
  if (m_made == Made::resumed)
    return fmt::format(
        "before any checkpoint was written: nothing to resume (remove {} to "
        "start it again with other settings)",
        m_dir);
  namespace fs = std::filesystem;
  // What a run writes, and nothing else (eval_dm's report, say, may have joined it). No write is
  // in flight here, and a failed write removes its own temporary (core/io.h).
  static const char* const run_files[] = {
      "config.json",          "log.jsonl",           "model.safetensors",
      "embeddings_train.npy", "embeddings_test.npy", "labels_train.npy",
      "labels_test.npy",      "checkpoint",          "evaluations",
      "features_train.npy",   "features_test.npy"};
  std::error_code first_error, ec;
  std::vector<fs::path> ours;
  for (fs::directory_iterator it(m_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (std::any_of(std::begin(run_files), std::end(run_files),
                    [&](const char* f) { return name == f; }))
      ours.push_back(it->path());
  }
  if (ec) first_error = ec;
  for (const fs::path& p : ours) {  // each with its own error: a later success must not hide it
    fs::remove_all(p, ec);
    if (ec && !first_error) first_error = ec;
  }
  if (first_error)
    return fmt::format(
        "before any checkpoint was written (removing what the run wrote in {} failed: {})", m_dir,
        first_error.message());
  // A folder the run made goes with its lock when nothing else is in it (and the folders made
  // for it, up to the outermost, while they are empty); one that was there keeps the lock file.
  if (m_made == Made::new_directory) {
    fs::remove(path(".lock"), ec);
    if (fs::remove(m_dir, ec)) {
      // m_dir's ancestors down to m_made_top are the ones at least as long (both normalized).
      for (fs::path up = fs::path(m_dir).parent_path();
           !m_made_top.empty() && up.string().size() >= m_made_top.size() && fs::remove(up, ec);
           up = up.parent_path()) {
      }
      return fmt::format("before any checkpoint was written: {} was removed", m_dir);
    }
  }
  return fmt::format("before any checkpoint was written: what the run wrote in {} was removed",
                     m_dir);
}

void TrainingRun::append_log(const json& line, const TrainHooks& hooks) {
  m_log.push_back(line);
  std::string text;
  for (const json& l : m_log) text += l.dump() + "\n";
  write_file_atomic(path("log.jsonl"), text);
  if (hooks.on_log) hooks.on_log(line);
}

TrainingRun::PendingStep TrainingRun::step(const Batch& batch) {
  NIDIM_NVTX_RANGE("step");
  PendingStep p;
  p.scalars = m_objective->step(batch, m_global_step + 1, m_noise);
  p.batch = batch.index;
  p.images = batch.size();
  return p;
}

void TrainingRun::finish_step(const PendingStep& p, const TrainHooks& hooks,
                             Clock::time_point& last) {
  std::map<std::string, double> values;
  for (const auto& [name, item] : p.scalars) {
    const double v = item.get();
    values[name] = v;
    if (std::isfinite(v)) continue;
    // The parameters may already hold the next step's update, made from this loss: nothing is
    // saved from here on, and the checkpoint on disk predates both.
    const std::string hint = m_objective->nonfinite_hint(p.global_step);
    const std::string kept =
        file_exists(path("checkpoint/checkpoint.safetensors"))
            ? fmt::format("the last good checkpoint in {}/checkpoint is kept", m_dir)
            : discard_unsaved_run();
    NIDIM_FAIL(
        "non-finite {} ({}) at epoch {}, step {} (global step {}); stopped without "
        "saving, {}{}{}",
        name == "mi" ? "MI estimate" : name, v, m_epoch + 1, p.batch + 1, p.global_step, kept,
        hint.empty() ? "" : " (", hint.empty() ? "" : hint + ")");
  }
  const auto now = Clock::now();
  m_epoch_seconds += std::chrono::duration<double>(now - last).count();
  last = now;
  for (const auto& [name, v] : values) m_epoch_sums[name] += v;
  m_epoch_steps += 1;
  m_epoch_images += p.images;
  if (!hooks.on_step) return;
  const int64_t steps_per_epoch = m_loader->batches_per_epoch();
  StepInfo s;
  s.epoch = m_epoch + 1;
  s.epochs = m_config.epochs;
  s.step = p.batch + 1;
  s.steps_per_epoch = steps_per_epoch;
  s.global_step = p.global_step;
  s.loss = p.scalars.empty() ? 0.0 : values[p.scalars.front().first];
  s.scalars = values;
  s.detail = m_objective->progress(values);
  s.images_per_second = m_epoch_images / std::max(m_epoch_seconds, 1e-9);
  const double per_step = m_epoch_seconds / static_cast<double>(m_epoch_steps);
  s.eta_seconds =
      per_step * static_cast<double>((m_config.epochs - m_epoch) * steps_per_epoch - s.step);
  hooks.on_step(s);
}

RunOutcome TrainingRun::run(const TrainHooks& hooks) {
  auto note = [&](const std::string& s) {
    if (hooks.on_note) hooks.on_note(s);
  };
  const std::vector<std::string> notes = m_objective->start_notes();
  for (size_t i = 0; i < notes.size(); ++i) {
    if (i == 1)  // the resume notes come after the first (the channel), as they always did
      for (const std::string& n : m_resume_notes) note(n);
    note(notes[i]);
  }
  if (notes.size() <= 1)
    for (const std::string& n : m_resume_notes) note(n);
  // An evaluation cut short by a stop ends the run; the checkpoint before it stands, and a resumed
  // run does the evaluation again.
  auto evaluated = [&] {
    try {
      evaluate(hooks);
      return true;
    } catch (const EvaluationStopped&) {
      m_objective->model().train();
      m_stopped_at = m_epoch == 0 ? "during the evaluation of the untrained model"
                                  : fmt::format("during the evaluation after epoch {}", m_epoch);
      return false;
    }
  };
  if (m_config.eval_at_start && m_global_step == 0 && m_log.empty()) {
    // The untrained model in evaluation mode. Its batch-norm layers still hold their initial
    // running statistics, which makes no difference to the affine-invariant tests.
    if (!evaluated()) return RunOutcome::interrupted;
    m_last_eval_epoch = 0;
  }
  // An evaluation that was due but did not happen (a run stopped during it).
  if (m_epoch > 0 && m_last_eval_epoch < m_epoch && m_config.eval_every > 0 &&
      m_epoch % m_config.eval_every == 0 && !evaluated())
    return RunOutcome::interrupted;
  m_epoch_mark = Clock::now();
  for (; m_epoch < m_config.epochs; ++m_epoch) {
    m_loader->start_epoch(m_epoch, m_next_batch);
    Batch batch;
    auto last = Clock::now();
    std::optional<PendingStep> queued;  // the step before, not read yet
    while (m_loader->next(batch)) {
      PendingStep p = step(batch);
      m_next_batch = batch.index + 1;
      m_global_step += 1;
      p.global_step = m_global_step;
      if (queued) finish_step(*queued, hooks, last);
      queued = std::move(p);
      const bool stopping = hooks.stop && hooks.stop->load();
      const bool checkpoint_due =
          m_config.checkpoint_every > 0 && m_global_step % m_config.checkpoint_every == 0;
      if (stopping || checkpoint_due) {  // the checkpoint includes the step just queued
        finish_step(*queued, hooks, last);
        queued.reset();
        save_checkpoint();
        if (stopping) {
          m_stopped_at = fmt::format("at epoch {}, batch {}", m_epoch + 1, m_next_batch);
          return RunOutcome::interrupted;
        }
      }
    }
    if (queued) finish_step(*queued, hooks, last);
    json line = {
        {"type", "epoch"},
        {"epoch", m_epoch + 1},
        {"steps", m_epoch_steps},
        {"global_step", m_global_step},
        {"seconds", m_epoch_seconds},
        {"wall_seconds", std::chrono::duration<double>(Clock::now() - m_epoch_mark).count()},
        {"images_per_second", m_epoch_images / std::max(m_epoch_seconds, 1e-9)}};
    std::map<std::string, double> means;
    for (const auto& [name, sum] : m_epoch_sums)
      means[name] = sum / static_cast<double>(std::max<int64_t>(m_epoch_steps, 1));
    m_objective->epoch_log(means, line);
    append_log(line, hooks);
    m_epoch_mark = Clock::now();
    m_next_batch = 0;
    m_epoch_sums.clear();
    m_epoch_seconds = 0;
    m_epoch_steps = m_epoch_images = 0;
    const int64_t done = m_epoch + 1;
    m_epoch = done;  // the checkpoint records the position after this epoch
    save_checkpoint();
    const bool due =
        (m_config.eval_every > 0 && done % m_config.eval_every == 0) || done == m_config.epochs;
    if (due && !evaluated()) return RunOutcome::interrupted;
    // A stop that comes after the last epoch's evaluation has nothing left to stop.
    if (hooks.stop && hooks.stop->load() && done < m_config.epochs) {
      m_stopped_at = fmt::format("after epoch {}", done);
      return RunOutcome::interrupted;
    }
    m_epoch = done - 1;  // the loop's ++ moves it on
  }
  if (m_last_eval_epoch < m_epoch && !evaluated()) return RunOutcome::interrupted;
  return RunOutcome::finished;
}

std::pair<Tensor, Tensor> TrainingRun::embed_all(const ImageDataset& data,
                                                  const std::string& phase,
                                                  const TrainHooks& hooks) {
  NoGradGuard no_grad;
  Module& model = m_objective->model();
  model.eval();
  const int64_t n = data.size(), chunk = 1024, numel = data.image_numel();
  const int64_t d = m_objective->embedding_dim(), f = m_objective->feature_dim();
  Tensor out = Tensor::empty({n, d});
  Tensor features = f > 0 ? Tensor::empty({n, f}) : Tensor();
  std::vector<float> buf(static_cast<size_t>(chunk * numel));
  const std::shared_ptr<const Augmentation> transform = m_objective->eval_transform();
  const ImageDims dims{data.channels(), data.height(), data.width()};
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t m = std::min(chunk, n - start);
    for (int64_t i = 0; i < m; ++i) {
      data.copy_scaled(start + i, buf.data() + i * numel);
      data.normalize(buf.data() + i * numel);
      if (transform) {  // deterministic (a normalization): the stream is never drawn from
        SampleRng rng(m_config.seed, 0, static_cast<uint64_t>(start + i), 0);
        transform->apply(buf.data() + i * numel, dims, rng);
      }
    }
    Tensor x = Tensor::from_host(buf.data(), {m, data.channels(), data.height(), data.width()},
                                 DType::f32, m_device);
    const auto [y, h] = m_objective->embed(x);
    std::memcpy(out.data<float>() + start * d, y.to(Device::cpu()).data<float>(), y.nbytes());
    if (f > 0)
      std::memcpy(features.data<float>() + start * f, h.to(Device::cpu()).data<float>(),
                  h.nbytes());
    if (hooks.on_progress) hooks.on_progress(phase, start + m, n);
    if (hooks.stop && hooks.stop->load()) throw EvaluationStopped{};
  }
  model.train();
  return {out, features};
}

void TrainingRun::evaluate(const TrainHooks& hooks) {
  NIDIM_NVTX_RANGE("evaluate");
  const Prior prior = m_config.channel.prior;
  auto [train_raw, train_features] = embed_all(*m_train, "embedding train set", hooks);
  auto [test_raw, test_features] = embed_all(*m_test, "embedding test set", hooks);
  Tensor train_y = to_prior_coordinates(train_raw, prior);
  Tensor test_y = to_prior_coordinates(test_raw, prior);
  // An evaluation the protocol keeps is written into evaluations/epoch_E/ first and the run's own
  // files become second names of those: the run's embeddings are then always a kept epoch's own
  // files (or older ones), which is how eval_dm knows their epoch.
  const std::string kept = protocol_directory();
  const std::vector<std::pair<std::string, const Tensor*>> files = {
      {"embeddings_train.npy", &train_y}, {"embeddings_test.npy", &test_y}};
  if (!kept.empty())  // both, before either of the run's own files changes
    for (const auto& [name, y] : files) write_npy(kept + "/" + name, *y);
  for (const auto& [name, y] : files)
    if (kept.empty() || !replace_with_link(kept + "/" + name, path(name)))
      write_npy(path(name), *y);
  if (train_features.defined()) {
    write_npy(path("features_train.npy"), train_features);
    write_npy(path("features_test.npy"), test_features);
  }
  write_npy(path("labels_train.npy"), m_train->labels().data(), DType::i32, {m_train->size()});
  write_npy(path("labels_test.npy"), m_test->labels().data(), DType::i32, {m_test->size()});
  save_module(path("model.safetensors"), m_objective->model(),
              {{"made_by", "train_dim"}, {"epoch", std::to_string(m_epoch)}});
  m_last_eval_epoch = m_epoch;
  json line = {{"type", "eval"}, {"epoch", m_epoch}};
  if (train_features.defined())
    m_objective->evaluate(train_features, m_train->labels(), test_features, m_test->labels(),
                          line);
  // The metrics' own loops run on the thread pool and are not cut short; a stop is honoured
  // between them.
  auto check_stop = [&] {
    if (hooks.stop && hooks.stop->load()) throw EvaluationStopped{};
  };
  if (m_config.quick_metrics) {
    check_stop();
    const int64_t d = m_objective->embedding_dim();
    auto as_double = [](const Tensor& t) {
      const std::vector<float> f = t.to_vector<float>();
      return std::vector<double>(f.begin(), f.end());
    };
    const std::vector<double> tr = as_double(train_y), te = as_double(test_y);
    std::vector<int64_t> ytr(m_train->labels().begin(), m_train->labels().end());
    std::vector<int64_t> yte(m_test->labels().begin(), m_test->labels().end());
    const bool finite =
        std::all_of(tr.begin(), tr.end(), [](double v) { return std::isfinite(v); }) &&
        std::all_of(te.begin(), te.end(), [](double v) { return std::isfinite(v); });
    if (!finite) {
      line["not_applicable"] = "the embeddings contain non-finite values";
    } else {
      auto knn_progress = [&](int64_t done, int64_t total) {
        if (hooks.on_progress) hooks.on_progress("kNN accuracy", done, total);
      };
      // The classes the training rows have (a --limit-train subset of CIFAR-100 may lack some):
      // coded as eval_dm codes them; a test row of a class absent from training counts as wrong.
      const stats::LabelEncoding enc = stats::encode_labels(ytr.data(), m_train->size());
      const int64_t classes = static_cast<int64_t>(enc.classes.size());
      if (classes < 2) {
        line["knn_not_applicable"] =
            fmt::format("the training rows have {} class; kNN needs at least 2", classes);
      } else {
        const std::vector<int64_t> codes =
            stats::apply_encoding(enc.classes, yte.data(), m_test->size());
        const stats::KnnResult knn =
            stats::knn_classify(tr.data(), m_train->size(), d, enc.codes.data(), classes, te.data(),
                                m_test->size(), quick_knn_neighbors, knn_progress);
        int64_t correct = 0;
        for (size_t i = 0; i < codes.size(); ++i) correct += knn.predicted[i] == codes[i];
        line["knn_accuracy"] = static_cast<double>(correct) / static_cast<double>(codes.size());
      }
      check_stop();
      const stats::Prior sp = stats::parse_prior(prior_label(prior));
      const stats::PriorCoordinates pc =
          stats::to_prior_coordinates(sp, te.data(), static_cast<int64_t>(te.size()));
      stats::BootstrapOptions bo;
      bo.repetitions = m_config.metric_repetitions;
      bo.subsample = m_config.metric_subsample;
      bo.seed = m_config.seed;
      bo.cancel = hooks.stop;
      auto boot_progress = [&](int64_t done, int64_t total) {
        if (hooks.on_progress) hooks.on_progress("bootstrap tests", done, total);
      };
      const stats::BootstrapResult br =
          stats::projection_bootstrap(pc.z.data(), nullptr, m_test->size(), d, bo, boot_progress);
      check_stop();  // a cancelled bootstrap is incomplete
      line["bootstrap_repetitions"] = bo.repetitions;
      line["bootstrap_subsample"] = bo.subsample;
      if (!br.not_applicable.empty()) line["bootstrap_not_applicable"] = br.not_applicable;
      for (const auto& [name, key] :
           {std::pair<std::string, std::string>{"henze_zirkler", "henze_zirkler_pvalue"},
            {"shapiro", "shapiro_pvalue"},
            {"dagostino", "dagostino_pvalue"}}) {
        const stats::BootstrapSeries* s = br.find(name);
        if (s && s->applicable > 0) line[key] = s->mean_pvalue;
      }
    }
  }
  append_log(line, hooks);
}

std::string TrainingRun::protocol_directory() {
  namespace fs = std::filesystem;
  const int64_t window = m_config.protocol_window, first = m_config.epochs - window + 1;
  if (window == 0) return "";
  const fs::path dir = path("evaluations");
  // Evaluations that have fallen out of the window (the run was extended with --resume --epochs).
  std::error_code ec;
  if (fs::is_directory(dir)) {
    for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
      const int64_t epoch = numbered_name(e.path().filename().string(), "epoch_");
      if (epoch >= 0 && epoch < first) fs::remove_all(e.path(), ec);
    }
  }
  if (m_epoch < std::max<int64_t>(first, 1))
    return "";  // the untrained model (epoch 0) is not kept
  const std::string keep = (dir / fmt::format("epoch_{}", m_epoch)).string();
  make_directories(keep);  // a killed writer's temporaries in it went when the run resumed
  return keep;
}

void TrainingRun::save_checkpoint() {
  NIDIM_NVTX_RANGE("checkpoint");
  NamedTensors tensors = with_prefix("model.", m_objective->model().state_dict());
  for (const auto& [name, opt] : m_objective->optimizers())
    for (auto& t : with_prefix("optim." + name + ".", opt->state())) tensors.push_back(t);
  const GeneratorState g = m_noise.state();
  json sums = m_epoch_sums;
  sums["seconds"] = m_epoch_seconds;
  sums["steps"] = m_epoch_steps;
  sums["images"] = m_epoch_images;
  json state = {{"epoch", m_epoch},
                {"next_batch", m_next_batch},
                {"global_step", m_global_step},
                {"last_eval_epoch", m_last_eval_epoch},
                {"noise_generator", {{"seed", g.seed}, {"stream", g.stream}, {"offset", g.offset}}},
                {"epoch_sums", sums},
                {"threads", num_threads()}};
  m_objective->save_state(state);
  save_safetensors(path("checkpoint/checkpoint.safetensors"), tensors,
                   {{"nidim_state", state.dump()}});
  write_file_atomic(path("checkpoint/state.json"), state.dump(2) + "\n");
  // The convolution algorithms cuDNN's timing chose: a resumed run adopts them (load_checkpoint)
  // and rounds as this one did.
  if (m_device.is_cuda())
    write_file_atomic(path("checkpoint/cudnn_algorithms.txt"),
                      conv_algorithms_cuda(m_device.index));
}

void TrainingRun::load_checkpoint() {
  const std::string file = path("checkpoint/checkpoint.safetensors");
  NIDIM_CHECK(file_exists(file), "--resume {}: no checkpoint ({} is missing)", m_dir, file);
  Metadata meta;
  const NamedTensors tensors = load_safetensors(file, &meta);
  NIDIM_CHECK(meta.count("nidim_state"),
              "{}: no nidim_state in its metadata (not a train_dim checkpoint)", file);
  // Errors name the file, then the key in its nidim_state.
  const std::string where = "nidim_state";
  json state;
  try {
    state = parse_json(meta.at("nidim_state"), where);
    m_objective->model().load_state_dict(strip_prefix("model.", tensors));
    for (const auto& [name, opt] : m_objective->optimizers())
      opt->load_state(strip_prefix("optim." + name + ".", tensors));
    m_epoch = json_int(state, "epoch", where, 0);
    m_next_batch = json_int(state, "next_batch", where, 0);
    m_global_step = json_int(state, "global_step", where, 0);
    m_last_eval_epoch = json_int(state, "last_eval_epoch", where);
    const json& g = json_object(state, "noise_generator", where);
    const std::string in_g = where + ": noise_generator";
    m_noise.set_state(
        {json_uint(g, "seed", in_g), json_uint(g, "stream", in_g), json_uint(g, "offset", in_g)});
    m_objective->load_state(state);
    const json& s = json_object(state, "epoch_sums", where);
    const std::string in_s = where + ": epoch_sums";
    m_epoch_sums.clear();
    for (const auto& [name, v] : s.items())
      if (name != "seconds" && name != "steps" && name != "images")
        m_epoch_sums[name] = json_double(s, name, in_s);
    m_epoch_seconds = json_double(s, "seconds", in_s);
    m_epoch_steps = json_int(s, "steps", in_s, 0);
    m_epoch_images = json_int(s, "images", in_s, 0);
  } catch (const json::exception& e) {
    NIDIM_FAIL("{}: bad state: {}", file, e.what());
  } catch (const Error& e) {
    NIDIM_FAIL("{}: {}", file, e.what());
  }
  const int64_t threads = json_int_or(state, "threads", file + ": " + where, 0);
  if (threads != num_threads())
    m_resume_notes.push_back(fmt::format(
        "note: the checkpoint was written with {} threads, this run has {}: it continues "
        "correctly but not bit for bit",
        threads, num_threads()));
  const std::string algorithms = path("checkpoint/cudnn_algorithms.txt");
  if (m_device.is_cuda() && file_exists(algorithms)) {
    const std::vector<uint8_t> bytes = read_file(algorithms);
    std::string why;
    if (set_conv_algorithms_cuda(std::string(bytes.begin(), bytes.end()), m_device.index, &why) ==
            0 &&
        !why.empty())
      m_resume_notes.push_back(fmt::format(
          "note: {}: not used ({}): cuDNN may choose other convolution algorithms, and the run "
          "continues correctly but not bit for bit",
          algorithms, why));
  }
  // The log so far, without lines the checkpoint does not cover (written after it by a run that
  // then stopped): they will be written again.
  m_log.clear();
  const std::string log = path("log.jsonl");
  if (file_exists(log)) {
    const std::vector<std::string> lines = read_lines(log);  // a regular file only
    for (size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].empty()) continue;
      const std::string at = fmt::format("{}:{}", log, i + 1);
      json line;
      try {
        line = parse_json(lines[i], at);
      } catch (const Error&) {
        continue;  // a torn last line cannot happen with atomic writes, but is harmless to drop
      }
      if (!line.is_object()) continue;
      const int64_t e = json_int_or(line, "epoch", at, 0);
      const std::string type = json_string_or(line, "type", at, "");
      // The evaluation right after an epoch-end checkpoint (written after it, so not in its
      // state) is complete if its line is here: its files were written before the line.
      if (type == "eval" && e == m_epoch && m_next_batch == 0 && e > m_last_eval_epoch)
        m_last_eval_epoch = e;
      if ((type == "epoch" && e <= m_epoch) || (type == "eval" && e <= m_last_eval_epoch))
        m_log.push_back(line);
    }
  }
}

}  // namespace nidim
