// nidim/tests/stats/test_multivariate.cpp: Henze-Zirkler and Mardia against the numpy
// implementations in make_fixtures.py (pingouin's and MVN's formulas; multivariate.json), and
// Henze-Zirkler against the values published for the iris setosa sample.
//
// Tolerance 1e-9 relative: both sides compute the same double-precision formulas; the fixture
// goes through pinv(S) and |x|^2-expansions of the Mahalanobis distances, we through a Cholesky
// factor and differences, which agree to ~1e-13 on these data (condition numbers below 1e3).

#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "core/random.h"
#include "fixtures.h"
#include "stats/multivariate.h"

using namespace nidim::stats;
using nidim_test::matrix;
using nidim_test::num;
using nidim_test::vec;

TEST_CASE("henze_zirkler: iris setosa reproduces the published HZ = 0.9488453, p = 0.04995356") {
  const auto j = nidim_test::load_fixture("multivariate.json");
  const auto& s = j["sets"][0];
  REQUIRE(s["name"] == "iris_setosa");
  int64_t n, d;
  const std::vector<double> x = matrix(s["x"], &n, &d);
  const HenzeZirklerResult r = henze_zirkler(x.data(), n, d);
  REQUIRE(r.test.applicable());
  // The published values have 7 significant digits: half a unit in the last place.
  CHECK(std::fabs(r.test.statistic - 0.9488453) <= 5e-8);
  CHECK(std::fabs(r.test.pvalue - 0.04995356) <= 5e-9);
  CHECK_FALSE(r.rank_deficient);
}

TEST_CASE("henze_zirkler and mardia: against pingouin's and MVN's formulas") {
  const auto j = nidim_test::load_fixture("multivariate.json");
  for (const auto& s : j["sets"]) {
    const std::string name = s["name"].get<std::string>();
    INFO(name);
    int64_t n, d;
    const std::vector<double> x = matrix(s["x"], &n, &d);
    const HenzeZirklerResult hz = henze_zirkler(x.data(), n, d);
    REQUIRE(hz.test.applicable());
    CHECK_CLOSE(hz.test.statistic, num(s["hz"][0]), 1e-9, 1e-12);
    CHECK_CLOSE(hz.test.pvalue, num(s["hz"][1]), 1e-9, 1e-15);
    CHECK(hz.rank == s["rank"].get<int64_t>());
    CHECK(hz.rank_deficient == (hz.rank < d));
    if (hz.rank_deficient) CHECK(hz.test.note.find("singular") != std::string::npos);
    const MardiaResult m = mardia(x.data(), n, d);
    if (s["mardia"].is_string()) {
      CHECK_FALSE(m.skewness.applicable());
      CHECK_FALSE(m.kurtosis.applicable());
      continue;
    }
    REQUIRE(m.skewness.applicable());
    const auto& w = s["mardia"];
    CHECK_CLOSE(m.skewness.statistic, num(w[0]), 1e-9, 1e-12);
    CHECK_CLOSE(m.skewness.pvalue, num(w[1]), 1e-9, 1e-15);
    CHECK_CLOSE(m.kurtosis.statistic, num(w[2]), 1e-9, 1e-12);
    CHECK_CLOSE(m.kurtosis.pvalue, num(w[3]), 1e-9, 1e-15);
    CHECK_CLOSE(m.b1, num(w[4]), 1e-9, 1e-12);
    CHECK_CLOSE(m.b2, num(w[5]), 1e-9, 1e-12);
  }
}

TEST_CASE("henze_zirkler: limits and bad input") {
  const std::vector<double> x = {1, 2, 3, 4, 5, 6};
  CHECK(henze_zirkler(x.data(), 6, 1).test.not_applicable == "needs at least 2 columns, got 1");
  CHECK(henze_zirkler(x.data(), 2, 3).test.not_applicable == "needs at least 3 rows, got 2");
  std::vector<double> bad = {1, 2, 3, 4, 5, INFINITY, 7, 8};
  CHECK_THROWS_WITH(henze_zirkler(bad.data(), 4, 2),
                    "henze_zirkler: value inf at row 2, column 1 is not finite");
}

TEST_CASE("henze_zirkler: the streamed pair sum is independent of the thread count") {
  // 700 rows cover several parallel blocks and partial tiles.
  std::vector<double> x(700 * 3);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37 * i) + 0.1 * std::cos(1.3 * i * i);
  nidim::set_num_threads(1);
  const HenzeZirklerResult a = henze_zirkler(x.data(), 700, 3);
  nidim::set_num_threads(3);
  const HenzeZirklerResult b = henze_zirkler(x.data(), 700, 3);
  nidim::set_num_threads(0);
  CHECK(a.test.statistic == b.test.statistic);  // bit-identical
  CHECK(a.test.pvalue == b.test.pvalue);
}

TEST_CASE("henze_zirkler: finite p-values in high dimension") {
  // pingouin's log((si2 + mu^2) / mu^2) rounds to 0 for D >~ 48 and its p-value is NaN; with
  // log1p the log-normal approximation stays defined. Full rank (n = 300 > D = 64): N(0, I) data
  // should not be rejected; rank deficient (n = 64): HZ = 4n, far in the tail, p = 0.
  nidim::Generator g(11, 0);
  std::vector<double> x(300 * 64);
  for (auto& v : x) v = g.normal();
  const HenzeZirklerResult full = henze_zirkler(x.data(), 300, 64);
  REQUIRE(full.test.applicable());
  CHECK(std::isfinite(full.test.pvalue));
  CHECK(full.test.pvalue > 0.001);
  const HenzeZirklerResult deficient = henze_zirkler(x.data(), 64, 64);
  REQUIRE(deficient.test.applicable());
  CHECK(deficient.rank_deficient);
  CHECK(deficient.test.statistic == 4 * 64);
  CHECK(deficient.test.pvalue == 0.0);
}
