// nidim/stats/special.h: the special functions the tests need, in double precision.
//
// What is here: the standard normal distribution (density, CDF, survival, quantile), the
// regularized incomplete gamma functions and the chi-square survival function built on them,
// the log-normal survival function (Henze-Zirkler's p-value), and the distribution of the
// Kolmogorov-Smirnov statistic: exact one-sided (Smirnov) and two-sided for finite n, with
// scipy's choice among algorithms (Simard & L'Ecuyer 2011), and Kolmogorov's limit.
//
// What is left out: anything the tests do not call (beta, t, F distributions).
//
// Conventions: "sf" is the survival function 1 - CDF, computed directly where that is more
// accurate than subtracting. Arguments outside a function's domain give NaN (these are
// numerical kernels called in tight loops; the statistical tests above them validate inputs and
// report problems as errors or "not applicable").
#pragma once

#include <cstdint>

namespace nidim::stats {

// Standard normal N(0, 1).
double normal_pdf(double x);
double normal_cdf(double x);  // Phi(x) = erfc(-x / sqrt 2) / 2
double normal_sf(double x);   // 1 - Phi(x) = erfc(x / sqrt 2) / 2
// Phi^{-1}(p) for p in (0, 1); -inf at 0, +inf at 1, NaN outside. Wichura's AS 241 (PPND16)
// followed by one Halley step on erfc, so the result is accurate to a few ulp.
double normal_ppf(double p);
// Phi^{-1}(1 - q), accurate for tiny q (the upper tail).
double normal_isf(double q);

// Regularized incomplete gamma functions P(a, x) and Q(a, x) = 1 - P(a, x), a > 0, x >= 0:
// the power series for x < a + 1, Legendre's continued fraction (modified Lentz) otherwise
// (Abramowitz & Stegun 6.5.29 and 6.5.31).
double gamma_p(double a, double x);
double gamma_q(double a, double x);

// Survival function of the chi-square distribution with `df` degrees of freedom.
double chi2_sf(double x, double df);

// Survival function of the log-normal distribution: log X ~ N(mu, sigma^2); scipy's
// lognorm.sf(x, s=sigma, scale=exp(mu)).
double lognormal_sf(double x, double sigma, double mu);

// The Kolmogorov-Smirnov statistics of a sample of n from a continuous distribution.
// smirnov_sf: P(D_n^+ >= d), exact (Birnbaum & Tingey 1951), scipy.special.smirnov.
double smirnov_sf(int64_t n, double d);
// kolmogorov_sf: P(sqrt(n) D_n > x) in the limit n -> inf (Kolmogorov 1933), scipy's
// kstwobign.sf.
double kolmogorov_sf(double x);
// kstwo_sf / kstwo_cdf: P(D_n > d) and P(D_n <= d) for the two-sided statistic D_n, choosing
// among the exact and asymptotic methods as Simard & L'Ecuyer (2011) do and as scipy's
// scipy.stats.kstwo does (Durbin's matrix as Marsaglia, Tsang & Wang 2003 compute it,
// Pomeranz 1974, Pelz & Good 1976, Ruben & Gambino 1982 at the ends, 2 * Smirnov in the tail).
double kstwo_sf(int64_t n, double d);
double kstwo_cdf(int64_t n, double d);

}  // namespace nidim::stats
