// nidim/tools/eval_dm/cli.cpp: see cli.h.
#include "tools/eval_dm/cli.h"

#include "core/parallel.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "core/error.h"
#include "core/io.h"
#include "tools/common/flags.h"
#include "tools/eval_dm/eval.h"
#include "tools/eval_dm/inputs.h"

namespace nidim::eval_dm {

namespace {

void add_seconds(nlohmann::ordered_json& timing, const char* key, double seconds) {
  const double total = timing["total"].get<double>() + seconds;
  timing.erase("total");  // stays the last key
  timing[key] = seconds;
  timing["total"] = total;
}

// The authors' protocol (METHOD.md §6) over the evaluations train_dim kept: each is evaluated as
// the run directory's own files were (the same options, no plots); one whose files are those
// files (hard links) reuses that evaluation. Returns metrics.json's "protocol".
nlohmann::ordered_json protocol(const std::string& run_dir, const RunInfo& info, int64_t window,
                                bool drop, const EvalOptions& opt, Evaluation& ev) {
  namespace fs = std::filesystem;
  const std::vector<KeptEvaluation> all = kept_evaluations(run_dir);
  auto not_applicable = [&](const std::string& why) {
    ev.report += fmt::format(
        "\nThe authors' protocol (mean +- std over the last {} epochs): n/a ({})\n", window, why);
    return nlohmann::ordered_json{{"not_applicable", why}};
  };
  if (all.empty())
    return not_applicable(
        "no evaluations kept in evaluations/ (train_dim --protocol-window; runs made before it "
        "keep none)");
  std::vector<KeptEvaluation> kept;
  for (const KeptEvaluation& k : all)
    if (k.epoch > all.back().epoch - window) kept.push_back(k);
  if (kept.size() < 2)
    return not_applicable(fmt::format(
        "one evaluation in the last {} epochs (epoch {}); the mean +- std needs two or more",
        window, kept.back().epoch));
  std::vector<int64_t> epochs;
  std::vector<nlohmann::ordered_json> documents;
  EvalOptions each = opt;
  each.plots = false;
  for (const KeptEvaluation& k : kept) {
    std::error_code ec;
    const bool same =
        fs::equivalent(run_dir + "/embeddings_train.npy", k.dir + "/embeddings_train.npy", ec) &&
        fs::equivalent(run_dir + "/embeddings_test.npy", k.dir + "/embeddings_test.npy", ec);
    epochs.push_back(k.epoch);
    if (same && !ec) {
      documents.push_back(ev.metrics);
      continue;
    }
    if (opt.progress)
      std::fprintf(stderr, "eval_dm: the evaluation after epoch %lld\n",
                   static_cast<long long>(k.epoch));
    const EmbeddingSet train = load_embedding_set("train", k.dir + "/embeddings_train.npy",
                                                  run_dir + "/labels_train.npy", true, drop);
    const EmbeddingSet test = load_embedding_set("test", k.dir + "/embeddings_test.npy",
                                                 run_dir + "/labels_test.npy", true, drop);
    check_compatible(train, test);
    documents.push_back(evaluate(&train, &test, info.at_epoch(k.epoch), each).metrics);
  }
  return summarize_protocol(epochs, documents, window, ev.report);
}

}  // namespace

int eval_dm_main(int argc, char** argv) {
  CLI::App app{
      "eval_dm: how well embeddings match their prior (normality tests, distances, KL "
      "certificate) and how useful they are (classifiers, clustering). Give a run directory "
      "written by train_dim, or .npy files. Writes metrics.json (docs/METRICS.md), report.txt "
      "and PNG plots into --out."};
  std::string run_dir, train_path, test_path, train_labels, test_labels, prior_flag, out_dir;
  EvalOptions opt;
  bool no_distances = false, no_classifiers = false, no_plots = false, quiet = false, drop = false;
  int threads = 0;
  app.add_option("run_dir", run_dir,
                 "run directory of train_dim (embeddings_{train,test}.npy, labels_*.npy, "
                 "config.json, log.jsonl)");
  app.add_option("--train", train_path, "train embeddings, .npy N x d float32/float64");
  app.add_option("--test", test_path, "test embeddings, .npy N x d float32/float64");
  app.add_option("--train-labels", train_labels,
                 "train labels, .npy int32/int64/uint8 of length N");
  app.add_option("--test-labels", test_labels, "test labels, .npy int32/int64/uint8 of length N");
  app.add_option("--prior", prior_flag,
                 "target distribution (default: config.json's \"prior\", else gaussian)")
      ->check(CLI::IsMember({"gaussian", "uniform", "laplace", "logistic"}));
  app.add_option("--out", out_dir, "output folder (default: the run directory, or ./eval_dm_out)");
  app.add_flag("--exact", opt.exact,
               "run each test once on all rows per column (and Henze-Zirkler / Mardia on all rows) "
               "instead of the bootstrap on random projections");
  app.add_option("--repetitions", opt.repetitions, "bootstrap repetitions B")
      ->check(CLI::Range(1, 100000000));
  app.add_option("--subsample", opt.subsample, "rows per bootstrap repetition M")
      ->check(CLI::Range(3, 100000000));
  app.add_option("--seed", opt.seed, "seed of every random choice (Philox streams)")
      ->check(tools::seed_value());
  app.add_option("--distance-rows", opt.distance_rows,
                 "rows used for MMD and energy distance (O(n^2))")
      ->check(CLI::Range(2, 1000000000));
  app.add_option("--directions", opt.directions, "directions of the sliced Wasserstein distance")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--neighbors", opt.neighbors, "k of the k-nearest-neighbour classifier")
      ->check(CLI::Range(1, 100000));
  app.add_option("--mlp-max-iter", opt.mlp_max_iter, "MLP epochs at most")
      ->check(CLI::Range(1, 1000000));
  app.add_flag("--no-distances", no_distances, "skip the distances to the prior");
  app.add_flag("--no-classifiers", no_classifiers, "skip classifiers and clustering scores");
  app.add_flag("--no-plots", no_plots, "write no PNG files");
  app.add_flag("--drop-nonfinite", drop,
               "drop rows with NaN or Inf (with their labels) instead of failing");
  app.add_option("--threads", threads, "threads (default: all cores)")->check(CLI::Range(1, 4096));
  app.add_flag("--quiet", quiet, "no progress lines on stderr");
  int64_t window = -1;
  app.add_option("--protocol-window", window,
                 "run directory: also evaluate the embeddings train_dim kept in "
                 "evaluations/epoch_E/ for the last N epochs and report each number's mean +- std "
                 "(the authors' protocol; default: config.json's protocol_window, else 101; 0: "
                 "off)")
      ->check(CLI::Range(int64_t{0}, int64_t{1000000000}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  const bool loose = !train_path.empty() || !test_path.empty();
  NIDIM_CHECK(!(loose && !run_dir.empty()),
              "give either a run directory or --train/--test files, not both");
  NIDIM_CHECK(loose || !run_dir.empty(),
              "nothing to evaluate: give a run directory or --train/--test (see --help)");
  NIDIM_CHECK(
      loose || (train_labels.empty() && test_labels.empty()),
      "--train-labels/--test-labels go with --train/--test; a run directory has labels_*.npy");
  if (!run_dir.empty()) {
    NIDIM_CHECK(std::filesystem::is_directory(run_dir), "{}: not a directory", run_dir);
  }
  if (threads > 0) set_num_threads(threads);
  opt.threads = threads;
  opt.distances = !no_distances;
  opt.classifiers = !no_classifiers;
  opt.plots = !no_plots;
  opt.progress = !quiet;

  // A run still training: its files are those of its latest evaluation, and may change.
  const bool live = !run_dir.empty() && directory_in_use(run_dir);
  const std::string live_note = fmt::format(
      "train_dim is still working in {}: these are the embeddings of its latest "
      "evaluation, and they may change",
      run_dir);
  if (live) std::fprintf(stderr, "eval_dm: note: %s\n", live_note.c_str());

  // Inputs.
  const RunInfo info = read_run_info(run_dir);
  std::unique_ptr<EmbeddingSet> train, test;
  if (!run_dir.empty()) {
    train = std::make_unique<EmbeddingSet>(load_embedding_set(
        "train", run_dir + "/embeddings_train.npy", run_dir + "/labels_train.npy", true, drop));
    test = std::make_unique<EmbeddingSet>(load_embedding_set(
        "test", run_dir + "/embeddings_test.npy", run_dir + "/labels_test.npy", true, drop));
  } else {
    NIDIM_CHECK(train_labels.empty() || !train_path.empty(), "--train-labels needs --train");
    NIDIM_CHECK(test_labels.empty() || !test_path.empty(), "--test-labels needs --test");
    if (!train_path.empty())
      train = std::make_unique<EmbeddingSet>(
          load_embedding_set("train", train_path, train_labels, false, drop));
    if (!test_path.empty())
      test = std::make_unique<EmbeddingSet>(
          load_embedding_set("test", test_path, test_labels, false, drop));
  }
  if (train && test) check_compatible(*train, *test);

  // The prior: the flag, else config.json, else gaussian.
  const std::string from_config = config_prior(info, !prior_flag.empty());
  std::string prior_name = "gaussian";
  opt.prior_source = "default";
  if (!prior_flag.empty()) {
    prior_name = prior_flag;
    opt.prior_source = "--prior";
  } else if (!from_config.empty()) {
    prior_name = from_config;
    opt.prior_source = "config.json";
  }
  try {
    opt.prior = stats::parse_prior(prior_name);
  } catch (const nidim::Error& e) {
    NIDIM_FAIL("{}/config.json: {}", run_dir, e.what());  // the flag was checked by CLI11
  }
  if (!prior_flag.empty() && !from_config.empty() && prior_flag != from_config)
    std::fprintf(stderr, "eval_dm: note: --prior %s overrides config.json's \"prior\": \"%s\"\n",
                 prior_flag.c_str(), from_config.c_str());

  if (out_dir.empty()) out_dir = run_dir.empty() ? "eval_dm_out" : run_dir;
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  NIDIM_CHECK(!ec && std::filesystem::is_directory(out_dir),
              "{}: cannot create the output folder: {}", out_dir, ec.message());
  opt.out_dir = out_dir;

  Evaluation ev = evaluate(train.get(), test.get(), info, opt);
  if (!run_dir.empty()) {
    if (window < 0)
      window = info.config.is_object() ? info.config.value("protocol_window", 101) : 101;
    if (window > 0) {
      const auto t0 = std::chrono::steady_clock::now();
      ev.metrics["protocol"] = protocol(run_dir, info, window, drop, opt, ev);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      add_seconds(ev.metrics["timing_seconds"], "protocol", seconds);
    }
  }
  if (live) ev.metrics["notes"].push_back(live_note);
  if (!prior_flag.empty() && !from_config.empty() && prior_flag != from_config)
    ev.metrics["notes"].push_back(
        fmt::format("--prior {} overrides config.json's prior {}", prior_flag, from_config));
  write_file_atomic(out_dir + "/metrics.json", ev.metrics.dump(2) + "\n");
  write_file_atomic(out_dir + "/report.txt", ev.report);
  std::fputs(ev.report.c_str(), stdout);
  std::printf("\nWrote %s/metrics.json, report.txt and %zu plots in %.1f s\n", out_dir.c_str(),
              ev.plots.size(), ev.metrics["timing_seconds"]["total"].get<double>());
  return 0;
}

}  // namespace nidim::eval_dm
