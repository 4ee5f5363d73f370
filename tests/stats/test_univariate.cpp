// nidim/tests/stats/test_univariate.cpp: special functions and univariate tests against scipy 1.10
// (special.json, univariate.json; see make_fixtures.py for how each value was made).
//
// Tolerances:
//   * 1e-9 relative for every deterministic statistic and p-value (the bound): both sides
//     run the same formulas in double precision, so they differ only by rounding in sums of at
//     most a few thousand terms (~1e-13), far inside it.
//   * special functions, where both sides are accurate to a few ulp: 1e-13 (normal) to 1e-11
//     (incomplete gamma at a = 110, whose prefactor exp(a log x - x - lgamma a) loses
//     ~log10(a * 40) digits to cancellation in the exponent).
//   * Kolmogorov-Smirnov: p = 1 - cdf where cdf is near 1 loses relative precision in both
//     implementations alike, so an absolute 1e-14 is added to the relative 1e-9.
#include <cmath>
#include <vector>

#include "fixtures.h"
#include "stats/special.h"
#include "stats/univariate.h"

using namespace nidim::stats;
using nidim_test::num;
using nidim_test::vec;

TEST_CASE("special: normal distribution against scipy.special.ndtri / scipy.stats.norm") {
  const auto j = nidim_test::load_fixture("special.json");
  for (const auto& e : j["normal_ppf"]) CHECK_CLOSE(normal_ppf(num(e[0])), num(e[1]), 1e-14, 0.0);
  // erfc(z) has condition number ~2 z^2, so rounding x / sqrt 2 alone costs 2 z^2 eps
  // (1e-13 at x = 30); scipy flushes results below 1e-300 to zero.
  for (const auto& e : j["normal_sf"]) CHECK_CLOSE(normal_sf(num(e[0])), num(e[1]), 1e-12, 1e-300);
  for (const auto& e : j["normal_cdf"])
    CHECK_CLOSE(normal_cdf(num(e[0])), num(e[1]), 1e-12, 1e-300);
  CHECK(normal_ppf(0.0) == -INFINITY);
  CHECK(normal_ppf(1.0) == INFINITY);
  CHECK(std::isnan(normal_ppf(1.5)));
  CHECK_CLOSE(normal_isf(1e-30), -normal_ppf(1e-30), 0.0, 0.0);
}

TEST_CASE("special: incomplete gamma and chi-square against scipy") {
  const auto j = nidim_test::load_fixture("special.json");
  for (const auto& e : j["gamma_pq"]) {
    CHECK_CLOSE(gamma_p(num(e[0]), num(e[1])), num(e[2]), 1e-12, 1e-300);
    CHECK_CLOSE(gamma_q(num(e[0]), num(e[1])), num(e[3]), 1e-12, 1e-300);
  }
  for (const auto& e : j["chi2_sf"])
    CHECK_CLOSE(chi2_sf(num(e[0]), num(e[1])), num(e[2]), 1e-11, 1e-300);
  for (const auto& e : j["lognormal_sf"])
    CHECK_CLOSE(lognormal_sf(num(e[0]), num(e[1]), num(e[2])), num(e[3]), 1e-13, 0.0);
}

TEST_CASE("special: Kolmogorov-Smirnov distributions against scipy's kstwo, smirnov, kstwobign") {
  const auto j = nidim_test::load_fixture("special.json");
  for (const auto& e : j["kstwo"]) {
    const int64_t n = e[0].get<int64_t>();
    const double d = num(e[1]);
    INFO("n = " << n << ", d = " << d);
    CHECK_CLOSE(kstwo_sf(n, d), num(e[2]), 1e-9, 1e-14);
    CHECK_CLOSE(kstwo_cdf(n, d), num(e[3]), 1e-9, 1e-14);
  }
  for (const auto& e : j["smirnov"])
    CHECK_CLOSE(smirnov_sf(e[0].get<int64_t>(), num(e[1])), num(e[2]), 1e-10, 1e-300);
  for (const auto& e : j["kolmogorov"])
    CHECK_CLOSE(kolmogorov_sf(num(e[0])), num(e[1]), 1e-13, 1e-16);
}

namespace {

void check_test(const TestResult& got, const nlohmann::json& want, const std::string& what) {
  INFO(what);
  if (want.is_string()) {
    CHECK_MESSAGE(!got.applicable(), "expected not applicable, got " << got.statistic);
    return;
  }
  REQUIRE_MESSAGE(got.applicable(), "not applicable: " << got.not_applicable);
  CHECK_CLOSE(got.statistic, num(want[0]), 1e-9, 1e-12);
  CHECK_CLOSE(got.pvalue, num(want[1]), 1e-9, 1e-15);
}

void check_estimate(const Estimate& got, const nlohmann::json& want, const std::string& what) {
  INFO(what);
  const double w = num(want);
  if (std::isnan(w)) {
    CHECK_MESSAGE(!got.applicable(), "expected not applicable, got " << got.value);
    return;
  }
  REQUIRE_MESSAGE(got.applicable(), "not applicable: " << got.not_applicable);
  // Skewness near zero is a difference of nearly equal sums: an absolute 1e-12 besides.
  CHECK_CLOSE(got.value, w, 1e-9, 1e-12);
}

}  // namespace

TEST_CASE("univariate: moments, D'Agostino-Pearson, Shapiro-Wilk against scipy") {
  const auto j = nidim_test::load_fixture("univariate.json");
  for (const auto& s : j["samples"]) {
    const std::string name = s["name"].get<std::string>();
    const std::vector<double> x = vec(s["x"]);
    const int64_t n = static_cast<int64_t>(x.size());
    check_estimate(skewness(x.data(), n), s["skew"], name + " skew");
    check_estimate(skewness(x.data(), n, false), s["skew_unbiased"], name + " skew bias=False");
    check_estimate(kurtosis(x.data(), n), s["kurtosis"], name + " kurtosis");
    check_estimate(kurtosis(x.data(), n, true, false), s["kurtosis_unbiased"],
                   name + " kurtosis bias=False");
    check_estimate(kurtosis(x.data(), n, false), s["kurtosis_pearson"],
                   name + " kurtosis fisher=False");
    check_test(skewtest(x.data(), n), s["skewtest"], name + " skewtest");
    check_test(kurtosistest(x.data(), n), s["kurtosistest"], name + " kurtosistest");
    check_test(normaltest(x.data(), n), s["normaltest"], name + " normaltest");
    check_test(shapiro_wilk(x.data(), n), s["shapiro"], name + " shapiro");
  }
}

TEST_CASE("univariate: not-applicable reasons and notes") {
  const std::vector<double> c(10, 2.5);
  CHECK(normaltest(c.data(), 10).not_applicable == "constant input (zero variance)");
  // 64 equal values whose sum in order is inexact (mean off by 1.1e-15 relative, beyond scipy's
  // 1e-15 resolution): still constant, as scipy says (normaltest gives NaN there).
  const std::vector<double> c64(64, 0.1);
  CHECK(normaltest(c64.data(), 64).not_applicable == "constant input (zero variance)");
  CHECK(skewness(c64.data(), 64).not_applicable == "constant input (zero variance)");
  // Zero range: scipy.stats.shapiro returns W = 1, p = 1 and warns "Input data has range zero".
  const TestResult sw = shapiro_wilk(c.data(), 10);
  CHECK(sw.applicable());
  CHECK(sw.statistic == 1.0);
  CHECK(sw.pvalue == 1.0);
  CHECK(sw.note.find("range zero") != std::string::npos);
  const std::vector<double> x = {0.3, -1.2, 0.8, 2.0, -0.1, 0.5, 1.1};
  CHECK(normaltest(x.data(), 7).not_applicable == "needs at least 8 observations, got 7");
  CHECK(shapiro_wilk(x.data(), 2).not_applicable == "needs at least 3 observations, got 2");
  CHECK(kurtosistest(x.data(), 7).note == "kurtosis test is only valid for n >= 20, got 7");
  std::vector<double> bad = x;
  bad[3] = NAN;
  CHECK_THROWS_WITH(shapiro_wilk(bad.data(), 7),
                    "shapiro_wilk: value nan at index 3 is not finite");
  CHECK_THROWS(normaltest(bad.data(), 7));
}

TEST_CASE("univariate: Kolmogorov-Smirnov against U[0,1] and Fisher's method against scipy") {
  const auto j = nidim_test::load_fixture("univariate.json");
  for (const auto& e : j["ks_uniform"]) {
    const std::vector<double> x = vec(e["x"]);
    INFO("n = " << x.size());
    const TestResult r = ks_uniform(x.data(), static_cast<int64_t>(x.size()));
    CHECK_CLOSE(r.statistic, num(e["statistic"]), 1e-12, 0.0);
    CHECK_CLOSE(r.pvalue, num(e["pvalue"]), 1e-9, 1e-14);
  }
  for (const auto& e : j["fisher"]) {
    const std::vector<double> p = vec(e["p"]);
    const TestResult r = fisher_combine(p.data(), static_cast<int64_t>(p.size()));
    CHECK_CLOSE(r.statistic, num(e["statistic"]), 1e-12, 0.0);
    CHECK_CLOSE(r.pvalue, num(e["pvalue"]), 1e-11, 0.0);
  }
}
