// nidim/tests/stats/test_eval_dm.cpp: the eval_dm tool run in-process on small run directories
// and loose files: its numbers against scikit-learn (classifiers.json), its handling of bad
// input (one clear error, or "not applicable" with the reason, never NaN), metrics.json's
// schema, and the plotting code of tools/common (PNG decoded back with libpng, SVG parsed by
// python3's xml.etree where it exists, PDF checked for its header and trailer).
//
// Tolerances: accuracies exactly; AUC and clustering 1e-9 relative (they are computed by the
// stats functions tested against the same references in test_classifiers / test_clustering,
// here after a float64 .npy round trip, which is exact).
#include <png.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "core/io.h"
#include "core/random.h"
#include "data/npy.h"
#include "fixtures.h"
#include "stats/probe.h"
#include "test_util.h"
#include "tools/common/plot.h"
#include "tools/eval_dm/cli.h"
#include "tools/eval_dm/eval.h"
#include "tools/eval_dm/inputs.h"

namespace fs = std::filesystem;
using nidim::DType;
using nidim_test::num;

namespace {

// A fresh folder under the system's temporary directory, removed at the end of the scope.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() /
           ("nidim_test_eval_dm_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

int run(std::vector<std::string> args) {
  args.insert(args.begin(), "eval_dm");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return nidim::eval_dm::eval_dm_main(static_cast<int>(argv.size()), argv.data());
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

void save_matrix(const std::string& path, const std::vector<double>& x, int64_t n, int64_t d) {
  nidim::write_npy(path, x.data(), DType::f64, {n, d});
}

void save_labels(const std::string& path, const std::vector<int64_t>& y) {
  nidim::write_npy(path, y.data(), DType::i64, {static_cast<int64_t>(y.size())});
}

// A small Gaussian run directory: n_train x d and n_test x d, three classes.
void make_run(const TempDir& dir, int64_t n_train, int64_t n_test, int64_t d) {
  nidim::Generator g(5, 0);
  for (auto [name, n] : {std::pair<std::string, int64_t>{"train", n_train}, {"test", n_test}}) {
    std::vector<double> x(static_cast<size_t>(n * d));
    std::vector<int64_t> y(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      y[i] = static_cast<int64_t>(g.uniform_int(3));
      for (int64_t c = 0; c < d; ++c) x[i * d + c] = g.normal() + (c == 0 ? 0.5 * y[i] : 0.0);
    }
    save_matrix(dir / ("embeddings_" + name + ".npy"), x, n, d);
    save_labels(dir / ("labels_" + name + ".npy"), y);
  }
}

void check_na(const nlohmann::json& j, const std::string& reason_part) {
  REQUIRE_MESSAGE(j.is_object(), j.dump());
  REQUIRE_MESSAGE(j.contains("not_applicable"), j.dump());
  CHECK_MESSAGE(j["not_applicable"].get<std::string>().find(reason_part) != std::string::npos,
                j["not_applicable"].get<std::string>() << " should mention " << reason_part);
}

// No NaN anywhere: every number in the document is finite (nlohmann writes NaN as null).
void check_no_null(const nlohmann::json& j, const std::string& where = "") {
  if (j.is_null()) FAIL("null (NaN) at " << where);
  if (j.is_object())
    for (auto it = j.begin(); it != j.end(); ++it)
      check_no_null(it.value(), where + "/" + it.key());
  if (j.is_array())
    for (size_t i = 0; i < j.size(); ++i) check_no_null(j[i], where + "/" + std::to_string(i));
}

}  // namespace

TEST_CASE("eval_dm: classifiers and clustering of loose .npy files match scikit-learn") {
  const auto fx = nidim_test::load_fixture("classifiers.json");
  for (const auto& s : fx["sets"]) {
    INFO(s["name"].get<std::string>());
    TempDir dir;
    auto flat = [](const nlohmann::json& m, int64_t* n, int64_t* d) {
      std::vector<double> v;
      *n = static_cast<int64_t>(m.size());
      *d = static_cast<int64_t>(m[0].size());
      for (const auto& r : m)
        for (const auto& e : r) v.push_back(num(e));
      return v;
    };
    int64_t ntr = 0, nte = 0, d = 0;
    const std::vector<double> xtr = flat(s["x_train"], &ntr, &d), xte = flat(s["x_test"], &nte, &d);
    save_matrix(dir / "tr.npy", xtr, ntr, d);
    save_matrix(dir / "te.npy", xte, nte, d);
    save_labels(dir / "ytr.npy", nidim_test::ivec(s["y_train"]));
    // Test labels as int32, the other dtype train_dim may write.
    const std::vector<int64_t> yte64 = nidim_test::ivec(s["y_test"]);
    std::vector<int32_t> yte(yte64.begin(), yte64.end());
    nidim::write_npy(dir / "yte.npy", yte.data(), DType::i32, {nte});
    REQUIRE(run({"--train", dir / "tr.npy", "--test", dir / "te.npy", "--train-labels",
                 dir / "ytr.npy", "--test-labels", dir / "yte.npy", "--out", dir / "out", "--quiet",
                 "--no-plots", "--repetitions", "16", "--subsample", "20", "--no-distances"}) == 0);
    const nlohmann::json m = read_json(dir / "out/metrics.json");
    check_no_null(m);
    const auto& c = m["classifiers"];
    CHECK(num(c["gaussian_nb"]["accuracy"]) == num(s["gaussian_nb"]["accuracy"]));
    CHECK_CLOSE(num(c["gaussian_nb"]["roc_auc_ovo"]), num(s["gaussian_nb"]["roc_auc_ovo"]), 1e-9,
                0.0);
    CHECK(num(c["knn"]["accuracy"]) == num(s["knn"]["accuracy"]));
    CHECK_CLOSE(num(c["knn"]["roc_auc_ovo"]), num(s["knn"]["roc_auc_ovo"]), 1e-9, 0.0);
    CHECK(num(c["logistic_regression"]["accuracy"]) == num(s["logistic_default"]["accuracy"]));
    CHECK(num(c["logistic_regression"]["f1_micro"]) == num(s["logistic_default"]["f1_micro"]));
    CHECK(std::fabs(num(c["mlp"]["accuracy"]) - num(s["mlp_default_accuracy"]["mean"])) <= 0.05);
    const auto& cl = m["clustering"];
    CHECK(cl["set"] == "test");
    CHECK_CLOSE(num(cl["silhouette"]), num(s["clustering_test"]["silhouette"]), 1e-9, 1e-14);
    CHECK_CLOSE(num(cl["davies_bouldin"]), num(s["clustering_test"]["davies_bouldin"]), 1e-9, 0.0);
    CHECK_CLOSE(num(cl["calinski_harabasz"]), num(s["clustering_test"]["calinski_harabasz"]), 1e-9,
                0.0);
  }
}

TEST_CASE("eval_dm: a run directory gives the documented metrics.json, report and plots") {
  TempDir dir;
  make_run(dir, 300, 120, 2);
  nidim::write_file_atomic(dir / "config.json", R"({"prior": "gaussian", "embedding_dim": 2,
      "noise": {"form": "additive", "sigma": 0.5}})");
  // Three epochs and a torn last line (a run killed mid-write): the last complete epoch counts.
  nidim::write_file_atomic(
      dir / "log.jsonl",
      "{\"epoch\": 1, \"mi_estimate\": 0.5, \"capacity\": 1.6, \"kl_bound\": 1.1}\n"
      "{\"epoch\": 2, \"mi_estimate\": 0.9, \"capacity\": 1.6, \"kl_bound\": 0.7}\n"
      "{\"step\": 17, \"loss\": 0.3}\n"
      "{\"epoch\": 3, \"mi_es");
  REQUIRE(run({dir.path.string(), "--quiet", "--repetitions", "32", "--subsample", "40"}) == 0);
  const nlohmann::json m = read_json(dir / "metrics.json");
  check_no_null(m);
  CHECK(m["schema"] == "nidim.eval_dm/1");
  for (const char* key :
       {"inputs", "options", "change_of_variables", "normality", "distances", "certificate",
        "classifiers", "clustering", "plots", "timing_seconds", "notes"})
    CHECK_MESSAGE(m.contains(key), key);
  CHECK(m["inputs"]["prior"] == "gaussian");
  CHECK(m["inputs"]["prior_source"] == "config.json");
  CHECK(m["inputs"]["train"]["rows"] == 300);
  CHECK(m["options"]["mode"] == "bootstrap");
  for (const char* set : {"train", "test"})
    for (const char* t : {"dagostino", "shapiro", "henze_zirkler", "mardia_skewness",
                          "mardia_kurtosis", "ks_fisher"}) {
      INFO(set << " " << t);
      const auto& s = m["normality"][set][t];
      REQUIRE(s.contains("mean_pvalue"));
      CHECK(num(s["mean_pvalue"]) > 0.0);
      CHECK(num(s["mean_pvalue"]) < 1.0);
      CHECK(s["repetitions_applicable"] == 32);
    }
  // C - I of the last complete epoch, 1.6 - 0.9.
  CHECK_CLOSE(num(m["certificate"]["kl_upper_bound"]), 0.7, 1e-12, 0.0);
  CHECK(m["certificate"]["epoch"] == 2);
  CHECK(num(m["distances"]["test"]["sliced_wasserstein2"]) > 0.0);
  const std::vector<std::string> plots = m["plots"].get<std::vector<std::string>>();
  for (const char* p : {"scatter_train.png", "scatter_test.png", "projections.png", "qq.png",
                        "marginals.png", "bootstrap_pvalues.png"}) {
    CHECK_MESSAGE(std::find(plots.begin(), plots.end(), p) != plots.end(), p);
    CHECK(fs::file_size(dir / p) > 1000);
  }
  CHECK(fs::exists(dir / "report.txt"));
  // Same seed, same numbers.
  REQUIRE(run({dir.path.string(), "--quiet", "--repetitions", "32", "--subsample", "40",
               "--no-plots", "--out", dir / "again"}) == 0);
  const nlohmann::json m2 = read_json(dir / "again/metrics.json");
  CHECK(m2["normality"] == m["normality"]);
  CHECK(m2["distances"] == m["distances"]);
  CHECK(m2["classifiers"] == m["classifiers"]);
  CHECK_FALSE(m["certificate"].contains("note"));
  // A negative MI estimate makes C - I exceed C: said in metrics.json and the report.
  nidim::write_file_atomic(dir / "log.jsonl",
                           "{\"epoch\": 1, \"mi_estimate\": -2.5, \"capacity\": 1.6}\n");
  REQUIRE(run({dir.path.string(), "--quiet", "--repetitions", "32", "--subsample", "40",
               "--no-plots", "--out", dir / "negative"}) == 0);
  const nlohmann::json c = read_json(dir / "negative/metrics.json")["certificate"];
  CHECK_CLOSE(num(c["kl_upper_bound"]), 4.1, 1e-12, 0.0);
  REQUIRE(c.contains("note"));
  CHECK(c["note"].get<std::string>().find("exceeds the capacity C") != std::string::npos);
  const std::vector<uint8_t> report = nidim::read_file(dir / "negative/report.txt");
  CHECK(std::string(report.begin(), report.end()).find("note: the MI estimate is negative") !=
        std::string::npos);
}

TEST_CASE("eval_dm: the authors' protocol averages the kept evaluations of the window") {
  // Evaluations kept after epochs 1-4 (4's files are the run's own, hard-linked, as train_dim
  // leaves them), a window of 3, every epoch: epochs 2, 3 and 4. Each number's mean and std must
  // be those of separate evaluations of the same files given loose; the certificate's those of
  // the log.
  TempDir dir;
  const std::vector<std::string> base = {
      "--quiet", "--no-plots", "--no-distances", "--repetitions", "16", "--subsample", "30"};
  // A kept file that cannot be evaluated: 10 rows where the labels have more.
  auto spoil = [](const std::string& path) {
    save_matrix(path, std::vector<double>(20, 0.5), 10, 2);
  };
  nidim::Generator g(9, 0);
  std::vector<int64_t> y_train(200), y_test(90);
  for (auto& v : y_train) v = static_cast<int64_t>(g.uniform_int(3));
  for (auto& v : y_test) v = static_cast<int64_t>(g.uniform_int(3));
  save_labels(dir / "labels_train.npy", y_train);
  save_labels(dir / "labels_test.npy", y_test);
  for (int e = 1; e <= 4; ++e) {  // class separation grows with the epoch
    fs::create_directories(dir / ("evaluations/epoch_" + std::to_string(e)));
    for (auto [name, y] : {std::pair<std::string, const std::vector<int64_t>*>{"train", &y_train},
                           {"test", &y_test}}) {
      const int64_t n = static_cast<int64_t>(y->size());
      std::vector<double> x(static_cast<size_t>(n * 2));
      for (int64_t i = 0; i < n; ++i)
        for (int c = 0; c < 2; ++c) x[i * 2 + c] = g.normal() + (c == 0 ? 0.4 * e * (*y)[i] : 0);
      save_matrix(dir / ("evaluations/epoch_" + std::to_string(e) + "/embeddings_" + name + ".npy"),
                  x, n, 2);
    }
  }
  for (const char* name : {"embeddings_train.npy", "embeddings_test.npy"})
    fs::create_hard_link(dir / (std::string("evaluations/epoch_4/") + name), dir / name);
  nidim::write_file_atomic(dir / "config.json", R"({"prior": "gaussian", "protocol_window": 3})");
  // Epoch 5 was trained but not evaluated, and the evaluation after epoch 4 was stopped before
  // its log line (its files were in place): the run's embeddings are epoch 4's, and so must be
  // the certificate.
  std::string log;
  const double mi[] = {0, 0.5, 0.8, 1.0, 1.1, 1.2};
  for (int e = 1; e <= 5; ++e) {
    log += fmt::format(R"({{"type": "epoch", "epoch": {}, "mi_estimate": {}, "capacity": 2.0}})", e,
                       mi[e]) +
           "\n";
    if (e <= 3) log += fmt::format(R"({{"type": "eval", "epoch": {}}})", e) + "\n";
  }
  nidim::write_file_atomic(dir / "log.jsonl", log);
  // Entries that are not kept evaluations are ignored.
  nidim::write_file_atomic(dir / "evaluations/tmp", "x");
  fs::create_directories(dir / "evaluations/epoch_x");
  std::vector<std::string> args = base;
  args.insert(args.begin(), dir.path.string());
  args.push_back("--protocol-every");
  args.push_back("1");
  REQUIRE(run(args) == 0);
  const nlohmann::json m = read_json(dir / "metrics.json");
  CHECK(m["certificate"]["epoch"] == 4);
  CHECK_CLOSE(num(m["certificate"]["kl_upper_bound"]), 2.0 - 1.1, 1e-12, 0.0);
  const nlohmann::json& p = m["protocol"];
  REQUIRE_MESSAGE(p.contains("metrics"), p.dump());
  CHECK(p["window_epochs"] == 3);
  CHECK(p["every_epochs"] == 1);
  CHECK(p["epochs"] == nlohmann::json::array({2, 3, 4}));
  // The certificate: C - I at epochs 2, 3, 4 = 1.2, 1.0, 0.9.
  const double kl_mean = (1.2 + 1.0 + 0.9) / 3;
  const double kl_std = std::sqrt(
      (std::pow(1.2 - kl_mean, 2) + std::pow(1.0 - kl_mean, 2) + std::pow(0.9 - kl_mean, 2)) / 3);
  CHECK_CLOSE(num(p["metrics"]["/certificate/kl_upper_bound"]["mean"]), kl_mean, 1e-12, 0.0);
  CHECK_CLOSE(num(p["metrics"]["/certificate/kl_upper_bound"]["std"]), kl_std, 1e-12, 0.0);
  {
    // A copy made without hard links (cp -r): the run's files are known by their bytes, so the
    // certificate is still epoch 4's and epoch 4 is not evaluated a second time.
    TempDir copy;
    fs::copy(dir.path, copy.path,
             fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    std::vector<std::string> copy_args = args;
    copy_args[0] = copy.path.string();
    REQUIRE(run(copy_args) == 0);
    const nlohmann::json mc = read_json(copy / "metrics.json");
    CHECK(mc["certificate"]["epoch"] == 4);
    CHECK(mc["protocol"]["epochs"] == nlohmann::json::array({2, 3, 4}));
    CHECK(mc["protocol"]["metrics"] == p["metrics"]);
    // The run's files with epoch 3's bytes (in a copy, from any kept evaluation), while the log
    // goes on to epoch 4's evaluation: the certificate follows the files, found by their bytes
    // among all the kept evaluations, not the log's last evaluation.
    for (const char* name : {"embeddings_train.npy", "embeddings_test.npy"})
      fs::copy_file(copy / (std::string("evaluations/epoch_3/") + name), copy / name,
                    fs::copy_options::overwrite_existing);
    std::ofstream(copy / "log.jsonl", std::ios::app) << R"({"type": "eval", "epoch": 4})"
                                                     << "\n";
    REQUIRE(run(copy_args) == 0);
    const nlohmann::json m3 = read_json(copy / "metrics.json");
    CHECK(m3["certificate"]["epoch"] == 3);
    CHECK_CLOSE(num(m3["certificate"]["kl_upper_bound"]), 2.0 - 1.0, 1e-12, 0.0);
    {  // files that match no kept evaluation (changed by hand): said so
      std::vector<uint8_t> bytes = nidim::read_file(copy / "embeddings_test.npy");
      bytes.back() ^= 1;
      nidim::write_file_atomic(copy / "embeddings_test.npy",
                               std::string(bytes.begin(), bytes.end()));
      REQUIRE(run(copy_args) == 0);
      CHECK(read_json(copy / "metrics.json")["notes"].dump().find(
                "are none of the evaluations kept in evaluations/") != std::string::npos);
      fs::copy_file(copy / "evaluations/epoch_3/embeddings_test.npy", copy / "embeddings_test.npy",
                    fs::copy_options::overwrite_existing);
    }
    // The one evaluation the window takes cannot be evaluated: said so, not "none is there".
    spoil(copy / "evaluations/epoch_4/embeddings_test.npy");
    std::vector<std::string> one = copy_args;
    one.push_back("--protocol-window");
    one.push_back("1");
    REQUIRE(run(one) == 0);
    const nlohmann::json p1 = read_json(copy / "metrics.json")["protocol"];
    check_na(p1,
             "none of the 1 kept evaluation at a multiple of 1 epochs or the newest in the last "
             "1 epochs could be evaluated");
    CHECK(p1["notes"].dump().find("epoch 4 skipped") != std::string::npos);
  }
  // Everything else: against the loose evaluations (keys are JSON pointers: some hold a '.').
  const std::vector<std::vector<std::string>> paths = {
      {"classifiers", "knn", "accuracy"},
      {"classifiers", "logistic_regression", "roc_auc_ovo"},
      {"normality", "test", "dagostino", "mean_pvalue"},
      {"normality", "test", "shapiro", "fraction_below_0.05"},
      {"normality", "train", "henze_zirkler", "mean_pvalue"},
      {"clustering", "silhouette"}};
  std::vector<std::vector<double>> values(paths.size());
  for (int e = 2; e <= 4; ++e) {
    const std::string kept = dir / ("evaluations/epoch_" + std::to_string(e));
    std::vector<std::string> loose = base;
    for (const std::string& a :
         {std::string("--train"), kept + "/embeddings_train.npy", std::string("--train-labels"),
          dir / "labels_train.npy", std::string("--test"), kept + "/embeddings_test.npy",
          std::string("--test-labels"), dir / "labels_test.npy", std::string("--out"),
          dir / ("loose_" + std::to_string(e))})
      loose.push_back(a);
    REQUIRE(run(loose) == 0);
    const nlohmann::json one = read_json(dir / ("loose_" + std::to_string(e) + "/metrics.json"));
    for (size_t k = 0; k < paths.size(); ++k) {
      nlohmann::json v = one;
      for (const std::string& key : paths[k]) v = v.at(key);
      values[k].push_back(num(v));
    }
  }
  for (size_t k = 0; k < paths.size(); ++k) {
    std::string path;
    for (const std::string& key : paths[k]) path += "/" + key;
    CAPTURE(path);
    double mean = 0, var = 0;
    for (double v : values[k]) mean += v / 3;
    for (double v : values[k]) var += (v - mean) * (v - mean) / 3;
    REQUIRE(p["metrics"].contains(path));
    CHECK_CLOSE(num(p["metrics"][path]["mean"]), mean, 1e-12, 1e-15);
    CHECK_CLOSE(num(p["metrics"][path]["std"]), std::sqrt(var), 1e-9, 1e-15);
  }
  CHECK(values[0].front() < values[0].back());  // the epochs differ: the mean is not one of them
  std::ifstream report(dir / "report.txt");
  const std::string text((std::istreambuf_iterator<char>(report)),
                         std::istreambuf_iterator<char>());
  CHECK(text.find("The authors' protocol: mean +- std over the 3 evaluations at multiples of 1 "
                  "epochs (and the newest) in the last 3 (epochs 2, 3, 4)") != std::string::npos);
  // Every 2 epochs: 2 and 4. By default (every 50) only the newest, 4: not applicable.
  args.back() = "2";
  REQUIRE(run(args) == 0);
  CHECK(read_json(dir / "metrics.json")["protocol"]["epochs"] == nlohmann::json::array({2, 4}));
  std::vector<std::string> plain = base;
  plain.insert(plain.begin(), dir.path.string());
  REQUIRE(run(plain) == 0);
  check_na(
      read_json(dir / "metrics.json")["protocol"],
      "only one of the kept evaluations is at a multiple of 50 epochs or the newest (epoch 4)");
  // A kept evaluation that cannot be evaluated (rows that do not match the labels) is skipped
  // with a note; the rest is reported.
  spoil(dir / "evaluations/epoch_3/embeddings_train.npy");
  args.back() = "1";
  REQUIRE(run(args) == 0);
  const nlohmann::json skipped = read_json(dir / "metrics.json")["protocol"];
  CHECK(skipped["epochs"] == nlohmann::json::array({2, 4}));
  CHECK(skipped["notes"].dump().find("epoch 3 skipped") != std::string::npos);
  // With epoch 2 skipped too, one of the three is left: not applicable, saying why, and the
  // notes go into the report as well.
  const std::vector<uint8_t> epoch2 =
      nidim::read_file(dir / "evaluations/epoch_2/embeddings_train.npy");
  spoil(dir / "evaluations/epoch_2/embeddings_train.npy");
  REQUIRE(run(args) == 0);
  const nlohmann::json one_left = read_json(dir / "metrics.json")["protocol"];
  check_na(one_left,
           "only one of the 3 kept evaluations at a multiple of 1 epochs or the newest "
           "in the last 3 epochs could be evaluated");
  CHECK(one_left["notes"].dump().find("epoch 2 skipped") != std::string::npos);
  const std::vector<uint8_t> report_text = nidim::read_file(dir / "report.txt");
  CHECK(std::string(report_text.begin(), report_text.end()).find("note: epoch 3 skipped") !=
        std::string::npos);
  nidim::write_file_atomic(dir / "evaluations/epoch_2/embeddings_train.npy",
                           std::string(epoch2.begin(), epoch2.end()));
  // The log lacks the embeddings' epoch: its certificate is not applicable (never another
  // epoch's), and the protocol leaves the certificate's numbers out, saying so.
  std::string short_log;
  for (int e = 1; e <= 3; ++e)
    short_log +=
        fmt::format(R"({{"type": "epoch", "epoch": {}, "mi_estimate": {}, "capacity": 2.0}})", e,
                    mi[e]) +
        "\n";
  nidim::write_file_atomic(dir / "log.jsonl", short_log);
  REQUIRE(run(args) == 0);
  const nlohmann::json no_line = read_json(dir / "metrics.json");
  check_na(no_line["certificate"], "no certificate line for epoch 4");
  CHECK(no_line["protocol"]["left_out"].dump().find("/certificate/kl_upper_bound") !=
        std::string::npos);
  CHECK_FALSE(no_line["protocol"]["metrics"].contains("/certificate/kl_upper_bound"));
  // The run's two files from different evaluations (a stop between train_dim's two links): noted.
  // A kept evaluation with one file only: skipped with a note.
  fs::remove(dir / "embeddings_test.npy");
  fs::create_hard_link(dir / "evaluations/epoch_2/embeddings_test.npy",
                       dir / "embeddings_test.npy");
  fs::remove(dir / "evaluations/epoch_1/embeddings_test.npy");
  args.back() = "1";
  args.push_back("--protocol-window");
  args.push_back("4");
  REQUIRE(run(args) == 0);
  const nlohmann::json mixed = read_json(dir / "metrics.json");
  CHECK(mixed["notes"].dump().find("embeddings_train.npy is epoch 4's and embeddings_test.npy "
                                   "epoch 2's") != std::string::npos);
  CHECK(mixed["protocol"]["notes"].dump().find("epoch 1 skipped") != std::string::npos);
  CHECK(mixed["protocol"]["epochs"] == nlohmann::json::array({2, 4}));
  args.resize(args.size() - 2);
  // 0 turns it off; with loose files it is an error.
  args.push_back("--protocol-window");
  args.push_back("0");
  REQUIRE(run(args) == 0);
  CHECK_FALSE(read_json(dir / "metrics.json").contains("protocol"));
  std::string error;
  try {
    run({"--train", dir / "embeddings_train.npy", "--protocol-window", "5", "--quiet"});
  } catch (const nidim::Error& e) {
    error = e.what();
  }
  CHECK(error.find("--protocol-window and --protocol-every go with a run directory") !=
        std::string::npos);
}

TEST_CASE("eval_dm: an evaluation that did not finish is noted") {
  // The checkpoint is after epoch 3, whose evaluation was due (every epoch), but the log has no
  // eval line for it: the run stopped during it. Nothing is kept, so the files cannot tell.
  TempDir dir;
  make_run(dir, 80, 80, 2);
  nidim::write_file_atomic(dir / "config.json",
                           R"({"prior": "gaussian", "eval_every": 1, "epochs": 5})");
  fs::create_directories(dir / "checkpoint");
  nidim::write_file_atomic(dir / "checkpoint/state.json", R"({"epoch": 3, "next_batch": 0})");
  std::string log;
  for (int e = 1; e <= 3; ++e) {
    log +=
        fmt::format(R"({{"type": "epoch", "epoch": {}, "mi_estimate": 0.5, "capacity": 1.0}})", e) +
        "\n";
    if (e <= 2) log += fmt::format(R"({{"type": "eval", "epoch": {}}})", e) + "\n";
  }
  nidim::write_file_atomic(dir / "log.jsonl", log);
  const std::vector<std::string> args = {dir.path.string(),
                                         "--quiet",
                                         "--no-plots",
                                         "--no-classifiers",
                                         "--no-distances",
                                         "--repetitions",
                                         "2",
                                         "--subsample",
                                         "20"};
  REQUIRE(run(args) == 0);
  const nlohmann::json m = read_json(dir / "metrics.json");
  CHECK(m["certificate"]["epoch"] == 2);
  CHECK(m["notes"].dump().find("the evaluation after epoch 3 did not finish") != std::string::npos);
  CHECK(m["notes"].dump().find("the certificate is epoch 2's") != std::string::npos);
  // Once it has its eval line, no note.
  nidim::write_file_atomic(dir / "log.jsonl", log + R"({"type": "eval", "epoch": 3})" + "\n");
  REQUIRE(run(args) == 0);
  CHECK(read_json(dir / "metrics.json")["notes"].dump().find("did not finish") ==
        std::string::npos);
}

TEST_CASE("eval_dm: a run that train_dim is still working in is noted") {
  TempDir dir;
  make_run(dir, 80, 80, 2);
  CHECK_FALSE(nidim::directory_in_use(dir.path.string()));
  {
    nidim::DirectoryLock training(dir.path.string());  // as train_dim holds it
    CHECK(nidim::directory_in_use(dir.path.string()));
    REQUIRE(run({dir.path.string(), "--quiet", "--no-plots", "--no-classifiers", "--no-distances",
                 "--repetitions", "2", "--subsample", "20"}) == 0);
    const nlohmann::json m = read_json(dir / "metrics.json");
    const std::string notes = m["notes"].dump();
    CHECK(notes.find("train_dim is still working in") != std::string::npos);
  }
  CHECK_FALSE(nidim::directory_in_use(dir.path.string()));  // released: .lock remains
}

TEST_CASE("eval_dm: bad input gives one clear error") {
  TempDir dir;
  make_run(dir, 50, 20, 3);
  auto err = [&](std::vector<std::string> args) -> std::string {
    try {
      run(std::move(args));
    } catch (const nidim::Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  const std::string tr = dir / "embeddings_train.npy", te = dir / "embeddings_test.npy";
  // NaN rows.
  std::vector<double> x(10 * 3, 0.5);
  for (int i = 0; i < 30; ++i) x[i] = std::sin(i);
  x[7 * 3 + 1] = NAN;
  x[8 * 3] = INFINITY;
  save_matrix(dir / "nan.npy", x, 10, 3);
  CHECK(err({"--train", dir / "nan.npy", "--quiet"}) ==
        dir / "nan.npy" +
            ": 2 of 10 rows contain NaN or Inf (first: row 7, column 1); pass --drop-nonfinite to "
            "evaluate without them");
  // Wrong dtype and shape.
  std::vector<int64_t> ints(12, 1);
  nidim::write_npy(dir / "int.npy", ints.data(), DType::i64, {4, 3});
  CHECK(err({"--train", dir / "int.npy"}) ==
        dir / "int.npy" + ": embeddings must be float32 or float64, got int64");
  nidim::write_npy(dir / "flat.npy", x.data(), DType::f64, {30});
  CHECK(err({"--train", dir / "flat.npy"}) ==
        dir / "flat.npy" + ": embeddings must be a 2-D array N x d, got shape [30]");
  // Labels that disagree in count or type.
  save_labels(dir / "short.npy", std::vector<int64_t>(49, 0));
  CHECK(err({"--train", tr, "--train-labels", dir / "short.npy"}) ==
        dir / "short.npy" + " has 49 labels but " + tr + " has 50 rows");
  nidim::write_npy(dir / "flabels.npy", x.data(), DType::f64, {30});
  CHECK(err({"--train", dir / "flat.npy", "--train-labels", dir / "flabels.npy"})
            .find("got shape [30]") != std::string::npos);
  save_matrix(dir / "d4.npy", std::vector<double>(20 * 4, 0.1), 20, 4);
  CHECK(err({"--train", tr, "--test", dir / "d4.npy"}) ==
        tr + " has d = 3 columns but " + dir / "d4.npy" + " has d = 4");
  // Uniform prior with values outside [0, 1]: the file, and the row and column of the first.
  const std::string outside = err({"--train", tr, "--prior", "uniform", "--quiet"});
  CHECK(outside.rfind(tr + " (train embeddings): prior uniform: ", 0) == 0);
  CHECK(outside.find("values are outside [0, 1] (first ") != std::string::npos);
  CHECK(outside.find(" at row ") != std::string::npos);
  // Values whose fourth powers overflow (float64): refused, naming where.
  std::vector<double> huge(10 * 3, 0.5);
  huge[4 * 3 + 2] = -3e75;
  save_matrix(dir / "huge.npy", huge, 10, 3);
  CHECK(err({"--train", dir / "huge.npy", "--quiet"}) ==
        dir / "huge.npy" +
            ": row 4, column 2 holds -3e+75: values beyond 1e+70 in magnitude overflow the "
            "statistics; rescale the embeddings");
  // With rows dropped, errors still name the file's row: row 5 holds NaN, row 7 is out of range.
  std::vector<double> unif(10 * 2, 0.25);
  unif[5 * 2] = NAN;
  unif[7 * 2 + 1] = 1.5;
  save_matrix(dir / "unif.npy", unif, 10, 2);
  CHECK(err({"--train", dir / "unif.npy", "--prior", "uniform", "--drop-nonfinite", "--quiet"}) ==
        dir / "unif.npy" +
            " (train embeddings): prior uniform: 1 values are outside [0, 1] (first 1.5 at row "
            "7, column 1); are the embeddings from a uniform normalization?");
  // A directory where a file should be.
  fs::create_directories(dir / "adir.npy");
  CHECK(err({"--train", dir / "adir.npy"}) ==
        dir / "adir.npy" + ": is a directory, expected a file");
  // Missing files and conflicting arguments.
  CHECK(err({"--train", dir / "nope.npy"}) == dir / "nope.npy" + ": train embeddings not found");
  TempDir empty;
  CHECK(err({empty.path.string()}) ==
        empty / "embeddings_train.npy" + ": train embeddings not found");
  CHECK(err({dir.path.string(), "--train", tr}) ==
        "give either a run directory or --train/--test files, not both");
  CHECK(err({}) == "nothing to evaluate: give a run directory or --train/--test (see --help)");
  nidim::write_file_atomic(dir / "log.jsonl", "{\"epoch\": 1}\nnot json\n{\"epoch\": 2}\n");
  CHECK(err({dir.path.string(), "--quiet"}).rfind(dir / "log.jsonl" + ":2: not valid JSON: ", 0) ==
        0);
  // A torn last line is skipped even when blank lines follow it.
  nidim::write_file_atomic(dir / "log.jsonl", "{\"epoch\": 1}\n{\"epoch\": 2, \"mi\n\n \n");
  CHECK(err({dir.path.string(), "--quiet", "--no-plots", "--no-classifiers", "--no-distances",
             "--repetitions", "2", "--subsample", "20", "--out", dir / "torn"}) == "(no error)");
  // config.json's prior must name a prior, unless --prior overrides it.
  nidim::write_file_atomic(dir / "config.json", "{\"prior\": 5}");
  CHECK(err({dir.path.string(), "--quiet"}) ==
        dir.path.string() +
            "/config.json: \"prior\" must be the name of a prior, got 5 (or give "
            "--prior)");
  CHECK(err({dir.path.string(), "--quiet", "--prior", "gaussian", "--no-plots", "--no-classifiers",
             "--no-distances", "--repetitions", "2", "--subsample", "20", "--out",
             dir / "override"}) == "(no error)");
}

TEST_CASE("eval_dm: a damaged run directory gives one line naming file, line and key") {
  // Each found by fuzzing: a crash (stack overflow), a wait forever, nlohmann's raw message, or
  // a wrong "no certificate" with exit status 0.
  TempDir dir;
  make_run(dir, 50, 20, 2);
  auto err = [&](const std::string& what) -> std::string {
    try {
      run({dir.path.string(), "--quiet", "--no-plots", "--no-classifiers", "--no-distances",
           "--repetitions", "2", "--subsample", "20", "--out", dir / "o"});
    } catch (const nidim::Error& e) {
      return e.what();
    }
    return "(no error: " + what + ")";
  };
  const std::string cfg = dir / "config.json", log = dir / "log.jsonl";
  nidim::write_file_atomic(cfg, "{\"prior\": " + nidim::test::nested_json_array(100000) + "}");
  CHECK(err("deep prior") == cfg + ": JSON nested deeper than 64 levels");
  nidim::write_file_atomic(cfg, "{\"prior\": " + nidim::test::nested_json_array(30) + "}");
  CHECK(err("nested prior") == cfg + ": \"prior\" must be the name of a prior, got " +
                                   std::string(30, '[') + "0" + std::string(9, ']') +
                                   "... (or give --prior)");
  std::filesystem::remove(cfg);
  nidim::write_file_atomic(log, std::string("{\"epoch\": 1}\n{\"type\": 1}\n"));
  CHECK(err("type 1") == log + ":2: \"type\" must be a string, got 1");
  nidim::write_file_atomic(log, std::string("{\"epoch\": \"one\"}\n"));
  CHECK(err("epoch one") == log + ":1: \"epoch\" must be an integer, got \"one\"");
  nidim::write_file_atomic(log, std::string("{\"capacity\": 1, \"mi_estimate\": \"x\"}\n"));
  CHECK(err("mi string") == log + ":1: \"mi_estimate\" must be a number, got \"x\"");
  nidim::write_file_atomic(log,
                           "{\"epoch\": " + nidim::test::nested_json_array(100000) + "}\n{}\n");
  CHECK(err("deep line") == log + ":1: JSON nested deeper than 64 levels");
  std::filesystem::remove(log);
  std::filesystem::create_directory(log);
  CHECK(err("log a directory") == log + ": is a directory, expected a file");
  std::filesystem::remove(log);
  {
    nidim::test::UnwrittenPipe pipe(log);
    CHECK(err("log a pipe").find(log + ": is not a regular file") == 0);
  }
  // Valid input is read as before: null where a number is not applicable.
  nidim::write_file_atomic(
      log, std::string("{\"type\": \"eval\", \"epoch\": 1, \"capacity\": null, "
                       "\"mi_estimate\": 0.5}\n{\"type\": \"eval\", \"epoch\": 2, "
                       "\"capacity\": 1.5, \"mi_estimate\": 0.5, \"kl_bound\": 1.0}\n"));
  const nidim::eval_dm::RunInfo info = nidim::eval_dm::read_run_info(dir.path.string());
  CHECK(info.has_certificate);
  CHECK(info.by_epoch.size() == 1);
  CHECK(info.certificate.capacity == 1.5);
  CHECK(info.certificate.kl_bound == 1.0);
}

TEST_CASE(
    "eval_dm: too few rows, a constant column and dropped rows are reported, not crashed on") {
  TempDir dir;
  // 6 rows x 2 columns, the second constant; one NaN row to drop.
  std::vector<double> x = {0.1, 1.0, -0.7, 1.0, 1.3, 1.0, 0.4, 1.0, -1.1, 1.0, 0.9, 1.0, NAN, 1.0};
  save_matrix(dir / "x.npy", x, 7, 2);
  REQUIRE(run({"--test", dir / "x.npy", "--exact", "--drop-nonfinite", "--quiet", "--out",
               dir / "o"}) == 0);
  nlohmann::json m = read_json(dir / "o/metrics.json");
  check_no_null(m);
  CHECK(m["inputs"]["test"]["dropped_nonfinite_rows"] == 1);
  CHECK(m["inputs"]["test"]["rows"] == 6);
  const auto& cols = m["normality"]["test"]["columns"];
  check_na(cols[0]["dagostino"], "needs at least 8 observations, got 6");
  CHECK(num(cols[0]["shapiro"]["pvalue"]) > 0.0);
  // scipy's values for constant input, with its warning as the note.
  CHECK(num(cols[1]["shapiro"]["statistic"]) == 1.0);
  CHECK(num(cols[1]["shapiro"]["pvalue"]) == 1.0);
  CHECK(cols[1]["shapiro"]["note"].get<std::string>().find("range zero") != std::string::npos);
  check_na(cols[1]["skewness"], "constant input");
  CHECK(m["normality"]["test"]["henze_zirkler"]["note"].get<std::string>().find("singular") !=
        std::string::npos);
  check_na(m["normality"]["test"]["mardia_skewness"], "singular");
  check_na(m["classifiers"], "needs both train and test embeddings");
  check_na(m["clustering"], "no labels given");
  check_na(m["certificate"], "no run directory");
  // The default (bootstrap) mode needs 64 rows.
  REQUIRE(run({"--test", dir / "x.npy", "--drop-nonfinite", "--quiet", "--out", dir / "b"}) == 0);
  m = read_json(dir / "b/metrics.json");
  check_no_null(m);
  check_na(m["normality"]["test"], "needs at least 64 rows for subsamples of 64, got 6");
}

// A run directory with features_{train,test}.npy (float32, F = 6) beside 2-d embeddings; labels
// of 3 classes that the features separate partly.
void make_features(const TempDir& dir, int64_t n_train, int64_t n_test, int64_t f,
                   std::vector<std::vector<double>>* feats, std::vector<std::vector<int64_t>>* ys) {
  make_run(dir, n_train, n_test, 2);
  nidim::Generator g(9, 0);
  for (auto [name, n] : {std::pair<std::string, int64_t>{"train", n_train}, {"test", n_test}}) {
    std::vector<float> x(static_cast<size_t>(n * f));
    std::vector<int32_t> y(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      y[i] = static_cast<int32_t>(g.uniform_int(3));
      for (int64_t c = 0; c < f; ++c)
        x[i * f + c] = static_cast<float>(g.normal() + (c == y[i] ? 1.5 : 0.0));
    }
    nidim::write_npy(dir / ("features_" + name + ".npy"), x.data(), DType::f32, {n, f});
    nidim::write_npy(dir / ("labels_" + name + ".npy"), y.data(), DType::i32, {n});
    feats->emplace_back(x.begin(), x.end());
    ys->emplace_back(y.begin(), y.end());
  }
}

TEST_CASE("eval_dm: --probe scores a run's features with the linear and kNN probes") {
  TempDir dir;
  std::vector<std::vector<double>> x;
  std::vector<std::vector<int64_t>> y;
  make_features(dir, 200, 80, 6, &x, &y);
  const std::vector<std::string> quick = {
      "--quiet",       "--no-plots", "--no-distances", "--no-classifiers",
      "--repetitions", "4",          "--subsample",    "20"};
  auto args = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), quick.begin(), quick.end());
    return extra;
  };
  REQUIRE(run(args({dir.path.string(), "--probe", "--probe-epochs", "7", "--probe-batch", "64",
                    "--knn-k", "15", "--seed", "4", "--out", dir / "o"})) == 0);
  const nlohmann::json m = read_json(dir / "o/metrics.json");
  check_no_null(m);
  REQUIRE(m.contains("probe"));
  const auto& p = m["probe"];
  CHECK(p["source"] == "features");
  CHECK(p["dim"] == 6);
  CHECK(p["classes"] == 3);
  CHECK(p["train"]["path"] == dir / "features_train.npy");
  CHECK(p["test"]["rows"] == 80);
  CHECK(m["timing_seconds"].contains("probe"));
  // The numbers are those of stats/probe.h on the same data (tested against PyTorch and numpy
  // in test_probe.cpp), with the flags' settings: --probe-seed defaults to --seed.
  nidim::stats::LinearProbeOptions lo;
  lo.epochs = 7;
  lo.batch_size = 64;
  lo.seed = 4;
  const nidim::stats::LinearProbeModel lm =
      nidim::stats::fit_linear_probe(x[0].data(), 200, 6, y[0].data(), 3, lo);
  const nidim::stats::TopKAccuracy la =
      nidim::stats::topk_accuracy(lm.logits(x[1].data(), 80).data(), 80, 3, y[1].data(), 5);
  const auto& lin = p["linear"];
  CHECK(num(lin["top1"]) == la.top1);
  CHECK(num(lin["top5"]) == 1.0);  // top-3 of 3 classes
  CHECK(lin["top_k"] == 3);
  CHECK(num(lin["train_top1"]) > 0.5);
  CHECK(lin["epochs"] == 7);
  CHECK(lin["batch_size"] == 64);
  CHECK(num(lin["lr"]) == 0.1 * 64 / 256);
  CHECK(lin["seed"] == 4);
  CHECK(lin["nesterov"] == true);
  nidim::stats::KnnProbeOptions ko;
  ko.k = 15;
  const nidim::stats::KnnProbeResult kr =
      nidim::stats::knn_probe(x[0].data(), 200, 6, y[0].data(), 3, x[1].data(), 80, ko);
  const nidim::stats::TopKAccuracy ka =
      nidim::stats::topk_accuracy(kr.scores.data(), 80, 3, y[1].data(), 5);
  CHECK(num(p["knn"]["top1"]) == ka.top1);
  CHECK(num(p["knn"]["top1"]) > 0.5);
  CHECK(p["knn"]["k"] == 15);
  CHECK(num(p["knn"]["temperature"]) == 0.07);
  const std::vector<uint8_t> report = nidim::read_file(dir / "o/report.txt");
  CHECK(std::string(report.begin(), report.end()).find("Probes on frozen features") !=
        std::string::npos);
  // Without the features files: the embeddings; one probe only.
  fs::remove(dir / "features_train.npy");
  fs::remove(dir / "features_test.npy");
  REQUIRE(run(args({dir.path.string(), "--probe", "--no-linear-probe", "--out", dir / "e"})) == 0);
  const nlohmann::json e = read_json(dir / "e/metrics.json");
  CHECK(e["probe"]["source"] == "embeddings");
  CHECK(e["probe"]["dim"] == 2);
  check_na(e["probe"]["linear"], "--no-linear-probe");
  CHECK(e["probe"]["knn"]["k"] == 200);
  CHECK(e["probe"]["knn"]["neighbors"] == 200);  // capped at the 200 train rows
  // Loose files: --train-features/--test-features with the labels.
  const std::string ytr = dir / "labels_train.npy", yte = dir / "labels_test.npy";
  nidim::write_npy(dir / "ftr.npy", x[0].data(), DType::f64, {200, 6});
  nidim::write_npy(dir / "fte.npy", x[1].data(), DType::f64, {80, 6});
  REQUIRE(run(args({"--train",
                    dir / "embeddings_train.npy",
                    "--test",
                    dir / "embeddings_test.npy",
                    "--train-labels",
                    ytr,
                    "--test-labels",
                    yte,
                    "--probe",
                    "--train-features",
                    dir / "ftr.npy",
                    "--test-features",
                    dir / "fte.npy",
                    "--probe-epochs",
                    "7",
                    "--probe-batch",
                    "64",
                    "--knn-k",
                    "15",
                    "--seed",
                    "4",
                    "--out",
                    dir / "l"})) == 0);
  const nlohmann::json l = read_json(dir / "l/metrics.json");
  CHECK(l["probe"]["source"] == "features");
  CHECK(l["probe"]["linear"]["top1"] == p["linear"]["top1"]);  // float32 -> float64 is exact
  CHECK(l["probe"]["knn"]["top1"] == p["knn"]["top1"]);
}

TEST_CASE("eval_dm: --probe refuses bad input with one clear error") {
  TempDir dir;
  std::vector<std::vector<double>> x;
  std::vector<std::vector<int64_t>> y;
  make_features(dir, 60, 30, 4, &x, &y);
  auto err = [&](std::vector<std::string> args) -> std::string {
    args.insert(args.end(), {"--quiet", "--no-plots", "--out", dir / "o"});
    try {
      run(std::move(args));
    } catch (const nidim::Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  const std::string run_dir = dir.path.string();
  const std::string ftr = dir / "features_train.npy", fte = dir / "features_test.npy";
  CHECK(err({run_dir, "--probe-epochs", "3"}) == "--probe-epochs goes with --probe");
  CHECK(err({run_dir, "--probe", "--no-linear-probe", "--no-knn-probe"}) ==
        "--probe with --no-linear-probe and --no-knn-probe: nothing to probe");
  CHECK(err({run_dir, "--probe", "--train-features", ftr}) ==
        "--train-features/--test-features go with --train/--test; a run directory has "
        "features_{train,test}.npy");
  CHECK(err({"--train", dir / "embeddings_train.npy", "--test", dir / "embeddings_test.npy",
             "--probe", "--train-features", ftr}) ==
        "--train-features and --test-features go together (got only --train-features)");
  CHECK(err({"--train", dir / "embeddings_train.npy", "--probe"}) ==
        "--probe needs train and test sets: --train and --test, or --train-features and "
        "--test-features");
  // Features and labels that disagree in rows; non-finite features; one class.
  std::vector<float> short_x(50 * 4, 0.5f);
  nidim::write_npy(ftr, short_x.data(), DType::f32, {50, 4});
  CHECK(err({run_dir, "--probe"}) ==
        dir / "labels_train.npy" + " has 60 labels but " + ftr + " has 50 rows");
  std::vector<float> bad_x(x[0].begin(), x[0].end());
  bad_x[5 * 4 + 2] = NAN;
  nidim::write_npy(ftr, bad_x.data(), DType::f32, {60, 4});
  CHECK(err({run_dir, "--probe"}) ==
        ftr +
            ": 1 of 60 rows contain NaN or Inf (first: row 5, column 2); pass --drop-nonfinite "
            "to evaluate without them");
  std::vector<float> good_x(x[0].begin(), x[0].end());
  nidim::write_npy(ftr, good_x.data(), DType::f32, {60, 4});
  std::vector<float> d3(30 * 3, 0.5f);
  nidim::write_npy(fte, d3.data(), DType::f32, {30, 3});
  CHECK(err({run_dir, "--probe"}) == ftr + " has d = 4 columns but " + fte + " has d = 3");
  fs::remove(fte);
  CHECK(err({run_dir, "--probe"}) ==
        "--probe: " + ftr + " exists but " + fte +
            " does not (the probes use both, or neither and then the embeddings)");
  fs::remove(ftr);
  std::vector<int64_t> ones(60, 7);
  save_labels(dir / "labels_train.npy", ones);
  CHECK(err({run_dir, "--probe"}) == "--probe: " + dir / "labels_train.npy" +
                                         " has 1 class (60 rows of label 7); the probes need at "
                                         "least 2");
  fs::remove(dir / "labels_test.npy");
  CHECK(err({run_dir, "--probe"}) ==
        "--probe needs test labels: " + dir / "labels_test.npy" + " not found");
  // Out-of-range numbers are refused by the flag parser (exit status 105 from CLI11).
  CHECK(run({run_dir, "--probe", "--knn-k", "0", "--quiet"}) != 0);
  CHECK(run({run_dir, "--probe", "--knn-temperature", "-1", "--quiet"}) != 0);
  CHECK(run({run_dir, "--probe", "--probe-lr", "nan", "--quiet"}) != 0);
}

TEST_CASE("eval_dm: sanitize_json replaces every non-finite number") {
  nlohmann::ordered_json j = {
      {"a", 1.0}, {"b", NAN}, {"c", {{"d", INFINITY}, {"e", {1.0, -INFINITY}}}}};
  CHECK(nidim::eval_dm::sanitize_json(j) == 3);
  CHECK(j["b"]["not_applicable"] == "not a finite number");
  CHECK(j["c"]["e"][1]["not_applicable"] == "not a finite number");
  CHECK(j["a"] == 1.0);
}

// ---- tools/common
// ---------------------------------------------------------------------------------

namespace {

struct Decoded {
  uint32_t w = 0, h = 0;
  std::vector<uint8_t> rgb;
};

// Decodes an 8-bit RGB PNG with libpng's simplified API (an independent reader).
Decoded decode_png(const std::string& bytes) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_memory(&img, bytes.data(), bytes.size()) != 0);
  img.format = PNG_FORMAT_RGB;
  Decoded d;
  d.w = img.width;
  d.h = img.height;
  d.rgb.resize(PNG_IMAGE_SIZE(img));
  REQUIRE(png_image_finish_read(&img, nullptr, d.rgb.data(), 0, nullptr) != 0);
  return d;
}

// Whether a file's bytes are an SVG document: the XML header and root element here, and where
// /usr/bin/python3 exists, xml.etree parses the file and finds an <svg> root.
void check_svg(const std::string& path) {
  const std::vector<uint8_t> b = nidim::read_file(path);
  const std::string text(b.begin(), b.end());
  CHECK_MESSAGE(text.rfind("<?xml", 0) == 0, path);
  CHECK_MESSAGE(text.find("<svg") != std::string::npos, path);
  CHECK_MESSAGE(text.find("</svg>") != std::string::npos, path);
  if (std::system("/usr/bin/python3 -c '' >/dev/null 2>&1") != 0) return;
  const std::string cmd =
      "/usr/bin/python3 -c \"import sys, xml.etree.ElementTree as E; "
      "sys.exit(E.parse(sys.argv[1]).getroot().tag != '{http://www.w3.org/2000/svg}svg')\" '" +
      path + "'";
  CHECK_MESSAGE(std::system(cmd.c_str()) == 0, "xml.etree: no <svg> root in " << path);
}

// A PDF file: "%PDF-" first and "%%EOF" last (before the final end of line).
void check_pdf(const std::string& path) {
  const std::vector<uint8_t> b = nidim::read_file(path);
  std::string text(b.begin(), b.end());
  CHECK_MESSAGE(text.rfind("%PDF-", 0) == 0, path);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  CHECK_MESSAGE(text.size() >= 5, path);
  CHECK_MESSAGE(text.substr(text.size() - 5) == "%%EOF", path);
}

// A PNG file: its signature, and that libpng decodes it to the expected size.
void check_png(const std::string& path, uint32_t w, uint32_t h) {
  const std::vector<uint8_t> b = nidim::read_file(path);
  const std::string bytes(b.begin(), b.end());
  CHECK_MESSAGE(bytes.rfind("\x89PNG\r\n\x1a\n", 0) == 0, path);
  const Decoded d = decode_png(bytes);
  CHECK_MESSAGE(d.w == w, path);
  CHECK_MESSAGE(d.h == h, path);
}

}  // namespace

TEST_CASE("plot: a figure's PNG has the frame, ticks and a rotated, anti-aliased y label") {
  using namespace nidim::tools;
  // A 200 x 150 pt figure: a PNG of 400 x 300 pixels (kPngScale 2).
  Figure fig(200, 150);
  const double left = 60, top = 20, w = 120, h = 100;
  Axes ax = fig.axes(left, top, w, h);
  ax.set_limits(0, 1, 0, 1);
  ax.decorate("", "", "density", false);
  const Decoded d = decode_png(fig.encode(PlotFormat::kPng));
  REQUIRE(d.w == 400);
  REQUIRE(d.h == 300);
  auto grey = [&](int x, int y) {
    const uint8_t* p = &d.rgb[(static_cast<size_t>(y) * d.w + x) * 3];
    return (p[0] + p[1] + p[2]) / 3;
  };
  const int s = static_cast<int>(kPngScale);
  // The frame's left and top edges are dark; inside it (no grid, no data) is white.
  CHECK(grey(static_cast<int>(left) * s, static_cast<int>(top + 0.37 * h) * s) < 100);
  CHECK(grey(static_cast<int>(left + 0.37 * w) * s, static_cast<int>(top) * s) < 100);
  CHECK(grey(static_cast<int>(left + 0.37 * w) * s, static_cast<int>(top + 0.37 * h) * s) == 255);
  // A tick below the frame at x = 0.4.
  CHECK(grey(static_cast<int>(std::lround(ax.px(0.4) * s)), static_cast<int>(top + h + 2) * s) <
        100);
  // The y label lies left of the tick labels ("0.0" ... "1.0"): the box of its non-white pixels
  // is as tall as the text is wide, centred on the frame, and narrower than it is tall.
  const double band = left - 6 - fig.text_width("0.0", Axes::kTickSize) - 1;
  int x0 = d.w, x1 = -1, y0 = d.h, y1 = -1, partial = 0;
  for (int y = 0; y < static_cast<int>(d.h); ++y)
    for (int x = 0; x < band * s; ++x) {
      const int g = grey(x, y);
      if (g == 255) continue;
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
      if (g > 40 && g < 215) ++partial;
    }
  REQUIRE(x1 >= 0);
  const double label_w = fig.text_width("density", Axes::kLabelSize) * s;
  CHECK(std::abs((y1 - y0 + 1) - label_w) < 4);
  CHECK(std::abs((y0 + y1) / 2.0 - (top + h / 2) * s) < 3);
  CHECK((x1 - x0 + 1) < 0.4 * (y1 - y0 + 1));
  CHECK(partial > 20);  // anti-aliased edges: grey levels between ink and paper
}

TEST_CASE("plot: log axes space decades evenly") {
  using namespace nidim::tools;
  Figure fig(300, 200);
  Axes ax = fig.axes(50, 20, 200, 150);
  ax.set_limits(1e-3, 10, 0.5, 50, true, true);
  CHECK(ax.px(1e-3) == doctest::Approx(50));
  CHECK(ax.px(10) == doctest::Approx(250));
  for (double v : {1e-3, 1e-2, 1e-1}) CHECK(ax.px(v * 10) - ax.px(v) == doctest::Approx(50));
  CHECK(ax.px(std::sqrt(10.0) * 1e-2) == doctest::Approx(125));  // 1.5 decades from 1e-3
  // y grows upwards: 0.5 at the bottom, 50 at the top, 5 halfway.
  CHECK(ax.py(0.5) == doctest::Approx(170));
  CHECK(ax.py(50) == doctest::Approx(20));
  CHECK(ax.py(5) == doctest::Approx(95));
  CHECK(std::isnan(ax.px(0.0)));
  CHECK(std::isnan(ax.px(-1.0)));
  // A linear axis beside it is unchanged.
  ax.set_limits(-1, 1, 0, 1);
  CHECK(ax.px(0) == doctest::Approx(150));
  CHECK_THROWS_WITH_AS(ax.set_limits(0, 1, 1, 2, true, false),
                       "axes: a log scale needs limits > 0, got x from 0 and y from 1",
                       nidim::Error);
  // Drawing over a log axis (points <= 0 skipped, the reference line labelled) writes every format.
  ax.set_limits(1e-3, 10, 0.5, 50, true, true);
  ax.decorate("log-log", "sigma", "KL");
  ax.curve({0.0, 1e-3, 1e-2, 1e-1, 1.0, 10.0}, {1, 2, 4, 8, 16, 32}, palette(0));
  ax.hline(3.0, kBlack, true, "reference");
  for (PlotFormat f : {PlotFormat::kPng, PlotFormat::kSvg, PlotFormat::kPdf})
    CHECK(fig.encode(f).size() > 1000);
}

TEST_CASE("plot: a horizontal reference line spans the axes, dashed") {
  using namespace nidim::tools;
  Figure fig(200, 150);
  Axes ax = fig.axes(20, 20, 160, 110);
  ax.set_limits(0, 1, 0, 2);
  ax.hline(1.0, kBlack, true);
  const Decoded d = decode_png(fig.encode(PlotFormat::kPng));
  const int s = static_cast<int>(kPngScale), row = static_cast<int>(std::lround(ax.py(1.0) * s));
  int dark = 0, light = 0;
  for (int x = 22 * s; x < 178 * s; ++x) {
    const uint8_t v = d.rgb[(static_cast<size_t>(row) * d.w + x) * 3];
    if (v < 100) ++dark;
    if (v == 255) ++light;
  }
  CHECK(dark > 100);  // dashes of 4 pt with gaps of 2.5 pt: about 60% ink
  CHECK(light > 50);
  CHECK(d.rgb[(static_cast<size_t>(row - 4 * s) * d.w + 100 * s) * 3] == 255);
}

TEST_CASE("plot: --plot-format writes every figure in each format") {
  TempDir dir;
  make_run(dir, 200, 80, 2);
  REQUIRE(run({dir.path.string(), "--quiet", "--repetitions", "8", "--subsample", "30",
               "--no-distances", "--no-classifiers", "--plot-format", "svg,png,pdf"}) == 0);
  const std::vector<std::string> plots =
      read_json(dir / "metrics.json")["plots"].get<std::vector<std::string>>();
  CHECK(plots.size() == 6 * 3);
  for (const char* stem :
       {"scatter_train", "scatter_test", "projections", "qq", "marginals", "bootstrap_pvalues"}) {
    for (const char* ext : {"png", "svg", "pdf"}) {
      const std::string name = fmt::format("{}.{}", stem, ext);
      CHECK_MESSAGE(std::find(plots.begin(), plots.end(), name) != plots.end(), name);
    }
    check_svg(dir / (std::string(stem) + ".svg"));
    check_pdf(dir / (std::string(stem) + ".pdf"));
  }
  check_png(dir / "scatter_train.png", 1000, 940);
  check_png(dir / "projections.png", 1400, 1100);
  // The default is PNG alone.
  REQUIRE(run({dir.path.string(), "--quiet", "--repetitions", "8", "--subsample", "30",
               "--no-distances", "--no-classifiers", "--out", dir / "default"}) == 0);
  for (const auto& p : read_json(dir / "default/metrics.json")["plots"])
    CHECK(p.get<std::string>().substr(p.get<std::string>().size() - 4) == ".png");
  CHECK_FALSE(fs::exists(dir / "default/qq.svg"));
}

TEST_CASE("plot: a bad --plot-format gives one line naming the flag") {
  TempDir dir;
  make_run(dir, 50, 20, 2);
  auto err = [&](std::vector<std::string> args) -> std::string {
    args.insert(args.begin(), {dir.path.string(), "--quiet", "--no-distances", "--no-classifiers",
                               "--out", dir / "o"});
    try {
      run(std::move(args));
    } catch (const nidim::Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  CHECK(err({"--plot-format", "png,gif"}) ==
        "--plot-format png,gif: unknown format 'gif' (a comma-separated list of png, svg, pdf)");
  CHECK(err({"--plot-format", "png,"}) ==
        "--plot-format png,: unknown format '' (a comma-separated list of png, svg, pdf)");
  CHECK(err({"--plot-format", "PNG"}) ==
        "--plot-format PNG: unknown format 'PNG' (a comma-separated list of png, svg, pdf)");
  CHECK(err({"--no-plots", "--plot-format", "svg"}) ==
        "--plot-format goes with plots; --no-plots writes none");
  CHECK_FALSE(fs::exists(dir / "o/metrics.json"));  // refused before any work
  using nidim::tools::PlotFormat;
  CHECK(nidim::tools::parse_plot_formats("pdf,png,pdf") ==
        std::vector<PlotFormat>{PlotFormat::kPdf, PlotFormat::kPng});
}

TEST_CASE("plot: ticks and labels") {
  using namespace nidim::tools;
  CHECK(nice_ticks(0.0, 1.0, 5) == std::vector<double>{0.0, 0.2, 0.4, 0.6, 0.8, 1.0});
  CHECK(nice_ticks(-3.2, 3.2, 5) == std::vector<double>{-2.0, 0.0, 2.0});
  CHECK(nice_ticks(0.0, 0.7, 7) == std::vector<double>{0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7});
  CHECK(tick_label(0.25, 0.25) == "0.25");
  CHECK(tick_label(2.0, 1.0) == "2");
  CHECK(tick_label(0.4, 0.2) == "0.4");
  CHECK(tick_label(250000.0, 50000.0) == "2.5e+05");
  const std::vector<double> h = histogram_counts({0.1, 0.2, 0.6, 1.0, 2.0}, 0.0, 1.0, 2, true);
  // 4 of 5 values in range; bins of width 0.5: [0, 0.5) has 2, [0.5, 1] has 2; density = count / (5
  // * 0.5).
  CHECK(h == std::vector<double>{0.8, 0.8});
}
