// nidim/tests/stats/test_classifiers.cpp: the downstream classifiers and metrics against
// scikit-learn 1.2 (classifiers.json).
//
// What is compared, and why those tolerances:
//   * Gaussian naive Bayes and kNN are closed-form: parameters and probabilities to 1e-9
//     relative (1e-12 absolute for probabilities near 0), predictions exactly.
//   * Logistic regression is an optimum. The reference optimum of scikit-learn's objective comes
//     from Newton's method in the fixture script (scikit-learn's lbfgs stops on scipy's relative-
//     decrease rule whatever its tol, ~1e-3 short of the optimum); our L-BFGS run to a gradient
//     of 1e-9 agrees on coefficients to 1e-6 relative (the Hessian's smallest eigenvalue here is
//     >= 1, the penalty's, so |dw| <= |g| ~ 1e-9 up to rounding). With the defaults both stop
//     early by the same rules along different paths: probabilities within 1e-3 of
//     scikit-learn's and identical predictions on these data.
//   * MLP: given the same initial weights and no shuffling, our Adam trajectory must reproduce
//     scikit-learn's (weights after 6 epochs and the loss curve, 1e-9 relative: the same
//     arithmetic in a different summation order). With random initialization (Philox here, numpy
//     there) only the accuracy is comparable: within 0.05 of scikit-learn's mean over 5 seeds
//     (6 of 120 test rows).
//   * accuracy, micro-F1 exactly; one-vs-one AUC on the same probabilities to 1e-12.
#include <cmath>
#include <vector>

#include "fixtures.h"
#include "stats/classifiers.h"

using namespace nidim::stats;
using nidim_test::num;
using nidim_test::vec;

namespace {

struct Set {
  int64_t n_train = 0, n_test = 0, d = 0, k = 0;
  std::vector<double> x_train, x_test;
  LabelEncoding enc;
  std::vector<int64_t> y_test;  // codes
  std::vector<int64_t> raw_test;
};

Set load(const nlohmann::json& s) {
  Set t;
  for (const auto& r : s["x_train"])
    for (const auto& v : r) t.x_train.push_back(num(v));
  for (const auto& r : s["x_test"])
    for (const auto& v : r) t.x_test.push_back(num(v));
  const std::vector<int64_t> ytr = nidim_test::ivec(s["y_train"]);
  t.raw_test = nidim_test::ivec(s["y_test"]);
  t.n_train = static_cast<int64_t>(ytr.size());
  t.n_test = static_cast<int64_t>(t.raw_test.size());
  t.d = static_cast<int64_t>(t.x_train.size()) / t.n_train;
  t.enc = encode_labels(ytr.data(), t.n_train);
  t.k = static_cast<int64_t>(t.enc.classes.size());
  t.y_test = apply_encoding(t.enc.classes, t.raw_test.data(), t.n_test);
  return t;
}

// scikit-learn's predictions are labels; compare as codes.
std::vector<int64_t> codes(const Set& t, const nlohmann::json& pred) {
  const std::vector<int64_t> p = nidim_test::ivec(pred);
  return apply_encoding(t.enc.classes, p.data(), static_cast<int64_t>(p.size()));
}

void check_proba(const Probabilities& got, const nlohmann::json& want, double rel, double abs) {
  REQUIRE(static_cast<size_t>(got.n) == want.size());
  for (int64_t i = 0; i < got.n; ++i)
    for (int64_t c = 0; c < got.k; ++c)
      CHECK_CLOSE(got.p[i * got.k + c], num(want[i][c]), rel, abs);
}

Probabilities fixture_proba(const Set& t, const nlohmann::json& want) {
  Probabilities p{t.n_test, t.k, {}};
  for (const auto& r : want)
    for (const auto& v : r) p.p.push_back(num(v));
  return p;
}

void check_scores(const Set& t, const std::vector<int64_t>& pred, const nlohmann::json& want) {
  CHECK(accuracy(t.y_test.data(), pred.data(), t.n_test) == num(want["accuracy"]));
  CHECK_CLOSE(f1_micro(t.y_test.data(), pred.data(), t.n_test), num(want["f1_micro"]), 1e-15, 0.0);
  const Estimate auc = roc_auc_ovo(t.y_test.data(), fixture_proba(t, want["proba"]));
  REQUIRE(auc.applicable());
  CHECK_CLOSE(auc.value, num(want["roc_auc_ovo"]), 1e-12, 0.0);
}

}  // namespace

TEST_CASE("classifiers: Gaussian naive Bayes against scikit-learn") {
  const auto j = nidim_test::load_fixture("classifiers.json");
  for (const auto& s : j["sets"]) {
    INFO(s["name"].get<std::string>());
    const Set t = load(s);
    const auto& w = s["gaussian_nb"];
    const GaussianNbModel m =
        fit_gaussian_nb(t.x_train.data(), t.n_train, t.d, t.enc.codes.data(), t.k);
    CHECK_CLOSE(m.epsilon, num(w["epsilon"]), 1e-9, 0.0);
    for (int64_t c = 0; c < t.k; ++c) {
      CHECK_CLOSE(m.prior[c], num(w["prior"][c]), 1e-12, 0.0);
      for (int64_t f = 0; f < t.d; ++f) {
        CHECK_CLOSE(m.theta[c * t.d + f], num(w["theta"][c][f]), 1e-9, 1e-14);
        CHECK_CLOSE(m.var[c * t.d + f], num(w["var"][c][f]), 1e-9, 0.0);
      }
    }
    check_proba(m.predict_proba(t.x_test.data(), t.n_test), w["proba"], 1e-9, 1e-12);
    const std::vector<int64_t> pred = m.predict(t.x_test.data(), t.n_test);
    CHECK(pred == codes(t, w["pred"]));
    check_scores(t, pred, w);
  }
}

TEST_CASE("classifiers: k nearest neighbours against scikit-learn") {
  const auto j = nidim_test::load_fixture("classifiers.json");
  for (const auto& s : j["sets"]) {
    INFO(s["name"].get<std::string>());
    const Set t = load(s);
    const auto& w = s["knn"];
    const KnnResult r = knn_classify(t.x_train.data(), t.n_train, t.d, t.enc.codes.data(), t.k,
                                     t.x_test.data(), t.n_test, 5);
    check_proba(r.proba, w["proba"], 0.0, 0.0);  // vote fractions k/5: exact
    CHECK(r.predicted == codes(t, w["pred"]));
    check_scores(t, r.predicted, w);
  }
}

TEST_CASE("classifiers: logistic regression against scikit-learn") {
  const auto j = nidim_test::load_fixture("classifiers.json");
  for (const auto& s : j["sets"]) {
    INFO(s["name"].get<std::string>());
    const Set t = load(s);
    LogisticOptions tight;
    tight.tol = 1e-9;
    tight.ftol = 0;
    tight.max_iter = 10000;
    const LogisticModel m =
        fit_logistic(t.x_train.data(), t.n_train, t.d, t.enc.codes.data(), t.k, tight);
    CHECK(m.converged);
    const auto& w = s["logistic_tight"];
    REQUIRE(static_cast<size_t>(m.rows) == w["coef"].size());
    for (int64_t r = 0; r < m.rows; ++r) {
      CHECK_CLOSE(m.b[r], num(w["intercept"][r]), 1e-6, 1e-8);
      for (int64_t c = 0; c < t.d; ++c)
        CHECK_CLOSE(m.w[r * t.d + c], num(w["coef"][r][c]), 1e-6, 1e-8);
    }
    check_proba(m.predict_proba(t.x_test.data(), t.n_test), w["proba"], 1e-6, 1e-9);

    const LogisticModel md =
        fit_logistic(t.x_train.data(), t.n_train, t.d, t.enc.codes.data(), t.k);
    const auto& wd = s["logistic_default"];
    check_proba(md.predict_proba(t.x_test.data(), t.n_test), wd["proba"], 0.0, 1e-3);
    const std::vector<int64_t> pred = md.predict(t.x_test.data(), t.n_test);
    CHECK(pred == codes(t, wd["pred"]));
    check_scores(t, pred, wd);
  }
}

TEST_CASE("classifiers: AUC of probabilities that are not numbers is not applicable") {
  // NaN probabilities (from overflowing inputs) used to send the rank loop into an endless loop.
  const std::vector<int64_t> y = {0, 1, 0, 1};
  Probabilities p{4, 2, {0.9, 0.1, NAN, NAN, 0.8, 0.2, 0.3, 0.7}};
  const Estimate auc = roc_auc_ovo(y.data(), p);
  CHECK_FALSE(auc.applicable());
  CHECK(auc.not_applicable == "the classifier's probabilities are not all finite numbers");
  CHECK(std::isnan(binary_auc({0.1, NAN, 0.2}, {0, 1, 1})));
  CHECK(binary_auc({0.1, 0.4, 0.2}, {0, 1, 1}) == 1.0);
}

TEST_CASE("classifiers: logistic regression on features of order 1e8") {
  // The first step (|step| = 1 in weight space) overshoots by ~1e9, and the line search must
  // shrink it that far; it used to give up, leaving the weights at zero (chance-level accuracy,
  // AUC 0.5). At this scale the problem is badly conditioned (weights ~1e-8 against intercepts
  // ~1), and neither scikit-learn's lbfgs nor ours reaches the optimum in 100 iterations, so the
  // check is that a fit happened and classifies like the optimum (make_fixtures.py,
  // logistic_large_scale: Newton's method on the unscaled problem) and like scikit-learn's fit:
  // accuracy within 0.05 of both (6 of 120 test rows), and the optimum's AUC within 0.05.
  const auto j = nidim_test::load_fixture("classifiers.json")["large_scale"];
  const Set t = load(j);
  const LogisticModel m = fit_logistic(t.x_train.data(), t.n_train, t.d, t.enc.codes.data(), t.k);
  CHECK(m.iterations > 1);
  const std::vector<int64_t> pred = m.predict(t.x_test.data(), t.n_test);
  const double acc = accuracy(t.y_test.data(), pred.data(), t.n_test);
  CHECK(std::fabs(acc - num(j["accuracy"])) <= 0.05);
  CHECK(std::fabs(acc - num(j["sklearn_default_accuracy"])) <= 0.05);
  const Estimate auc = roc_auc_ovo(t.y_test.data(), m.predict_proba(t.x_test.data(), t.n_test));
  REQUIRE(auc.applicable());
  CHECK(std::fabs(auc.value - num(j["roc_auc_ovo"])) <= 0.05);
}

TEST_CASE("classifiers: MLP reproduces scikit-learn's Adam trajectory from the same start") {
  const auto j = nidim_test::load_fixture("classifiers.json");
  for (const auto& s : j["sets"]) {
    INFO(s["name"].get<std::string>());
    const Set t = load(s);
    const auto& w = s["mlp_trajectory"];
    MlpOptions o;
    o.hidden = w["hidden"].get<int64_t>();
    o.max_iter = w["epochs"].get<int64_t>();
    o.shuffle = false;
    o.n_iter_no_change = 1000000;
    MlpModel init = init_mlp(t.d, t.k, o);
    auto flat = [](const nlohmann::json& m) {
      std::vector<double> v;
      for (const auto& r : m)
        for (const auto& e : r) v.push_back(num(e));
      return v;
    };
    init.w1 = flat(w["w1"]);
    init.b1 = vec(w["b1"]);
    init.w2 = flat(w["w2"]);
    init.b2 = vec(w["b2"]);
    const MlpModel m = fit_mlp(t.x_train.data(), t.n_train, t.d, t.enc.codes.data(), t.k, o, &init);
    const std::vector<double> w1 = flat(w["w1_after"]), w2 = flat(w["w2_after"]);
    const std::vector<double> b1 = vec(w["b1_after"]), b2 = vec(w["b2_after"]);
    for (size_t i = 0; i < w1.size(); ++i) CHECK_CLOSE(m.w1[i], w1[i], 1e-9, 1e-12);
    for (size_t i = 0; i < w2.size(); ++i) CHECK_CLOSE(m.w2[i], w2[i], 1e-9, 1e-12);
    for (size_t i = 0; i < b1.size(); ++i) CHECK_CLOSE(m.b1[i], b1[i], 1e-9, 1e-12);
    for (size_t i = 0; i < b2.size(); ++i) CHECK_CLOSE(m.b2[i], b2[i], 1e-9, 1e-12);
    const std::vector<double> curve = vec(w["loss_curve"]);
    REQUIRE(m.loss_curve.size() == curve.size());
    for (size_t i = 0; i < curve.size(); ++i) CHECK_CLOSE(m.loss_curve[i], curve[i], 1e-9, 0.0);
    check_proba(m.predict_proba(t.x_test.data(), t.n_test), w["proba"], 1e-9, 1e-12);
  }
}

TEST_CASE("classifiers: MLP with its defaults scores like scikit-learn's") {
  const auto j = nidim_test::load_fixture("classifiers.json");
  for (const auto& s : j["sets"]) {
    INFO(s["name"].get<std::string>());
    const Set t = load(s);
    double mean = 0;
    for (uint64_t seed = 0; seed < 5; ++seed) {
      MlpOptions o;
      o.seed = seed;
      const MlpModel m = fit_mlp(t.x_train.data(), t.n_train, t.d, t.enc.codes.data(), t.k, o);
      CHECK(m.converged);
      const std::vector<int64_t> pred = m.predict_proba(t.x_test.data(), t.n_test).argmax();
      mean += accuracy(t.y_test.data(), pred.data(), t.n_test) / 5;
    }
    CHECK(std::fabs(mean - num(s["mlp_default_accuracy"]["mean"])) <= 0.05);
  }
}

TEST_CASE("metrics: AUC closed forms and not-applicable cases") {
  // Perfect separation, reversed order, and all ties.
  CHECK(binary_auc({0.1, 0.2, 0.8, 0.9}, {0, 0, 1, 1}) == 1.0);
  CHECK(binary_auc({0.9, 0.8, 0.2, 0.1}, {0, 0, 1, 1}) == 0.0);
  CHECK(binary_auc({0.5, 0.5, 0.5, 0.5}, {0, 1, 0, 1}) == 0.5);
  Probabilities p{3, 3, {0.8, 0.1, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.8}};
  const std::vector<int64_t> two_classes = {0, 1, 1};
  CHECK(roc_auc_ovo(two_classes.data(), p).not_applicable ==
        "test labels contain 2 of the 3 training classes; one-vs-one AUC needs all");
  const std::vector<int64_t> unknown = {0, 1, -1};
  CHECK(roc_auc_ovo(unknown.data(), p).not_applicable ==
        "1 test rows have classes the classifier was not trained on");
  const std::vector<int64_t> y = {0, 0, 1};
  const std::vector<double> x = {0.0, 1.0, NAN};
  CHECK_THROWS(fit_gaussian_nb(x.data(), 3, 1, y.data(), 2));
  CHECK_THROWS_WITH(fit_logistic(x.data(), 2, 1, y.data(), 2),
                    "logistic regression: class 1 has no training rows");
}
