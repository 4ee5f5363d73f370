// nidim/tests/stats/test_probe.cpp: the linear and weighted-kNN probes (stats/probe.h) against
// PyTorch, scikit-learn and an independent numpy implementation (probe.json, written by
// tests/fixtures/stats/make_probe_fixtures.py).
//
// What is compared, and why those tolerances:
//   * kNN: the numpy reference sums similarities feature by feature in nidim's order, so the
//     similarities agree to an ulp or two (nidim's products may be fused into FMAs under
//     -march=native) and neighbour sets (exact ties from duplicated and doubled rows included:
//     identical rows give identical similarities on each side) must be equal: predictions and
//     top-1/top-5 exactly. Scores to 1e-13 relative: the same exp(s / T) terms summed in the same
//     order, each within a few ulps (s / T amplifies an ulp of s by |s| / T <= 15).
//   * Linear probe vs PyTorch float64, same initial weights (the Python Philox of
//     make_fixtures.py reproduces init_linear_probe: bitwise) and same batch order: both run
//     the same float64 arithmetic in different summation orders (BLAS there), ~1e-16 relative
//     per operation. Over 25 SGD steps on a convex loss those differences do not grow beyond a
//     factor of the step count (observed max ~1e-14), so weights, biases and the loss curve to
//     1e-11 (relative, 1e-12 absolute); accuracies exactly (no logit is within 1e-11 of a tie).
//   * Linear probe with weight decay 0.01, full batch, 3000 epochs vs scikit-learn's
//     LogisticRegression(C = 1 / (N wd), multinomial, newton-cg, tol 1e-12): the fixture script
//     checks that PyTorch's run reaches that optimum within 2e-10; ours runs the same
//     iteration, so W within 1e-8 and the biases (less their mean: softmax leaves it free) within
//     1e-8.
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"
#include "fixtures.h"
#include "stats/probe.h"

using namespace nidim::stats;
using nidim_test::matrix;
using nidim_test::num;
using nidim_test::vec;

namespace {

std::vector<double> flat(const nlohmann::json& rows) {
  int64_t n = 0, d = 0;
  return matrix(rows, &n, &d);
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

}  // namespace

TEST_CASE("knn probe: scores, predictions and top-k equal a numpy implementation") {
  const auto fx = nidim_test::load_fixture("probe.json");
  for (const auto& s : fx["knn"]) {
    INFO(s["name"].get<std::string>());
    int64_t ntr = 0, nte = 0, d = 0;
    const std::vector<double> xtr = matrix(s["x_train"], &ntr, &d),
                              xte = matrix(s["x_test"], &nte, &d);
    const std::vector<int64_t> ytr = nidim_test::ivec(s["y_train"]),
                               yte = nidim_test::ivec(s["y_test"]);
    const int64_t kc = s["classes"].get<int64_t>();
    KnnProbeOptions opt;
    opt.k = s["k"].get<int64_t>();
    opt.temperature = num(s["temperature"]);
    const KnnProbeResult r = knn_probe(xtr.data(), ntr, d, ytr.data(), kc, xte.data(), nte, opt);
    CHECK(r.neighbors == s["neighbors"].get<int64_t>());
    const std::vector<double> want = flat(s["scores"]);
    REQUIRE(r.scores.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) CHECK_CLOSE(r.scores[i], want[i], 1e-13, 0.0);
    const TopKAccuracy acc = topk_accuracy(r.scores.data(), nte, kc, yte.data(), 5);
    CHECK(acc.predicted == nidim_test::ivec(s["pred"]));
    CHECK(acc.top1 == num(s["top1"]));
    CHECK(acc.topk == num(s["top5"]));
    CHECK(acc.k == std::min<int64_t>(5, kc));
  }
}

TEST_CASE("knn probe: results do not depend on the thread count; bad input is refused") {
  const auto fx = nidim_test::load_fixture("probe.json");
  const auto& s = fx["knn"][0];
  int64_t ntr = 0, nte = 0, d = 0;
  const std::vector<double> xtr = matrix(s["x_train"], &ntr, &d),
                            xte = matrix(s["x_test"], &nte, &d);
  const std::vector<int64_t> ytr = nidim_test::ivec(s["y_train"]);
  const int threads = nidim::num_threads();
  nidim::set_num_threads(1);
  const KnnProbeResult one = knn_probe(xtr.data(), ntr, d, ytr.data(), 5, xte.data(), nte);
  nidim::set_num_threads(threads);
  const KnnProbeResult all = knn_probe(xtr.data(), ntr, d, ytr.data(), 5, xte.data(), nte);
  CHECK(one.scores == all.scores);
  KnnProbeOptions bad;
  bad.k = 0;
  CHECK_THROWS_WITH(knn_probe(xtr.data(), ntr, d, ytr.data(), 5, xte.data(), nte, bad),
                    "knn probe: k = 0 must be >= 1");
  std::vector<double> nan_test = xte;
  nan_test[2 * d + 1] = NAN;
  CHECK_THROWS_WITH(knn_probe(xtr.data(), ntr, d, ytr.data(), 5, nan_test.data(), nte),
                    "knn probe (test): feature nan at row 2, column 1 is not finite");
  CHECK_THROWS_WITH(knn_probe(xtr.data(), ntr, d, ytr.data(), 1, xte.data(), nte),
                    "knn probe (train): needs at least 2 classes, got 1");
}

TEST_CASE("linear probe: initialization and SGD trajectory equal PyTorch's") {
  const auto fx = nidim_test::load_fixture("probe.json");
  const auto& lin = fx["linear"];
  int64_t ntr = 0, nte = 0, d = 0;
  const std::vector<double> xtr = matrix(lin["x_train"], &ntr, &d),
                            xte = matrix(lin["x_test"], &nte, &d);
  const std::vector<int64_t> ytr = nidim_test::ivec(lin["y_train"]),
                             yte = nidim_test::ivec(lin["y_test"]);
  const int64_t k = 7;
  for (const auto& s : lin["sgd"]) {
    INFO(s["name"].get<std::string>());
    LinearProbeOptions opt;
    opt.epochs = s["epochs"].get<int64_t>();
    opt.batch_size = s["batch"].get<int64_t>();
    opt.lr = num(s["lr"]);
    opt.momentum = num(s["momentum"]);
    opt.nesterov = s["nesterov"].get<bool>();
    opt.weight_decay = num(s["wd"]);
    opt.seed = s["seed"].get<uint64_t>();
    opt.shuffle = s["shuffle"].get<bool>();
    const LinearProbeModel init = init_linear_probe(d, k, opt.seed);
    // The same Philox draws and arithmetic: bitwise.
    CHECK(max_abs_diff(init.w, flat(s["w0"])) == 0.0);
    CHECK(max_abs_diff(init.b, vec(s["b0"])) == 0.0);
    const LinearProbeModel m = fit_linear_probe(xtr.data(), ntr, d, ytr.data(), k, opt);
    const std::vector<double> w = flat(s["w"]), b = vec(s["b"]), loss = vec(s["loss_curve"]);
    MESSAGE("max |dW| vs PyTorch: " << max_abs_diff(m.w, w));
    for (size_t i = 0; i < w.size(); ++i) CHECK_CLOSE(m.w[i], w[i], 1e-11, 1e-12);
    for (size_t i = 0; i < b.size(); ++i) CHECK_CLOSE(m.b[i], b[i], 1e-11, 1e-12);
    REQUIRE(m.loss_curve.size() == loss.size());
    for (size_t i = 0; i < loss.size(); ++i) CHECK_CLOSE(m.loss_curve[i], loss[i], 1e-11, 0.0);
    const TopKAccuracy te = topk_accuracy(m.logits(xte.data(), nte).data(), nte, k, yte.data(), 5);
    const TopKAccuracy tr = topk_accuracy(m.logits(xtr.data(), ntr).data(), ntr, k, ytr.data(), 1);
    CHECK(te.top1 == num(s["top1"]));
    CHECK(te.topk == num(s["top5"]));
    CHECK(tr.top1 == num(s["train_top1"]));
  }
}

TEST_CASE("linear probe: with weight decay it converges to scikit-learn's logistic regression") {
  const auto fx = nidim_test::load_fixture("probe.json");
  const auto& s = fx["linear"]["convex"];
  int64_t n = 0, d = 0;
  const std::vector<double> x = matrix(s["x_train"], &n, &d);
  const std::vector<int64_t> y = nidim_test::ivec(s["y_train"]);
  LinearProbeOptions opt;
  opt.epochs = s["epochs"].get<int64_t>();
  opt.batch_size = s["batch"].get<int64_t>();
  opt.lr = num(s["lr"]);
  opt.weight_decay = num(s["wd"]);
  opt.seed = s["seed"].get<uint64_t>();
  CHECK_CLOSE(num(s["C"]), 1.0 / (static_cast<double>(n) * opt.weight_decay), 1e-15, 0.0);
  const LinearProbeModel m = fit_linear_probe(x.data(), n, d, y.data(), 3, opt);
  const std::vector<double> coef = flat(s["coef"]), icpt = vec(s["intercept"]);
  MESSAGE("max |dW| vs scikit-learn: " << max_abs_diff(m.w, coef));
  for (size_t i = 0; i < coef.size(); ++i) CHECK_CLOSE(m.w[i], coef[i], 0.0, 1e-8);
  double mb = 0, mi = 0;
  for (int c = 0; c < 3; ++c) {
    mb += m.b[c] / 3;
    mi += icpt[c] / 3;
  }
  for (int c = 0; c < 3; ++c) CHECK_CLOSE(m.b[c] - mb, icpt[c] - mi, 0.0, 1e-8);
}

TEST_CASE("linear probe: thread count, schedule, top-k ties and bad input") {
  const auto fx = nidim_test::load_fixture("probe.json");
  const auto& lin = fx["linear"];
  int64_t n = 0, d = 0;
  const std::vector<double> x = matrix(lin["x_train"], &n, &d);
  const std::vector<int64_t> y = nidim_test::ivec(lin["y_train"]);
  LinearProbeOptions opt;
  opt.epochs = 3;
  const int threads = nidim::num_threads();
  nidim::set_num_threads(1);
  const LinearProbeModel one = fit_linear_probe(x.data(), n, d, y.data(), 7, opt);
  nidim::set_num_threads(threads);
  const LinearProbeModel all = fit_linear_probe(x.data(), n, d, y.data(), 7, opt);
  CHECK(one.w == all.w);
  // Cosine per epoch: full rate at epoch 0, half at E/2, scaled by batch / 256.
  opt.epochs = 10;
  opt.batch_size = 512;
  CHECK(opt.epoch_lr(0) == 0.2);
  CHECK_CLOSE(opt.epoch_lr(5), 0.1, 1e-15, 0.0);
  // Ties rank the smaller class first: row 0 ties classes 1 and 2 (label 2: second), row 1 has
  // all equal (label 3: fourth, outside top-3).
  const std::vector<double> scores = {0.1, 0.5, 0.5, 0.2, 1, 1, 1, 1};
  const std::vector<int64_t> labels = {2, 3};
  const TopKAccuracy t = topk_accuracy(scores.data(), 2, 4, labels.data(), 3);
  CHECK(t.predicted == std::vector<int64_t>{1, 0});
  CHECK(t.top1 == 0.0);
  CHECK(t.topk == 0.5);
  std::vector<int64_t> one_class(static_cast<size_t>(n), 0);
  CHECK_THROWS_WITH(fit_linear_probe(x.data(), n, d, one_class.data(), 1),
                    "linear probe (train): needs at least 2 classes, got 1");
  // A rate far too large for the features' scale: the weights overflow in the first step.
  std::vector<double> huge = x;
  for (double& v : huge) v *= 1e150;
  opt.lr = 1e160;
  opt.epochs = 2;
  CHECK_THROWS_WITH_AS(fit_linear_probe(huge.data(), n, d, y.data(), 7, opt),
                       doctest::Contains("linear probe: the loss is not finite after epoch"),
                       nidim::Error);
}
