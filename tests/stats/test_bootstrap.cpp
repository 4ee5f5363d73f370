// nidim/tests/stats/test_bootstrap.cpp: the bootstrap protocol against bootstrap.json, where
// make_fixtures.py reproduces every repetition's direction and subsample with a Python Philox
// and nidim's Generator rules, and runs scipy's normaltest and kstest, the float64 Shapiro-Wilk,
// pingouin's Henze-Zirkler and MVN's Mardia on the same numbers; plus the change of variables.
//
// Tolerances: directions 1e-14 (the same libm calls in Python and C++, a dot product of rounding
// apart), subsample rows exactly, p-values 1e-9 relative (see test_univariate.cpp), and the
// thread-count check bit-exact.
#include "core/parallel.h"

#include <cmath>
#include <vector>

#include "core/random.h"
#include "fixtures.h"
#include "stats/bootstrap.h"
#include "stats/priors.h"
#include "stats/special.h"

using namespace nidim::stats;
using nidim_test::matrix;
using nidim_test::num;
using nidim_test::vec;

namespace {

BootstrapOptions all_tests(const nlohmann::json& s) {
  BootstrapOptions o;
  o.seed = s["seed"].get<uint64_t>();
  o.repetitions = s["repetitions"].get<int64_t>();
  o.subsample = s["subsample"].get<int64_t>();
  o.mardia = true;
  o.ks_fisher = true;
  return o;
}

}  // namespace

TEST_CASE("bootstrap: directions and subsamples follow (seed, repetition)") {
  const auto j = nidim_test::load_fixture("bootstrap.json");
  for (const auto& s : j["sets"]) {
    int64_t n, d;
    matrix(s["z"], &n, &d);
    const int64_t m = s["subsample"].get<int64_t>();
    for (size_t r = 0; r < s["reps"].size(); ++r) {
      nidim::Generator g(s["seed"].get<uint64_t>(), r);
      const std::vector<double> u = random_direction(g, d);
      const std::vector<int64_t> rows = random_subsample(g, n, m);
      const std::vector<double> want = vec(s["reps"][r]["direction"]);
      for (int64_t c = 0; c < d; ++c) CHECK_CLOSE(u[c], want[c], 1e-14, 1e-15);
      CHECK(rows == nidim_test::ivec(s["reps"][r]["rows"]));
    }
  }
}

TEST_CASE("bootstrap: per-repetition p-values and means against scipy / numpy references") {
  const auto j = nidim_test::load_fixture("bootstrap.json");
  for (const auto& s : j["sets"]) {
    INFO(s["name"].get<std::string>());
    int64_t n, d;
    const std::vector<double> z = matrix(s["z"], &n, &d);
    std::vector<double> u(z.size());
    for (size_t i = 0; i < z.size(); ++i) u[i] = normal_cdf(z[i]);
    const BootstrapResult res = projection_bootstrap(z.data(), u.data(), n, d, all_tests(s));
    REQUIRE(res.series.size() == 6);
    for (const BootstrapSeries& ser : res.series) {
      INFO(ser.name);
      double sum = 0;
      int64_t count = 0;
      for (size_t r = 0; r < s["reps"].size(); ++r) {
        const double want = num(s["reps"][r][ser.name]);
        if (std::isnan(want)) {
          CHECK(std::isnan(ser.pvalues[r]));
          continue;
        }
        CHECK_CLOSE(ser.pvalues[r], want, 1e-9, 1e-15);
        sum += want;
        ++count;
      }
      CHECK(ser.applicable == count);
      if (count > 0) {
        CHECK_CLOSE(ser.mean_pvalue, sum / count, 1e-9, 1e-15);
      } else {
        CHECK_FALSE(ser.not_applicable.empty());
      }
    }
  }
}

TEST_CASE("bootstrap: the same result for any thread count") {
  const auto j = nidim_test::load_fixture("bootstrap.json");
  const auto& s = j["sets"][0];
  int64_t n, d;
  const std::vector<double> z = matrix(s["z"], &n, &d);
  BootstrapOptions o = all_tests(s);
  o.repetitions = 64;
  nidim::set_num_threads(1);
  const BootstrapResult a = projection_bootstrap(z.data(), nullptr, n, d, o);
  nidim::set_num_threads(4);
  const BootstrapResult b = projection_bootstrap(z.data(), nullptr, n, d, o);
  nidim::set_num_threads(0);
  REQUIRE(a.series.size() == b.series.size());
  for (size_t k = 0; k < a.series.size(); ++k) {
    CHECK(a.series[k].mean_pvalue == b.series[k].mean_pvalue);
    for (size_t r = 0; r < a.series[k].pvalues.size(); ++r) {
      const double pa = a.series[k].pvalues[r], pb = b.series[k].pvalues[r];
      CHECK(((pa == pb) || (std::isnan(pa) && std::isnan(pb))));
    }
  }
}

TEST_CASE("bootstrap: Gaussian data give mean p-values near 1/2, others near 0") {
  // Under the null each p-value is uniform on [0, 1]: the mean of 256 has standard deviation
  // sqrt(1/12/256) = 0.018, so 0.5 +- 0.1 is a five-sigma band.
  nidim::Generator g(42, 0);
  const int64_t n = 2000, d = 4;
  std::vector<double> z(n * d), e(n * d);
  for (auto& v : z) v = g.normal();
  for (auto& v : e) v = -std::log(g.uniform() + 1e-300);  // exponential: far from normal
  BootstrapOptions o;
  o.repetitions = 256;
  o.seed = 9;
  const BootstrapResult rz = projection_bootstrap(z.data(), nullptr, n, d, o);
  for (const auto& ser : rz.series) {
    INFO(ser.name);
    CHECK(ser.mean_pvalue > 0.4);
    CHECK(ser.mean_pvalue < 0.6);
  }
  const BootstrapResult re = projection_bootstrap(e.data(), nullptr, n, d, o);
  for (const auto& ser : re.series) {
    INFO(ser.name);
    CHECK(ser.mean_pvalue < 0.1);
  }
}

TEST_CASE("bootstrap: too few rows and subsamples not larger than the dimension") {
  std::vector<double> z(30 * 2, 0.5);
  BootstrapOptions o;
  const BootstrapResult r = projection_bootstrap(z.data(), nullptr, 30, 2, o);
  CHECK(r.not_applicable == "needs at least 64 rows for subsamples of 64, got 30");
  for (const auto& s : r.series) CHECK(s.not_applicable == r.not_applicable);
  // M = 8 rows in D = 10 dimensions: Henze-Zirkler's covariance is singular in every repetition.
  nidim::Generator g(1, 0);
  std::vector<double> w(100 * 10);
  for (auto& v : w) v = g.normal();
  o.subsample = 8;
  o.repetitions = 16;
  const BootstrapResult rw = projection_bootstrap(w.data(), nullptr, 100, 10, o);
  const BootstrapSeries* hz = rw.find("henze_zirkler");
  REQUIRE(hz != nullptr);
  CHECK(hz->applicable == 16);
  CHECK(hz->note.find("singular") != std::string::npos);
}

TEST_CASE("priors: change of variables to N(0,1) coordinates") {
  // z = Phi^{-1}(F(y)) against closed forms: Laplace F(y) = e^y / 2 (y < 0); logistic F = sigmoid.
  const std::vector<double> y = {-30.0, -2.5, -0.1, 0.0, 0.7, 3.0, 40.0};
  for (Prior p : {Prior::kLaplace, Prior::kLogistic, Prior::kGaussian}) {
    INFO(prior_name(p));
    const PriorCoordinates c = to_prior_coordinates(p, y.data(), static_cast<int64_t>(y.size()));
    for (size_t i = 0; i < y.size(); ++i) {
      CHECK_CLOSE(c.u[i], prior_cdf(p, y[i]), 1e-15, 1e-300);
      if (c.u[i] > kPitClamp && 1 - c.u[i] > kPitClamp) {
        // Round trip through the prior's quantile and Phi.
        CHECK_CLOSE(prior_quantile(p, normal_cdf(c.z[i])), y[i], 1e-9, 1e-12);
      }
    }
  }
  const std::vector<double> u = {0.0, 0.25, 0.5, 1.0};
  const PriorCoordinates c = to_prior_coordinates(Prior::kUniform, u.data(), 4);
  CHECK(c.clamped == 2);
  CHECK_CLOSE(c.z[1], -0.6744897501960817, 1e-15, 0.0);  // scipy.special.ndtri(0.25)
  CHECK_CLOSE(c.z[0], normal_ppf(kPitClamp), 0.0, 0.0);
  const std::vector<double> bad = {0.5, 1.2};
  CHECK_THROWS_WITH(to_prior_coordinates(Prior::kUniform, bad.data(), 2),
                    "prior uniform: 1 values are outside [0, 1] (first 1.2 at index 1); are the "
                    "embeddings from a uniform normalization?");
  CHECK_THROWS_WITH(parse_prior("cauchy"),
                    "unknown prior 'cauchy': expected gaussian, uniform, laplace or logistic");
}
