// nidim/tools/eval_dm/probe.cpp: see probe.h.
#include "tools/eval_dm/probe.h"

#include <chrono>

#include <fmt/format.h>

#include "core/error.h"
#include "core/io.h"
#include "stats/classifiers.h"
#include "tools/common/progress.h"

namespace nidim::eval_dm {

using json = nlohmann::ordered_json;
namespace st = nidim::stats;

ProbeInputs load_probe_inputs(const std::string& run_dir, const std::string& train_features,
                              const std::string& test_features, const std::string& train_labels,
                              const std::string& test_labels, const EmbeddingSet* train,
                              const EmbeddingSet* test, bool drop_nonfinite) {
  ProbeInputs in;
  std::string ftr = train_features, fte = test_features, ltr = train_labels, lte = test_labels;
  if (!run_dir.empty()) {
    ftr = run_dir + "/features_train.npy";
    fte = run_dir + "/features_test.npy";
    ltr = run_dir + "/labels_train.npy";
    lte = run_dir + "/labels_test.npy";
    const bool has_train = file_exists(ftr), has_test = file_exists(fte);
    NIDIM_CHECK(has_train == has_test,
                "--probe: {} exists but {} does not (the probes use both, or neither and then "
                "the embeddings)",
                has_train ? ftr : fte, has_train ? fte : ftr);
    if (!has_train) ftr = fte = "";
  } else {
    NIDIM_CHECK(ftr.empty() == fte.empty(),
                "--train-features and --test-features go together (got only {})",
                ftr.empty() ? "--test-features" : "--train-features");
    NIDIM_CHECK(ftr.empty() || (!ltr.empty() && !lte.empty()),
                "--probe with --train-features/--test-features needs --train-labels and "
                "--test-labels");
  }
  if (!ftr.empty()) {
    in.source = "features";
    in.own_train = std::make_unique<EmbeddingSet>(
        load_embedding_set("train", ftr, ltr, false, drop_nonfinite));
    in.own_test =
        std::make_unique<EmbeddingSet>(load_embedding_set("test", fte, lte, false, drop_nonfinite));
    in.train = in.own_train.get();
    in.test = in.own_test.get();
    check_compatible(*in.train, *in.test);
  } else {
    in.source = "embeddings";
    NIDIM_CHECK(train && test,
                "--probe needs train and test sets: --train and --test, or --train-features and "
                "--test-features");
    for (const EmbeddingSet* s : {train, test})
      NIDIM_CHECK(s->has_labels(), "--probe needs {} labels: {}", s->name, s->labels_missing);
    in.train = train;
    in.test = test;
  }
  const st::LabelEncoding enc = st::encode_labels(in.train->labels.data(), in.train->n);
  NIDIM_CHECK(enc.classes.size() >= 2,
              "--probe: {} has {} class ({} rows of label {}); the probes need at least 2",
              in.train->labels_path, enc.classes.size(), in.train->n, enc.classes.at(0));
  return in;
}

namespace {

struct Timer {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
};

json set_json(const EmbeddingSet& s) {
  json j{{"path", s.path}, {"labels", s.labels_path}, {"rows", s.n}, {"dtype", s.dtype}};
  if (s.dropped_rows > 0) j["dropped_nonfinite_rows"] = s.dropped_rows;
  return j;
}

}  // namespace

json run_probes(const ProbeInputs& in, const ProbeOptions& opt, std::string& report) {
  const EmbeddingSet &tr = *in.train, &te = *in.test;
  const st::LabelEncoding enc = st::encode_labels(tr.labels.data(), tr.n);
  const int64_t k = static_cast<int64_t>(enc.classes.size());
  const std::vector<int64_t> yte = st::apply_encoding(enc.classes, te.labels.data(), te.n);
  json j{{"source", in.source},
         {"dim", tr.d},
         {"classes", k},
         {"train", set_json(tr)},
         {"test", set_json(te)}};
  std::string& r = report;
  r += fmt::format(
      "\nProbes on frozen {} ({}, d = {}, {} classes)\n", in.source,
      in.source == "features" ? "features_{train,test}.npy" : "the embeddings evaluated above",
      tr.d, k);
  r += fmt::format("  {:<62}{:>9}{:>9}\n", "", "top-1",
                   fmt::format("top-{}", std::min<int64_t>(5, k)));
  if (opt.linear) {
    const st::LinearProbeOptions& lo = opt.linear_opt;
    Timer t;
    tools::Progress prog(fmt::format("linear probe ({} epochs)", lo.epochs), opt.progress);
    const st::LinearProbeModel m =
        st::fit_linear_probe(tr.x.data(), tr.n, tr.d, enc.codes.data(), k, lo, nullptr, prog.fn());
    prog.finish();
    const st::TopKAccuracy a =
        st::topk_accuracy(m.logits(te.x.data(), te.n).data(), te.n, k, yte.data(), 5);
    const st::TopKAccuracy a_tr =
        st::topk_accuracy(m.logits(tr.x.data(), tr.n).data(), tr.n, k, enc.codes.data(), 1);
    j["linear"] = json{{"top1", a.top1},
                       {"top5", a.topk},
                       {"top_k", a.k},
                       {"train_top1", a_tr.top1},
                       {"final_loss", m.loss_curve.back()},
                       {"epochs", lo.epochs},
                       {"batch_size", lo.batch_size},
                       {"lr_base", lo.lr},
                       {"lr", lo.scaled_lr()},
                       {"momentum", lo.momentum},
                       {"nesterov", lo.nesterov},
                       {"weight_decay", lo.weight_decay},
                       {"schedule", "cosine to 0, stepped per epoch"},
                       {"seed", lo.seed},
                       {"seconds", t.seconds()}};
    r += fmt::format("  {:<62}{:>9.4f}{:>9.4f}\n",
                     fmt::format("linear (SGD Nesterov, {} epochs, batch {}, lr {:g}, wd {:g})",
                                 lo.epochs, lo.batch_size, lo.scaled_lr(), lo.weight_decay),
                     a.top1, a.topk);
    r += fmt::format("    train top-1 {:.4f}, final training loss {:.4g}\n", a_tr.top1,
                     m.loss_curve.back());
  } else {
    j["linear"] = json{{"not_applicable", "disabled (--no-linear-probe)"}};
    r += "  linear: disabled (--no-linear-probe)\n";
  }
  if (opt.knn) {
    const st::KnnProbeOptions& ko = opt.knn_opt;
    Timer t;
    tools::Progress prog(fmt::format("weighted kNN probe (k = {})", ko.k), opt.progress);
    const st::KnnProbeResult res = st::knn_probe(tr.x.data(), tr.n, tr.d, enc.codes.data(), k,
                                                 te.x.data(), te.n, ko, prog.fn());
    prog.finish();
    const st::TopKAccuracy a = st::topk_accuracy(res.scores.data(), te.n, k, yte.data(), 5);
    j["knn"] = json{{"top1", a.top1},
                    {"top5", a.topk},
                    {"top_k", a.k},
                    {"k", ko.k},
                    {"neighbors", res.neighbors},
                    {"temperature", ko.temperature},
                    {"seconds", t.seconds()}};
    r += fmt::format(
        "  {:<62}{:>9.4f}{:>9.4f}\n",
        fmt::format("weighted kNN (cosine, k = {}, T = {:g})", res.neighbors, ko.temperature),
        a.top1, a.topk);
  } else {
    j["knn"] = json{{"not_applicable", "disabled (--no-knn-probe)"}};
    r += "  weighted kNN: disabled (--no-knn-probe)\n";
  }
  int64_t unknown = 0;
  for (int64_t c : yte) unknown += c < 0 ? 1 : 0;
  if (unknown > 0) {
    j["note"] =
        fmt::format("{} test rows have labels not seen in training (always wrong)", unknown);
    r += "  note: " + j["note"].get<std::string>() + "\n";
  }
  return j;
}

}  // namespace nidim::eval_dm
