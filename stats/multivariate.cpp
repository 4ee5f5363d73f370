// nidim/stats/multivariate.cpp: see multivariate.h.
//
// Both tests work on the whitened data z_i = L^{-1} (x_i - mean), S = L L^T the biased
// covariance, in which the squared Mahalanobis quantities of the papers are Euclidean:
//   D_j  = (x_j - mean)^T S^{-1} (x_j - mean) = |z_j|^2
//   D_jk = (x_j - x_k)^T S^{-1} (x_j - x_k)   = |z_j - z_k|^2
//   m_jk = (x_j - mean)^T S^{-1} (x_k - mean) = z_j . z_k
// For a nonsingular S this equals pingouin's use of pinv(S) up to rounding.
#include "stats/multivariate.h"

#include <cmath>
#include <vector>

#include "core/error.h"
#include "stats/linalg.h"
#include "stats/pairwise.h"
#include "stats/special.h"

namespace nidim::stats {

namespace {

void check_finite_matrix(const char* what, const double* x, int64_t n, int64_t d) {
  for (int64_t i = 0; i < n * d; ++i)
    NIDIM_CHECK(std::isfinite(x[i]), "{}: value {} at row {}, column {} is not finite", what, x[i],
                i / d, i % d);
}

struct Whitened {
  std::vector<double> z;  // D x N, column-major
  int64_t rank = 0;
  bool singular = false;
};

// Covariance, its numerical rank (numpy.linalg.matrix_rank's rule) and, when it has full rank,
// the whitened data. With N - 1 < D the centred data has rank < D, so the rank is known to be
// deficient without the eigenvalues.
Whitened whiten(const double* x, int64_t n, int64_t d) {
  Whitened w;
  const std::vector<double> mean = column_means(x, n, d);
  const std::vector<double> s = covariance_biased(x, n, d, mean);
  if (n - 1 < d) {
    w.rank = n - 1;
    w.singular = true;
    return w;
  }
  w.rank = rank_from_eigenvalues(symmetric_eigenvalues(s, d), d);
  std::vector<double> l;
  if (w.rank < d || !cholesky(s, d, &l)) {
    w.singular = true;
    return w;
  }
  w.z = whiten_columns(x, n, d, mean, l);
  return w;
}

}  // namespace

HenzeZirklerResult henze_zirkler(const double* x, int64_t n, int64_t d, ProgressFn progress) {
  HenzeZirklerResult res;
  if (d < 2) {
    res.test = TestResult::na(fmt::format("needs at least 2 columns, got {}", d));
    return res;
  }
  if (n < 3) {
    res.test = TestResult::na(fmt::format("needs at least 3 rows, got {}", n));
    return res;
  }
  check_finite_matrix("henze_zirkler", x, n, d);
  const double p = static_cast<double>(d), nn = static_cast<double>(n);
  // Henze & Zirkler (1990), "A class of invariant consistent tests for multivariate normality",
  // Commun. Stat. Theory Methods 19(10): the optimal smoothing parameter
  // b = (1/sqrt 2) ((2p + 1)/4)^{1/(p+4)} n^{1/(p+4)} and
  // HZ = n [ (1/n^2) sum_{j,k} e^{-b^2 D_jk / 2} - 2 (1+b^2)^{-p/2} (1/n) sum_j e^{-b^2 D_j /
  // (2(1+b^2))}
  //          + (1 + 2b^2)^{-p/2} ].
  const double b =
      1 / std::sqrt(2.0) * std::pow((2 * p + 1) / 4, 1 / (p + 4)) * std::pow(nn, 1 / (p + 4));
  const double b2 = b * b;
  res.beta = b;
  const Whitened w = whiten(x, n, d);
  res.rank = w.rank;
  double hz;
  if (w.singular) {
    // pingouin: "if np.linalg.matrix_rank(S) == p ... else hz = n * 4".
    res.rank_deficient = true;
    hz = 4 * nn;
  } else {
    const double half_b2 = b2 / 2;
    const double off = triangle_sum(
        w.z.data(), n, d, PairQuantity::kSquaredDistance,
        [half_b2](double q) { return std::exp(-half_b2 * q); }, progress);
    const double sum_jk = nn + 2 * off;  // the diagonal j = k contributes e^0 = 1 each
    double sum_j = 0;
    for (int64_t j = 0; j < n; ++j) {
      double dj = 0;
      for (int64_t c = 0; c < d; ++c) dj += w.z[c * n + j] * w.z[c * n + j];
      sum_j += std::exp(-(b2 / (2 * (1 + b2))) * dj);
    }
    hz = nn * (sum_jk / (nn * nn) - 2 * std::pow(1 + b2, -p / 2) * sum_j / nn +
               std::pow(1 + 2 * b2, -p / 2));
  }
  // Moments of HZ under normality (Henze & Zirkler 1990, eqs. 2.5-2.6; the MATLAB HZmvntest of
  // Trujillo-Ortiz et al. 2007 that pingouin follows), matched to a log-normal.
  const double wb = (1 + b2) * (1 + 3 * b2);
  const double a = 1 + 2 * b2;
  const double b4 = b2 * b2, b8 = b4 * b4;
  const double mu = 1 - std::pow(a, -p / 2) * (1 + p * b2 / a + (p * (p + 2) * b4) / (2 * a * a));
  const double si2 =
      2 * std::pow(1 + 4 * b2, -p / 2) +
      2 * std::pow(a, -p) *
          (1 + (2 * p * b4) / (a * a) + (3 * p * (p + 2) * b8) / (4 * a * a * a * a)) -
      4 * std::pow(wb, -p / 2) * (1 + (3 * p * b4) / (2 * wb) + (p * (p + 2) * b8) / (2 * wb * wb));
  // pingouin writes psi = sqrt(log((si2 + mu^2) / mu^2)); with si2 / mu^2 below ~1e-16 (D >~ 48)
  // that rounds to log(1) = 0 and its p-value is NaN. log1p(si2 / mu^2) is the same number
  // without the cancellation (agreeing to ~1e-13 where pingouin's form still has digits).
  const double pmu = std::log(std::sqrt(mu * mu * mu * mu / (si2 + mu * mu)));
  const double psi = std::sqrt(std::log1p(si2 / (mu * mu)));
  const double pval = lognormal_sf(hz, psi, pmu);
  if (!std::isfinite(hz) || !std::isfinite(pval)) {
    res.test = TestResult::na(fmt::format(
        "the log-normal approximation of HZ's null distribution is degenerate for n = {}, D = {} "
        "(mean {}, variance {})",
        n, d, mu, si2));
    return res;
  }
  res.test = TestResult::of(hz, pval);
  if (res.rank_deficient)
    res.test.note = fmt::format(
        "covariance is singular (rank {} < {} columns): HZ = 4n by pingouin's convention", w.rank,
        d);
  return res;
}

MardiaResult mardia(const double* x, int64_t n, int64_t d, ProgressFn progress) {
  MardiaResult res;
  if (d < 1 || n <= d) {
    res.skewness = res.kurtosis =
        TestResult::na(fmt::format("needs more rows than columns, got {} x {}", n, d));
    return res;
  }
  check_finite_matrix("mardia", x, n, d);
  const Whitened w = whiten(x, n, d);
  if (w.singular) {
    res.skewness = res.kurtosis =
        TestResult::na(fmt::format("covariance is singular (rank {} < {} columns)", w.rank, d));
    return res;
  }
  const double p = static_cast<double>(d), nn = static_cast<double>(n);
  // Mardia (1970), "Measures of multivariate skewness and kurtosis with applications",
  // Biometrika 57(3): b_{1,p} = (1/n^2) sum_{j,k} m_jk^3, b_{2,p} = (1/n) sum_j m_jj^2.
  double diag3 = 0, diag2 = 0;
  for (int64_t j = 0; j < n; ++j) {
    double mjj = 0;
    for (int64_t c = 0; c < d; ++c) mjj += w.z[c * n + j] * w.z[c * n + j];
    diag3 += mjj * mjj * mjj;
    diag2 += mjj * mjj;
  }
  const double off = triangle_sum(
      w.z.data(), n, d, PairQuantity::kDot, [](double q) { return q * q * q; }, progress);
  res.b1 = (diag3 + 2 * off) / (nn * nn);
  res.b2 = diag2 / nn;
  // n b1 / 6 ~ chi^2 with p(p+1)(p+2)/6 degrees of freedom; below n = 20 the statistic is
  // multiplied by k = (p+1)(n+1)(n+3) / (n((n+1)(p+1) - 6)) (Mardia 1974, Sankhya B 36(2)).
  const double df = p * (p + 1) * (p + 2) / 6;
  double skew = nn * res.b1 / 6;
  if (n < 20) skew *= (p + 1) * (nn + 1) * (nn + 3) / (nn * ((nn + 1) * (p + 1) - 6));
  res.skewness = TestResult::of(skew, chi2_sf(skew, df));
  if (n < 20) res.skewness.note = "small-sample correction applied (n < 20)";
  // (b2 - p(p+2)) / sqrt(8 p (p+2) / n) ~ N(0, 1), two-sided.
  const double kz = (res.b2 - p * (p + 2)) * std::sqrt(nn / (8 * p * (p + 2)));
  res.kurtosis = TestResult::of(kz, 2 * normal_sf(std::fabs(kz)));
  return res;
}

}  // namespace nidim::stats
