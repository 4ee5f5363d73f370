// nidim/stats/univariate.h: moments and tests of one sample of numbers against normality or
// against U[0, 1].
//
// Each function reproduces the named scipy function (default arguments, two-sided), in double
// precision:
//   skewness, kurtosis        scipy.stats.skew / kurtosis (biased by default; Fisher's excess)
//   skewtest, kurtosistest    scipy.stats.skewtest / kurtosistest (D'Agostino 1990)
//   normaltest                scipy.stats.normaltest: D'Agostino-Pearson K^2
//   shapiro_wilk              scipy.stats.shapiro of scipy >= 1.11 (double-precision AS R94)
//   ks_uniform                scipy.stats.kstest(x, "uniform"): exact two-sided p-value
//   fisher_combine            scipy.stats.combine_pvalues(p, method="fisher")
// Where scipy raises ValueError for too few observations, or returns nan (constant input, the
// kurtosis test's division by zero), the result is "not applicable" with the reason. NaN or Inf
// in the input throws nidim::Error (scipy would propagate nan).
//
// Left out: nan_policy, one-sided alternatives, censored Shapiro-Wilk (AS R94's N1 < N).
#pragma once

#include <cstdint>

#include "stats/result.h"

namespace nidim::stats {

// The sample's skewness g1 = m3 / m2^{3/2} (bias = false: the adjusted Fisher-Pearson G1,
// when n > 2) and kurtosis m4 / m2^2, minus 3 when `fisher` (bias = false: from k-statistics,
// when n > 3). Not applicable when empty or constant (m2 <= (1e-15 * mean)^2, scipy's rule).
Estimate skewness(const double* x, int64_t n, bool bias = true);
Estimate kurtosis(const double* x, int64_t n, bool fisher = true, bool bias = true);

// D'Agostino (1970) skewness z-test (n >= 8) and Anscombe & Glynn (1983) kurtosis z-test
// (n >= 5; scipy warns below 20, we add a note), as in D'Agostino, Belanger & D'Agostino,
// "A suggestion for using powerful and informative tests of normality", Am. Stat. 44(4), 1990.
TestResult skewtest(const double* x, int64_t n);
TestResult kurtosistest(const double* x, int64_t n);
// K^2 = z_skew^2 + z_kurt^2 ~ chi^2(2) (D'Agostino & Pearson 1973).
TestResult normaltest(const double* x, int64_t n);

// Shapiro & Wilk's W with Royston's approximations for the coefficients and the p-value:
// Royston, "Approximating the Shapiro-Wilk W-test for non-normality", Stat. Comput. 2, 1992,
// and "Remark AS R94", Applied Statistics 44(4), 1995. n >= 3; exact p-value for n = 3; a note
// above n = 5000 (the p-value approximation was fitted up to 5000). Constant input (zero range):
// W = 1, p = 1 with a note, as scipy returns them with a warning.
TestResult shapiro_wilk(const double* x, int64_t n);

// One-sample Kolmogorov-Smirnov test of x against U[0, 1] (values are clipped to [0, 1] as
// uniform.cdf does); D = sup |F_n - F|, p = P(D_n >= D) exactly (see special.h). n >= 1.
TestResult ks_uniform(const double* x, int64_t n);

// Fisher's method: X = -2 sum log p_i ~ chi^2(2k) (Fisher 1932, Statistical Methods for
// Research Workers, 4th ed., section 21.1). k >= 1; each p in [0, 1].
TestResult fisher_combine(const double* p, int64_t k);

}  // namespace nidim::stats
