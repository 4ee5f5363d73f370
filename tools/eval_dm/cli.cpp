// nidim/tools/eval_dm/cli.cpp: see cli.h.
#include "tools/eval_dm/cli.h"

#include "core/parallel.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "core/error.h"
#include "core/io.h"
#include "core/json.h"
#include "tools/common/flags.h"
#include "tools/eval_dm/eval.h"
#include "tools/eval_dm/inputs.h"
#include "tools/eval_dm/probe.h"

namespace nidim::eval_dm {

namespace {

void add_seconds(nlohmann::ordered_json& timing, const char* key, double seconds) {
  const double total = timing["total"].get<double>() + seconds;
  timing.erase("total");  // stays the last key
  timing[key] = seconds;
  timing["total"] = total;
}

// Whether two files have the same bytes; reads both in chunks, up to the first difference.
bool same_bytes(const std::string& a, const std::string& b) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(a, ec);
  if (ec || std::filesystem::file_size(b, ec) != size || ec) return false;
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  std::vector<char> ba(size_t(1) << 20), bb(ba.size());
  while (fa && fb) {
    fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
    fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
    if (fa.gcount() != fb.gcount() || !std::equal(ba.begin(), ba.begin() + fa.gcount(), bb.begin()))
      return false;
  }
  return fa.eof() && fb.eof();
}

// The kept evaluation whose files the run's own embeddings are (train_dim links them; a copy of
// the run made without links is known by its bytes): its epoch, or -1 with a note when the two
// files are of different kept evaluations (a stop between train_dim's two links), only one of
// them is a kept evaluation's, or neither is.
struct FilesEpoch {
  int64_t epoch = -1;
  std::string note;
};
FilesEpoch epoch_of_files(const std::string& run_dir, const std::vector<KeptEvaluation>& kept,
                          const EmbeddingSet& train, const EmbeddingSet& test) {
  int64_t train_epoch = -1, test_epoch = -1;
  for (const KeptEvaluation& k : kept) {
    if (train.file.known() && file_id(k.dir + "/embeddings_train.npy") == train.file)
      train_epoch = k.epoch;
    if (test.file.known() && file_id(k.dir + "/embeddings_test.npy") == test.file)
      test_epoch = k.epoch;
  }
  // A copy of the run directory made without hard links (cp -r): the run's files have the bytes
  // of a complete kept evaluation's (the newest, unless the run stopped between writing one and
  // linking it). Compared newest first, in chunks, each stopping at its first difference; the
  // files compared must be the ones read (the same identity before and after).
  const std::string run_train = run_dir + "/embeddings_train.npy",
                    run_test = run_dir + "/embeddings_test.npy";
  if (train_epoch < 0 && test_epoch < 0 && train.file.known() && test.file.known()) {
    bool any = false;
    for (auto k = kept.rbegin(); k != kept.rend(); ++k) {
      if (!k->complete) continue;
      any = true;
      if (same_bytes(run_train, k->dir + "/embeddings_train.npy") &&
          same_bytes(run_test, k->dir + "/embeddings_test.npy") &&
          file_id(run_train) == train.file && file_id(run_test) == test.file)
        return {k->epoch, ""};
    }
    // Files changed by hand, or a run stopped between writing the first evaluation its window
    // keeps and linking it (the files are then the previous evaluation's, which was not kept).
    if (any)
      return {-1, fmt::format("{}/embeddings_{{train,test}}.npy are none of the evaluations kept "
                              "in evaluations/ (by file or by bytes): their epoch is unknown, "
                              "and the certificate is the log's last evaluation's",
                              run_dir)};
  }
  if (train_epoch == test_epoch) return {train_epoch, ""};
  auto which = [](int64_t e) {
    return e < 0 ? std::string("no kept evaluation") : fmt::format("epoch {}", e);
  };
  return {-1, fmt::format("{}/embeddings_train.npy is {}'s and embeddings_test.npy {}'s: the run "
                          "stopped while it replaced them (train_dim --resume redoes that "
                          "evaluation), or they were replaced while being read",
                          run_dir, which(train_epoch), which(test_epoch))};
}

struct ProtocolOptions {
  int64_t window = 101, every = 50;
  bool drop = false;
};

// The authors' protocol (METHOD.md §6) over the evaluations train_dim kept: those at multiples
// of `every` epochs, and the newest, in the last `window` epochs, each evaluated as the run's own
// files were (the same options, no plots); the one that is the run's own files (files_epoch)
// reuses that evaluation. One that cannot be evaluated is skipped with a note. Returns
// metrics.json's "protocol".
nlohmann::ordered_json protocol(const std::string& run_dir, const RunInfo& info,
                                const std::vector<KeptEvaluation>& all, int64_t files_epoch,
                                const ProtocolOptions& po, const EvalOptions& opt,
                                const EmbeddingSet& main_test, Evaluation& ev) {
  std::vector<std::string> notes;
  auto not_applicable = [&](const std::string& why) {
    ev.report +=
        fmt::format("\nThe authors' protocol (mean +- std over the last {} epochs): n/a ({})\n",
                    po.window, why);
    for (const std::string& n : notes) ev.report += "  note: " + n + "\n";
    nlohmann::ordered_json j{{"not_applicable", why}};
    if (!notes.empty()) j["notes"] = notes;
    return j;
  };
  if (all.empty())
    return not_applicable(
        "no evaluations kept in evaluations/ (train_dim --protocol-window; runs made before it "
        "keep none)");
  int64_t newest = -1;  // the newest complete one
  for (const KeptEvaluation& k : all)
    if (k.complete) newest = k.epoch;
  if (newest < 0)
    return not_applicable("every evaluation kept in evaluations/ lacks one of its two files");
  std::vector<int64_t> epochs;
  std::vector<nlohmann::ordered_json> documents;
  EvalOptions each = opt;
  each.plots = false;
  auto skip = [&](int64_t epoch, const std::string& why) {
    notes.push_back(fmt::format("epoch {} skipped: {}", epoch, why));
    std::fprintf(stderr, "eval_dm: note: the protocol skips epoch %lld: %s\n",
                 static_cast<long long>(epoch), why.c_str());
  };
  int64_t chosen = 0;  // on the grid, in the window
  for (const KeptEvaluation& k : all) {
    if (k.epoch <= newest - po.window || (k.epoch % po.every != 0 && k.epoch != newest)) continue;
    ++chosen;
    if (!k.complete) {
      skip(k.epoch,
           fmt::format("{} holds only one of embeddings_train.npy and embeddings_test.npy (an "
                       "evaluation that was stopped; train_dim --resume redoes it)",
                       k.dir));
      continue;
    }
    if (k.epoch == files_epoch) {
      epochs.push_back(k.epoch);
      documents.push_back(ev.metrics);
      continue;
    }
    if (opt.progress)
      std::fprintf(stderr, "eval_dm: the evaluation after epoch %lld\n",
                   static_cast<long long>(k.epoch));
    try {
      const EmbeddingSet train = load_embedding_set("train", k.dir + "/embeddings_train.npy",
                                                    run_dir + "/labels_train.npy", true, po.drop);
      const EmbeddingSet test = load_embedding_set("test", k.dir + "/embeddings_test.npy",
                                                   run_dir + "/labels_test.npy", true, po.drop);
      check_compatible(train, test);
      NIDIM_CHECK(test.d == main_test.d, "{} has d = {} but the run's embeddings have d = {}",
                  test.path, test.d, main_test.d);
      documents.push_back(evaluate(&train, &test, info.at_epoch(k.epoch), each).metrics);
      epochs.push_back(k.epoch);
      if (train.dropped_rows + test.dropped_rows > 0)
        notes.push_back(fmt::format("epoch {}: {} rows with NaN or Inf dropped", k.epoch,
                                    train.dropped_rows + test.dropped_rows));
    } catch (const nidim::Error& e) {
      skip(k.epoch, e.what());
    }
  }
  if (epochs.size() < 2 && static_cast<int64_t>(epochs.size()) < chosen)
    return not_applicable(fmt::format(
        "{} of the {} kept evaluation{} at a multiple of {} epochs or the newest in the last {} "
        "epochs could be evaluated (the notes say why not the others); a mean +- std needs two",
        epochs.size() == 1 ? "only one" : "none", chosen, chosen == 1 ? "" : "s", po.every,
        po.window));
  if (epochs.size() < 2)
    return not_applicable(fmt::format(
        "{} of the kept evaluations {} at a multiple of {} epochs or the newest (epoch {}) in "
        "the last {} epochs; a mean +- std needs two (a longer run, or --protocol-every)",
        epochs.size() == 1 ? "only one" : "none", epochs.size() == 1 ? "is" : "are", po.every,
        newest, po.window));
  nlohmann::ordered_json j = summarize_protocol(epochs, documents, po.window, po.every, ev.report);
  for (const std::string& n : notes) ev.report += "  note: " + n + "\n";
  if (!notes.empty()) j["notes"] = notes;
  return j;
}

}  // namespace

int eval_dm_main(int argc, char** argv) {
  CLI::App app{
      "eval_dm: how well embeddings match their prior (normality tests, distances, KL "
      "certificate) and how useful they are (classifiers, clustering). Give a run directory "
      "written by train_dim, or .npy files. Writes metrics.json (docs/METRICS.md), report.txt "
      "and plots (PNG, SVG, PDF) into --out."};
  std::string run_dir, train_path, test_path, train_labels, test_labels, prior_flag, out_dir;
  std::string plot_format = "png";
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
  app.add_flag("--no-plots", no_plots, "write no plots");
  app.add_option("--plot-format", plot_format,
                 "formats of every plot, a comma-separated subset of png,svg,pdf")
      ->capture_default_str();
  app.add_flag("--drop-nonfinite", drop,
               "drop rows with NaN or Inf (with their labels) instead of failing");
  app.add_option("--threads", threads, "threads (default: all cores)")->check(CLI::Range(1, 4096));
  app.add_flag("--quiet", quiet, "no progress lines on stderr");
  // --probe: the linear and weighted kNN probes on frozen features (tools/eval_dm/probe.h).
  bool probe = false, no_linear_probe = false, no_knn_probe = false;
  std::string train_features, test_features;
  ProbeOptions po;
  stats::LinearProbeOptions& lpo = po.linear_opt;
  app.add_flag("--probe", probe,
               "also score the features with a linear probe and a weighted kNN probe (top-1 / "
               "top-5): features_{train,test}.npy of a run directory when present, else the "
               "embeddings");
  app.add_option("--train-features", train_features,
                 "with --probe: train features, .npy N x F float32/float64 (labels: "
                 "--train-labels; default: --train)");
  app.add_option(
      "--test-features", test_features,
      "with --probe: test features, .npy N x F (labels: --test-labels; default: --test)");
  app.add_flag("--no-linear-probe", no_linear_probe, "with --probe: skip the linear probe");
  app.add_flag("--no-knn-probe", no_knn_probe, "with --probe: skip the kNN probe");
  app.add_option("--probe-epochs", lpo.epochs, "linear probe: epochs")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}))
      ->capture_default_str();
  app.add_option("--probe-batch", lpo.batch_size, "linear probe: rows per SGD step")
      ->check(CLI::Range(int64_t{1}, int64_t{100000000}))
      ->capture_default_str();
  app.add_option("--probe-lr", lpo.lr,
                 "linear probe: base learning rate, used as lr * batch / 256, cosine to 0 over "
                 "the epochs")
      ->check(tools::positive_number())
      ->capture_default_str();
  app.add_option("--probe-momentum", lpo.momentum, "linear probe: SGD momentum (Nesterov)")
      ->check(CLI::Range(0.0, 0.999999))
      ->capture_default_str();
  app.add_option("--probe-weight-decay", lpo.weight_decay,
                 "linear probe: L2 weight decay on the weight (not the bias)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--probe-seed", lpo.seed,
                 "linear probe: seed of the initialization and the shuffles (default: --seed)")
      ->check(tools::seed_value());
  app.add_option("--knn-k", po.knn_opt.k, "kNN probe: neighbours (capped at the train rows)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000000}))
      ->capture_default_str();
  app.add_option("--knn-temperature", po.knn_opt.temperature,
                 "kNN probe: temperature T of the weights exp(similarity / T)")
      ->check(tools::positive_number())
      ->capture_default_str();
  int64_t window = -1, every = 50;
  app.add_option("--protocol-window", window,
                 "run directory: also evaluate the embeddings train_dim kept in "
                 "evaluations/epoch_E/ for the last N epochs and report each number's mean +- std "
                 "(the authors' protocol; default: config.json's protocol_window, else 101; 0: "
                 "off)")
      ->check(CLI::Range(int64_t{0}, int64_t{1000000000}));
  app.add_option("--protocol-every", every,
                 "run directory: of those, the evaluations at multiples of K epochs, and the "
                 "newest (the authors evaluate every 50)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000000}))
      ->capture_default_str();
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
  NIDIM_CHECK(!loose || (app.count("--protocol-window") == 0 && app.count("--protocol-every") == 0),
              "--protocol-window and --protocol-every go with a run directory (its "
              "evaluations/), not with --train/--test files");
  if (!run_dir.empty()) {
    NIDIM_CHECK(std::filesystem::is_directory(run_dir), "{}: not a directory", run_dir);
  }
  for (const char* flag :
       {"--train-features", "--test-features", "--no-linear-probe", "--no-knn-probe",
        "--probe-epochs", "--probe-batch", "--probe-lr", "--probe-momentum", "--probe-weight-decay",
        "--probe-seed", "--knn-k", "--knn-temperature"})
    NIDIM_CHECK(probe || app.count(flag) == 0, "{} goes with --probe", flag);
  NIDIM_CHECK(!probe || loose || (train_features.empty() && test_features.empty()),
              "--train-features/--test-features go with --train/--test; a run directory has "
              "features_{{train,test}}.npy");
  NIDIM_CHECK(!(no_plots && app.count("--plot-format") > 0),
              "--plot-format goes with plots; --no-plots writes none");
  opt.plot_formats = tools::parse_plot_formats(plot_format);
  NIDIM_CHECK(!(no_linear_probe && no_knn_probe),
              "--probe with --no-linear-probe and --no-knn-probe: nothing to probe");
  if (app.count("--probe-seed") == 0) lpo.seed = opt.seed;
  po.linear = !no_linear_probe;
  po.knn = !no_knn_probe;
  po.progress = !quiet;
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
  RunInfo info = read_run_info(run_dir);
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
  // The probes' inputs are checked before anything runs.
  const ProbeInputs probe_inputs =
      probe ? load_probe_inputs(run_dir, train_features, test_features, train_labels, test_labels,
                                train.get(), test.get(), drop)
            : ProbeInputs{};

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

  // The epoch of the run's embeddings: that of the kept evaluation they are (hard links), else
  // the last evaluation the log records. Its certificate goes with them.
  const std::vector<KeptEvaluation> kept =
      run_dir.empty() ? std::vector<KeptEvaluation>{} : kept_evaluations(run_dir);
  const FilesEpoch files =
      run_dir.empty() ? FilesEpoch{} : epoch_of_files(run_dir, kept, *train, *test);
  std::vector<std::string> run_notes;
  if (!files.note.empty()) run_notes.push_back(files.note);
  if (files.epoch >= 0) info = info.at_epoch(files.epoch);
  const int64_t unfinished = info.unfinished_evaluation();
  if (files.epoch < 0 && unfinished > 0)
    run_notes.push_back(fmt::format(
        "the evaluation after epoch {} did not finish (the run stopped during it, or is in it): "
        "the embeddings may be that epoch's or older, and the certificate is {}; train_dim "
        "--resume redoes it",
        unfinished,
        info.has_certificate ? fmt::format("epoch {}'s", info.certificate.epoch)
                             : std::string("not applicable")));
  for (const std::string& n : run_notes) std::fprintf(stderr, "eval_dm: note: %s\n", n.c_str());
  const int64_t files_epoch = files.epoch;

  Evaluation ev = evaluate(train.get(), test.get(), info, opt);
  for (const std::string& n : run_notes) ev.metrics["notes"].push_back(n);
  if (probe) {
    const auto t0 = std::chrono::steady_clock::now();
    ev.metrics["probe"] = run_probes(probe_inputs, po, ev.report);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    add_seconds(ev.metrics["timing_seconds"], "probe", seconds);
  }
  if (!run_dir.empty()) {
    if (window < 0 && info.config.is_object()) {  // config.json's, else the authors' 101
      const std::string cfg = run_dir + "/config.json";
      window = json_int_or(info.config, "protocol_window", cfg, 101);
      NIDIM_CHECK(window >= 0, "{}: \"protocol_window\" must be >= 0, got {}", cfg, window);
    }
    if (window < 0) window = 101;
    if (window > 0) {
      const auto t0 = std::chrono::steady_clock::now();
      ev.metrics["protocol"] =
          protocol(run_dir, info, kept, files_epoch, {window, every, drop}, opt, *test, ev);
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
