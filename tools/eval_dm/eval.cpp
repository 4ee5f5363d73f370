// nidim/tools/eval_dm/eval.cpp: see eval.h.
#include "tools/eval_dm/eval.h"

#include "core/parallel.h"

#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/random.h"
#include "stats/bootstrap.h"
#include "stats/classifiers.h"
#include "stats/clustering.h"
#include "stats/distances.h"
#include "stats/multivariate.h"
#include "stats/univariate.h"
#include "tools/common/progress.h"
#include "tools/eval_dm/plots.h"

namespace nidim::eval_dm {

using json = nlohmann::ordered_json;
namespace st = nidim::stats;

namespace {

// Philox streams of --seed, one per purpose (bootstrap repetitions use streams 0 .. B-1).
constexpr uint64_t kStreamDistances = uint64_t{1} << 40;
constexpr uint64_t kStreamClassifiers = (uint64_t{1} << 40) + 100;

json na(const std::string& reason) {
  return json{{"not_applicable", reason}};
}

json test_json(const st::TestResult& t) {
  if (!t.applicable()) return na(t.not_applicable);
  json j{{"statistic", t.statistic}, {"pvalue", t.pvalue}};
  if (!t.note.empty()) j["note"] = t.note;
  return j;
}

json estimate_json(const st::Estimate& e) {
  return e.applicable() ? json(e.value) : na(e.not_applicable);
}

json series_json(const st::BootstrapSeries& s) {
  if (s.applicable == 0) return na(s.not_applicable);
  json j{{"mean_pvalue", s.mean_pvalue},
         {"std_pvalue", s.std_pvalue},
         {"fraction_below_0.05", s.fraction_below_005},
         {"repetitions_applicable", s.applicable}};
  if (!s.note.empty()) j["note"] = s.note;
  return j;
}

// "0.4821", or "n/a" for a missing or not-applicable value.
std::string fmt_p(const json& j, const char* key) {
  if (j.is_null() || (j.is_object() && j.contains("not_applicable"))) return "n/a";
  if (j.is_object() && j.contains(key) && j[key].is_number())
    return fmt::format("{:.4g}", j[key].get<double>());
  if (j.is_number()) return fmt::format("{:.4g}", j.get<double>());
  return "-";
}

std::string reason(const json& j) {
  if (j.is_object() && j.contains("not_applicable")) return j["not_applicable"].get<std::string>();
  return "";
}

struct Timer {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
};

// Runs f; a nidim::Error becomes {"not_applicable": message}.
json guarded(const std::function<json()>& f) {
  try {
    return f();
  } catch (const nidim::Error& e) {
    return na(e.what());
  }
}

struct SetData {
  const EmbeddingSet* set = nullptr;
  st::PriorCoordinates coords;  // u = F(y), z = Phi^{-1}(u)
  st::BootstrapResult boot;
};

json normality_bootstrap(SetData& s, const EvalOptions& opt) {
  st::BootstrapOptions bo;
  bo.repetitions = opt.repetitions;
  bo.subsample = opt.subsample;
  bo.seed = opt.seed;
  bo.mardia = true;
  bo.ks_fisher = true;
  tools::Progress prog(fmt::format("bootstrap ({})", s.set->name), opt.progress);
  s.boot = st::projection_bootstrap(s.coords.z.data(), s.coords.u.data(), s.set->n, s.set->d, bo,
                                    prog.fn());
  prog.finish();
  json j;
  if (!s.boot.not_applicable.empty()) j["not_applicable"] = s.boot.not_applicable;
  for (const auto& ser : s.boot.series) j[ser.name] = series_json(ser);
  if (opt.subsample <= s.set->d && s.boot.not_applicable.empty())
    j["note"] = fmt::format(
        "subsamples of {} rows in d = {} dimensions have a singular covariance: Henze-Zirkler "
        "returns HZ = 4m (pingouin's convention) and Mardia is not applicable; use --subsample "
        "> d for informative multivariate tests",
        opt.subsample, s.set->d);
  return j;
}

json normality_exact(SetData& s, const EvalOptions& opt) {
  const int64_t n = s.set->n, d = s.set->d;
  json cols = json::array();
  std::vector<double> col(static_cast<size_t>(n)), ucol(static_cast<size_t>(n));
  std::vector<double> p_dag, p_sw, p_ks;
  {
    tools::Progress prog(fmt::format("per-column tests ({})", s.set->name), opt.progress);
    for (int64_t c = 0; c < d; ++c) {
      for (int64_t i = 0; i < n; ++i) {
        col[i] = s.coords.z[i * d + c];
        ucol[i] = s.coords.u[i * d + c];
      }
      const st::TestResult dag = st::normaltest(col.data(), n);
      const st::TestResult sw = st::shapiro_wilk(col.data(), n);
      const st::TestResult ks = st::ks_uniform(ucol.data(), n);
      if (dag.applicable()) p_dag.push_back(dag.pvalue);
      if (sw.applicable()) p_sw.push_back(sw.pvalue);
      if (ks.applicable()) p_ks.push_back(ks.pvalue);
      cols.push_back(json{{"column", c},
                          {"skewness", estimate_json(st::skewness(col.data(), n))},
                          {"kurtosis", estimate_json(st::kurtosis(col.data(), n))},
                          {"dagostino", test_json(dag)},
                          {"shapiro", test_json(sw)},
                          {"ks_uniform", test_json(ks)}});
      prog.update(c + 1, d);
    }
  }
  auto combined = [&](const std::vector<double>& p) {
    if (p.empty()) return na("no column was applicable");
    json j = test_json(st::fisher_combine(p.data(), static_cast<int64_t>(p.size())));
    j["columns"] = p.size();
    return j;
  };
  json j{{"columns", cols},
         {"dagostino_fisher", combined(p_dag)},
         {"shapiro_fisher", combined(p_sw)},
         {"ks_fisher", combined(p_ks)}};
  {
    tools::Progress prog(fmt::format("Henze-Zirkler, all rows ({})", s.set->name), opt.progress);
    const st::HenzeZirklerResult hz = st::henze_zirkler(s.coords.z.data(), n, d, prog.fn());
    prog.finish();
    j["henze_zirkler"] = test_json(hz.test);
    if (hz.test.applicable()) j["henze_zirkler"]["beta"] = hz.beta;
  }
  {
    tools::Progress prog(fmt::format("Mardia, all rows ({})", s.set->name), opt.progress);
    const st::MardiaResult m = st::mardia(s.coords.z.data(), n, d, prog.fn());
    prog.finish();
    j["mardia_skewness"] = test_json(m.skewness);
    j["mardia_kurtosis"] = test_json(m.kurtosis);
  }
  return j;
}

// Rows `count` of n drawn without replacement from the stream (seed, stream), sorted.
std::vector<double> subsample_rows(const std::vector<double>& x, int64_t n, int64_t d,
                                   int64_t count, Generator& g) {
  if (count >= n) return x;
  const std::vector<int64_t> rows = st::random_subsample(g, n, count);
  std::vector<double> out(static_cast<size_t>(count * d));
  for (int64_t i = 0; i < count; ++i)
    std::copy(x.begin() + rows[i] * d, x.begin() + (rows[i] + 1) * d, out.begin() + i * d);
  return out;
}

json distances(const SetData& s, const EvalOptions& opt, int set_index) {
  const int64_t n = s.set->n, d = s.set->d;
  const std::vector<double>& y = s.set->x;  // the prior's own coordinates
  Generator g(opt.seed, kStreamDistances + 10 * set_index);
  std::vector<double> dirs;
  for (int64_t l = 0; l < opt.directions; ++l) {
    const std::vector<double> u = st::random_direction(g, d);
    dirs.insert(dirs.end(), u.begin(), u.end());
  }
  // Sliced W2 on all rows against as many prior samples, and the same between two prior samples
  // (the finite-sample floor of the estimator).
  const std::vector<double> p1 = st::sample_prior(opt.prior, g, n * d);
  const std::vector<double> p2 = st::sample_prior(opt.prior, g, n * d);
  json j;
  double floor = 0;
  j["sliced_wasserstein2"] = st::sliced_wasserstein2(y.data(), n, p1.data(), n, d, dirs.data(),
                                                     opt.directions, p2.data(), n, &floor);
  j["sliced_wasserstein2_baseline"] = floor;
  j["directions"] = opt.directions;
  const int64_t rows = std::min(n, opt.distance_rows);
  if (rows < 2) {
    j["mmd2"] = j["energy"] = na("needs at least 2 rows");
    return j;
  }
  const std::vector<double> ys = subsample_rows(y, n, d, rows, g);
  const std::vector<double> ps = st::sample_prior(opt.prior, g, rows * d);
  tools::Progress prog(fmt::format("MMD and energy distance ({}, {} rows)", s.set->name, rows),
                       opt.progress);
  auto half = [&](int part) {
    return
        [&prog, part](int64_t done, int64_t total) { prog.update(part * total + done, 2 * total); };
  };
  const st::MmdResult mmd = st::mmd_gaussian(ys.data(), rows, ps.data(), rows, d, 0.0, half(0));
  j["mmd2"] = mmd.mmd2;
  j["mmd_bandwidth"] = mmd.bandwidth;
  j["energy"] = st::energy_distance(ys.data(), rows, ps.data(), rows, d, half(1));
  j["rows"] = rows;
  prog.finish();
  return j;
}

json certificate(const RunInfo& info) {
  if (!info.has_certificate) return na(info.certificate_missing);
  const CertificateLine& c = info.certificate;
  json j{{"capacity", c.capacity},
         {"mi_estimate", c.mi_estimate},
         {"kl_upper_bound", c.capacity - c.mi_estimate},
         {"source", info.run_dir + "/log.jsonl"}};
  if (c.epoch >= 0) j["epoch"] = c.epoch;
  if (c.has_kl_bound) j["logged_kl_bound"] = c.kl_bound;
  // KL <= C - I holds for the true I >= 0, so it never says more than KL <= C.
  if (c.mi_estimate < 0)
    j["note"] =
        "the MI estimate is negative, so C - I exceeds the capacity C: the certificate says no "
        "more than KL <= C (the critic or the bound has not learned yet)";
  return j;
}

json scores(const std::vector<int64_t>& y_test, const std::vector<int64_t>& pred,
            const st::Probabilities& proba) {
  const int64_t n = static_cast<int64_t>(y_test.size());
  return json{{"accuracy", st::accuracy(y_test.data(), pred.data(), n)},
              {"f1_micro", st::f1_micro(y_test.data(), pred.data(), n)},
              {"roc_auc_ovo", estimate_json(st::roc_auc_ovo(y_test.data(), proba))}};
}

json classifiers(const EmbeddingSet& tr, const EmbeddingSet& te, const EvalOptions& opt) {
  const st::LabelEncoding enc = st::encode_labels(tr.labels.data(), tr.n);
  const int64_t k = static_cast<int64_t>(enc.classes.size());
  if (k < 2)
    return na(fmt::format("training labels have {} class; classifiers need at least 2", k));
  const std::vector<int64_t> yte = st::apply_encoding(enc.classes, te.labels.data(), te.n);
  json j;
  j["classes"] = k;
  j["logistic_regression"] = guarded([&] {
    tools::Progress prog("logistic regression", opt.progress);
    const st::LogisticModel m = st::fit_logistic(tr.x.data(), tr.n, tr.d, enc.codes.data(), k);
    json r = scores(yte, m.predict(te.x.data(), te.n), m.predict_proba(te.x.data(), te.n));
    r["iterations"] = m.iterations;
    r["converged"] = m.converged;
    return r;
  });
  j["gaussian_nb"] = guarded([&] {
    const st::GaussianNbModel m = st::fit_gaussian_nb(tr.x.data(), tr.n, tr.d, enc.codes.data(), k);
    return scores(yte, m.predict(te.x.data(), te.n), m.predict_proba(te.x.data(), te.n));
  });
  j["knn"] = guarded([&] {
    if (opt.neighbors > tr.n)
      return na(
          fmt::format("n_neighbors = {} is more than the {} training rows", opt.neighbors, tr.n));
    tools::Progress prog(fmt::format("k nearest neighbours (k = {})", opt.neighbors), opt.progress);
    const st::KnnResult r = st::knn_classify(tr.x.data(), tr.n, tr.d, enc.codes.data(), k,
                                             te.x.data(), te.n, opt.neighbors, prog.fn());
    json out = scores(yte, r.predicted, r.proba);
    out["neighbors"] = opt.neighbors;
    return out;
  });
  j["mlp"] = guarded([&] {
    st::MlpOptions mo;
    mo.max_iter = opt.mlp_max_iter;
    mo.seed = opt.seed ^ kStreamClassifiers;
    tools::Progress prog("MLP (epochs)", opt.progress);
    const st::MlpModel m =
        st::fit_mlp(tr.x.data(), tr.n, tr.d, enc.codes.data(), k, mo, nullptr, prog.fn());
    const st::Probabilities p = m.predict_proba(te.x.data(), te.n);
    json r = scores(yte, p.argmax(), p);
    r["epochs"] = m.iterations;
    r["converged"] = m.converged;
    return r;
  });
  int64_t unknown = 0;
  for (int64_t c : yte) unknown += c < 0 ? 1 : 0;
  if (unknown > 0)
    j["note"] =
        fmt::format("{} test rows have labels not seen in training (always wrong)", unknown);
  return j;
}

json clustering(const EmbeddingSet& s, const EvalOptions& opt) {
  json j;
  j["set"] = s.name;
  tools::Progress prog(fmt::format("silhouette ({})", s.name), opt.progress);
  j["silhouette"] =
      estimate_json(st::silhouette_score(s.x.data(), s.n, s.d, s.labels.data(), prog.fn()));
  prog.finish();
  j["davies_bouldin"] =
      estimate_json(st::davies_bouldin_score(s.x.data(), s.n, s.d, s.labels.data()));
  j["calinski_harabasz"] =
      estimate_json(st::calinski_harabasz_score(s.x.data(), s.n, s.d, s.labels.data()));
  return j;
}

// ---- the text report ---------------------------------------------------------------------------

std::string row(const std::string& label, const std::vector<std::string>& cells, int width = 44) {
  std::string s = fmt::format("  {:<{}}", label, width);
  for (const auto& c : cells) s += fmt::format(" {:>12}", c);
  return s + "\n";
}

// Every number of a metrics.json document with its JSON pointer ("/classifiers/knn/accuracy"; no
// key holds '/' or '~'), in document order, skipping what is not a result of the evaluation (and
// arrays: exact mode's per-column tables).
void numbers(const json& j, const std::string& path,
             std::vector<std::pair<std::string, double>>& out) {
  static const std::set<std::string> skipped = {
      "schema", "inputs",   "options", "change_of_variables", "plots", "timing_seconds",
      "notes",  "protocol", "probe"};
  if (j.is_number()) {
    out.emplace_back(path, j.get<double>());
    return;
  }
  if (!j.is_object()) return;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (path.empty() && skipped.count(it.key())) continue;
    if (it.key() == "epoch") continue;  // the certificate's: what differs by design
    numbers(it.value(), path + "/" + it.key(), out);
  }
}

}  // namespace

json summarize_protocol(const std::vector<int64_t>& epochs, const std::vector<json>& documents,
                        int64_t window, int64_t every, std::string& report) {
  NIDIM_CHECK(epochs.size() == documents.size() && documents.size() >= 2,
              "summarize_protocol: {} epochs for {} documents (at least 2)", epochs.size(),
              documents.size());
  // Each document's numbers by path; the first one's order is the output's.
  std::vector<std::pair<std::string, double>> first;
  std::vector<std::map<std::string, double>> found;
  std::set<std::string> left_out;  // every path at first; those that all documents have go
  for (const json& document : documents) {
    std::vector<std::pair<std::string, double>> v;
    numbers(document, "", v);
    for (const auto& [path, value] : v) left_out.insert(path);
    found.emplace_back(v.begin(), v.end());
    if (first.empty()) first = std::move(v);
  }
  json stats = json::object();
  for (const auto& [path, value] : first) {
    std::vector<double> xs;
    for (const auto& f : found) {
      const auto it = f.find(path);
      if (it == f.end()) break;
      xs.push_back(it->second);
    }
    if (xs.size() != found.size()) continue;  // not applicable in some evaluation
    left_out.erase(path);
    double mean = 0, var = 0;
    for (double x : xs) mean += x;
    mean /= static_cast<double>(xs.size());
    for (double x : xs) var += (x - mean) * (x - mean);
    stats[path] = {{"mean", mean}, {"std", std::sqrt(var / static_cast<double>(xs.size()))}};
  }
  report += fmt::format(
      "\nThe authors' protocol: mean +- std over the {} evaluations at multiples of {} epochs "
      "(and the newest) in the last {} (epochs {})\n",
      epochs.size(), every, window, fmt::join(epochs, ", "));
  for (const auto& [label, path] : std::vector<std::pair<std::string, std::string>>{
           {"logistic regression accuracy", "/classifiers/logistic_regression/accuracy"},
           {"Gaussian naive Bayes accuracy", "/classifiers/gaussian_nb/accuracy"},
           {"k nearest neighbours accuracy", "/classifiers/knn/accuracy"},
           {"MLP accuracy", "/classifiers/mlp/accuracy"},
           {"test D'Agostino-Pearson mean p", "/normality/test/dagostino/mean_pvalue"},
           {"test Shapiro-Wilk mean p", "/normality/test/shapiro/mean_pvalue"},
           {"test Henze-Zirkler mean p", "/normality/test/henze_zirkler/mean_pvalue"},
           {"train Henze-Zirkler mean p", "/normality/train/henze_zirkler/mean_pvalue"},
           {"test Henze-Zirkler p (exact)", "/normality/test/henze_zirkler/pvalue"},
           {"KL certificate C - I (nats)", "/certificate/kl_upper_bound"},
           {"silhouette", "/clustering/silhouette"}}) {
    if (!stats.contains(path)) continue;
    report += row(label,
                  {fmt::format("{:.4g} +- {:.2g}", stats[path]["mean"].get<double>(),
                               stats[path]["std"].get<double>())},
                  44);
  }
  report += fmt::format("  ({} numbers in metrics.json's \"protocol\")\n", stats.size());
  json out{
      {"window_epochs", window}, {"every_epochs", every}, {"epochs", epochs}, {"metrics", stats}};
  if (!left_out.empty()) {
    report += fmt::format("  left out, not applicable in some of the evaluations: {}\n",
                          fmt::join(left_out, ", "));
    out["left_out"] = left_out;
  }
  return out;
}

int64_t sanitize_json(json& j) {
  int64_t count = 0;
  if (j.is_number_float()) {
    if (!std::isfinite(j.get<double>())) {
      j = na("not a finite number");
      return 1;
    }
    return 0;
  }
  if (j.is_object() || j.is_array())
    for (auto& e : j) count += sanitize_json(e);
  return count;
}

Evaluation evaluate(const EmbeddingSet* train, const EmbeddingSet* test, const RunInfo& info,
                    const EvalOptions& opt) {
  NIDIM_CHECK(train || test, "eval_dm: no embeddings to evaluate");
  Timer total;
  Evaluation ev;
  json& m = ev.metrics;
  std::vector<std::string> notes;
  std::vector<SetData> sets;
  for (const EmbeddingSet* s : {train, test})
    if (s) sets.push_back(SetData{s, {}, {}});
  const int64_t d = sets[0].set->d;

  m["schema"] = "nidim.eval_dm/1";
  json inputs{{"prior", st::prior_name(opt.prior)}, {"prior_source", opt.prior_source}, {"dim", d}};
  if (!info.run_dir.empty()) inputs["run_dir"] = info.run_dir;
  for (const SetData& s : sets) {
    json e{{"path", s.set->path}, {"rows", s.set->n}, {"dtype", s.set->dtype}};
    if (s.set->has_labels()) {
      e["labels"] = s.set->labels_path;
    } else {
      e["labels"] = na(s.set->labels_missing);
    }
    if (s.set->dropped_rows > 0) {
      e["dropped_nonfinite_rows"] = s.set->dropped_rows;
      notes.push_back(
          fmt::format("{}: dropped {} rows with NaN or Inf", s.set->path, s.set->dropped_rows));
    }
    inputs[s.set->name] = e;
  }
  m["inputs"] = inputs;
  m["options"] = json{{"mode", opt.exact ? "exact" : "bootstrap"},
                      {"repetitions", opt.repetitions},
                      {"subsample", opt.subsample},
                      {"seed", opt.seed},
                      {"threads", num_threads()},
                      {"distance_rows", opt.distance_rows},
                      {"directions", opt.directions},
                      {"neighbors", opt.neighbors},
                      {"mlp_max_iter", opt.mlp_max_iter}};
  json timing;

  // Change of variables to N(0, 1) coordinates.
  json cov;
  for (SetData& s : sets) {
    if (opt.prior == st::Prior::kUniform) {
      // Checked here rather than in the change of variables, to name the file's row.
      const std::vector<double>& x = s.set->x;
      const int64_t d = s.set->d;
      int64_t outside = 0, first = -1;
      for (int64_t i = 0; i < s.set->n * d; ++i)
        if (!(x[i] >= 0.0 && x[i] <= 1.0) && outside++ == 0) first = i;
      NIDIM_CHECK(outside == 0,
                  "{} ({} embeddings): prior uniform: {} values are outside [0, 1] (first {} at "
                  "row {}, column {}); are the embeddings from a uniform normalization?",
                  s.set->path, s.set->name, outside, outside ? x[first] : 0.0,
                  s.set->file_row(first / d), first % d);
    }
    s.coords = st::to_prior_coordinates(opt.prior, s.set->x.data(), s.set->n * s.set->d);
    cov[s.set->name] = json{{"clamped_values", s.coords.clamped}};
    if (s.coords.clamped > 0)
      notes.push_back(
          fmt::format("{}: {} values within 2^-24 of 0 or 1 after F(y) were clamped before Phi^-1",
                      s.set->name, s.coords.clamped));
  }
  cov["transform"] = opt.prior == st::Prior::kGaussian ? "identity" : "Phi^-1(F(y))";
  m["change_of_variables"] = cov;

  // Normality.
  json normality;
  for (SetData& s : sets) {
    Timer t;
    normality[s.set->name] =
        guarded([&] { return opt.exact ? normality_exact(s, opt) : normality_bootstrap(s, opt); });
    timing["normality_" + s.set->name] = t.seconds();
  }
  m["normality"] = normality;

  // Distances.
  if (opt.distances) {
    json dj;
    for (size_t i = 0; i < sets.size(); ++i) {
      Timer t;
      dj[sets[i].set->name] = guarded([&] { return distances(sets[i], opt, static_cast<int>(i)); });
      timing["distances_" + sets[i].set->name] = t.seconds();
    }
    m["distances"] = dj;
  } else {
    m["distances"] = na("disabled (--no-distances)");
  }

  m["certificate"] = certificate(info);

  // Classifiers and clustering.
  if (!opt.classifiers) {
    m["classifiers"] = na("disabled (--no-classifiers)");
    m["clustering"] = na("disabled (--no-classifiers)");
  } else {
    Timer t;
    if (!train || !test) {
      m["classifiers"] = na("needs both train and test embeddings");
    } else if (!train->has_labels() || !test->has_labels()) {
      m["classifiers"] = na(!train->has_labels() ? "train: " + train->labels_missing
                                                 : "test: " + test->labels_missing);
    } else {
      m["classifiers"] = guarded([&] { return classifiers(*train, *test, opt); });
    }
    timing["classifiers"] = t.seconds();
    Timer tc;
    const EmbeddingSet* cs = test ? test : train;
    if (!cs->has_labels()) {
      m["clustering"] = na(cs->name + ": " + cs->labels_missing);
    } else {
      m["clustering"] = guarded([&] { return clustering(*cs, opt); });
      if (!test) notes.push_back("clustering scores are of the train embeddings (no test set)");
    }
    timing["clustering"] = tc.seconds();
  }

  // Plots.
  if (opt.plots) {
    Timer t;
    auto add = [&](const std::function<std::vector<std::string>()>& f) {
      try {
        for (auto& name : f()) ev.plots.push_back(name);
      } catch (const nidim::Error& e) {
        notes.push_back(fmt::format("a plot was not written: {}", e.what()));
      }
    };
    const PlotOutput out{opt.out_dir, opt.plot_formats};
    for (const SetData& s : sets)
      if (d == 2)
        add([&] {
          return plot_scatter(out, s.set->name, s.set->x.data(), s.set->n, s.set->labels, opt.prior,
                              opt.seed);
        });
    const SetData& ps = sets.back();  // test when present
    add([&] {
      return plot_projections(out, ps.set->name, ps.coords.z.data(), ps.set->n, d, opt.seed);
    });
    add([&] {
      return plot_marginals(out, ps.set->name, ps.set->x.data(), ps.set->n, d, opt.prior);
    });
    if (!opt.exact) {
      std::vector<std::pair<std::string, const st::BootstrapResult*>> br;
      for (const SetData& s : sets)
        if (s.boot.not_applicable.empty() && !s.boot.series.empty())
          br.emplace_back(s.set->name, &s.boot);
      if (!br.empty()) add([&] { return plot_bootstrap_pvalues(out, br); });
    }
    timing["plots"] = t.seconds();
    m["plots"] = ev.plots;
  } else {
    m["plots"] = json::array();
  }
  timing["total"] = total.seconds();
  m["timing_seconds"] = timing;
  const int64_t bad = sanitize_json(m);
  if (bad > 0)
    notes.push_back(fmt::format("{} non-finite numbers were replaced by not_applicable", bad));
  m["notes"] = notes;

  // ---- the report ----
  std::string& r = ev.report;
  r += fmt::format("eval_dm: prior {} ({}), d = {}\n", st::prior_name(opt.prior), opt.prior_source,
                   d);
  for (const SetData& s : sets)
    r += fmt::format("  {:<5} {} rows ({}) from {}{}\n", s.set->name, s.set->n, s.set->dtype,
                     s.set->path, s.set->has_labels() ? "" : ", no labels");
  std::vector<std::string> names;
  for (const SetData& s : sets) names.push_back(s.set->name);
  r += "\n";
  // One row per test (the p-value `field` of each set), then each test's own "not applicable"
  // reasons and notes.
  auto normality_rows = [&](const std::vector<std::pair<std::string, std::string>>& keys,
                            const char* field) {
    for (const auto& [label, key] : keys) {
      std::vector<std::string> cells;
      for (const auto& nm : names) cells.push_back(fmt_p(normality[nm].value(key, json()), field));
      r += row(label, cells);
    }
    for (const auto& nm : names)
      for (const auto& [label, key] : keys) {
        const json v = normality[nm].value(key, json());
        if (!reason(v).empty() && reason(v) != reason(normality[nm]))
          r += fmt::format("    {} {}: n/a ({})\n", nm, key, reason(v));
        if (v.is_object() && v.contains("note"))
          r += fmt::format("    {} {}: {}\n", nm, key, v["note"].get<std::string>());
      }
  };
  if (opt.exact) {
    r += row("Normality, exact (all rows)", names);
    const std::vector<std::pair<std::string, std::string>> keys = {
        {"D'Agostino-Pearson per column, Fisher p", "dagostino_fisher"},
        {"Shapiro-Wilk per column, Fisher p", "shapiro_fisher"},
        {"KS vs U[0,1] per column, Fisher p", "ks_fisher"},
        {"Henze-Zirkler p", "henze_zirkler"},
        {"Mardia skewness p", "mardia_skewness"},
        {"Mardia kurtosis p", "mardia_kurtosis"}};
    normality_rows(keys, "pvalue");
    if (d <= 16) {
      r += "  per column (D'Agostino p / Shapiro p / KS p):\n";
      for (const auto& nm : names) {
        if (!normality[nm].contains("columns")) continue;
        for (const auto& c : normality[nm]["columns"])
          r += fmt::format("    {:<5} column {:>3}: {:>10} {:>10} {:>10}\n", nm,
                           c["column"].get<int64_t>(), fmt_p(c["dagostino"], "pvalue"),
                           fmt_p(c["shapiro"], "pvalue"), fmt_p(c["ks_uniform"], "pvalue"));
      }
    }
  } else {
    r += row(fmt::format("Normality: mean p over {} x {} rows", opt.repetitions, opt.subsample),
             names);
    const std::vector<std::pair<std::string, std::string>> keys = {
        {"D'Agostino-Pearson K^2 (projection)", "dagostino"},
        {"Shapiro-Wilk (projection)", "shapiro"},
        {"Henze-Zirkler", "henze_zirkler"},
        {"Mardia skewness", "mardia_skewness"},
        {"Mardia kurtosis", "mardia_kurtosis"},
        {"KS vs U[0,1] per coordinate, Fisher", "ks_fisher"}};
    normality_rows(keys, "mean_pvalue");
  }
  for (const auto& nm : names) {
    if (!reason(normality[nm]).empty())
      r += fmt::format("    {}: n/a ({})\n", nm, reason(normality[nm]));
    if (normality[nm].contains("note"))
      r += fmt::format("    {}: {}\n", nm, normality[nm]["note"].get<std::string>());
  }
  if (opt.distances) {
    r += "\n" + row("Distances to the prior", names);
    const std::vector<std::pair<std::string, std::string>> keys = {
        {fmt::format("sliced W2 ({} directions)", opt.directions), "sliced_wasserstein2"},
        {"  same for two prior samples (floor)", "sliced_wasserstein2_baseline"},
        {"MMD^2, Gaussian kernel (median heuristic)", "mmd2"},
        {"energy distance", "energy"}};
    for (const auto& [label, key] : keys) {
      std::vector<std::string> cells;
      for (const auto& nm : names)
        cells.push_back(fmt_p(m["distances"][nm].value(key, json()), ""));
      r += row(label, cells);
    }
  }
  r += "\n";
  if (m["certificate"].contains("not_applicable")) {
    r += fmt::format("KL certificate: n/a ({})\n", reason(m["certificate"]));
  } else {
    const json& c = m["certificate"];
    r += fmt::format(
        "KL certificate C - I = {:.4g} nats (capacity {:.4g}, MI estimate {:.4g}{})\n",
        c["kl_upper_bound"].get<double>(), c["capacity"].get<double>(),
        c["mi_estimate"].get<double>(),
        c.contains("epoch") ? fmt::format(", epoch {}", c["epoch"].get<int64_t>()) : "");
    if (c.contains("note")) r += fmt::format("  note: {}\n", c["note"].get<std::string>());
  }
  r += "\n";
  const json& cl = m["classifiers"];
  if (cl.contains("not_applicable")) {
    r += fmt::format("Classifiers: n/a ({})\n", reason(cl));
  } else {
    r += row("Classifiers (fit on train, scored on test)", {"accuracy", "micro-F1", "ROC-AUC ovo"});
    for (const auto& [label, key] : std::vector<std::pair<std::string, std::string>>{
             {"logistic regression", "logistic_regression"},
             {"Gaussian naive Bayes", "gaussian_nb"},
             {fmt::format("k nearest neighbours (k = {})", opt.neighbors), "knn"},
             {"MLP (100 ReLU, alpha = 1)", "mlp"}}) {
      const json& c = cl[key];
      if (c.contains("not_applicable")) {
        r += fmt::format("  {:<44} n/a ({})\n", label, reason(c));
        continue;
      }
      r += row(label,
               {fmt_p(c["accuracy"], ""), fmt_p(c["f1_micro"], ""), fmt_p(c["roc_auc_ovo"], "")});
      if (c.contains("converged") && !c["converged"].get<bool>())
        r += fmt::format("    not converged after {} {}\n",
                         c.value("iterations", c.value("epochs", int64_t(0))),
                         c.contains("iterations") ? "iterations" : "epochs");
      if (c["roc_auc_ovo"].contains("not_applicable"))
        r += fmt::format("    ROC-AUC n/a ({})\n", reason(c["roc_auc_ovo"]));
    }
  }
  const json& cu = m["clustering"];
  if (cu.contains("not_applicable")) {
    r += fmt::format("Clustering: n/a ({})\n", reason(cu));
  } else {
    r += fmt::format(
        "Clustering of {} embeddings by label: silhouette {}, Davies-Bouldin {}, Calinski-Harabasz "
        "{}\n",
        cu["set"].get<std::string>(), fmt_p(cu["silhouette"], ""), fmt_p(cu["davies_bouldin"], ""),
        fmt_p(cu["calinski_harabasz"], ""));
    if (!reason(cu["silhouette"]).empty())
      r += fmt::format("    n/a ({})\n", reason(cu["silhouette"]));
  }
  if (!notes.empty()) {
    r += "\nNotes:\n";
    for (const auto& n : notes) r += "  - " + n + "\n";
  }
  return ev;
}

}  // namespace nidim::eval_dm
