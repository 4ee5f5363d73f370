// nidim/stats/univariate.cpp: see univariate.h. The constants of the Shapiro-Wilk test are
// Royston's (AS R94); the normal helpers inside it (AS 111 quantile, AS 66 tail area) are the
// low-order approximations AS R94 prescribes, kept on purpose so that W and its p-value agree with
// scipy (its swilk uses them too, in double precision since scipy 1.11) to rounding.
#include "stats/univariate.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "stats/special.h"

namespace nidim::stats {

namespace {

void check_finite(const char* what, const double* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    NIDIM_CHECK(std::isfinite(x[i]), "{}: value {} at index {} is not finite", what, x[i], i);
}

struct Moments {
  double mean = 0, m2 = 0, m3 = 0, m4 = 0;
  bool all_equal = true;
};

// Central moments about the mean, two passes (the mean first), as scipy's _moment does.
Moments central_moments(const double* x, int64_t n) {
  Moments m;
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    s += x[i];
    m.all_equal = m.all_equal && x[i] == x[0];
  }
  m.mean = s / n;
  for (int64_t i = 0; i < n; ++i) {
    const double d = x[i] - m.mean, d2 = d * d;
    m.m2 += d2;
    m.m3 += d2 * d;
    m.m4 += d2 * d2;
  }
  m.m2 /= n;
  m.m3 /= n;
  m.m4 /= n;
  return m;
}

// scipy's test for "zero variance": m2 <= (resolution * mean)^2 with resolution 1e-15 (float64).
// Equal values count too: their mean, summed in order, can be off by more than that (numpy's
// pairwise sum of equal values is exact, so scipy sees m2 = 0).
bool is_constant(const Moments& m) {
  const double r = 1e-15 * m.mean;
  return m.all_equal || m.m2 <= r * r;
}

}  // namespace

Estimate skewness(const double* x, int64_t n, bool bias) {
  check_finite("skewness", x, n);
  if (n < 1) return Estimate::na("needs at least 1 observation, got 0");
  const Moments m = central_moments(x, n);
  if (is_constant(m)) return Estimate::na("constant input (zero variance)");
  double g1 = m.m3 / std::pow(m.m2, 1.5);
  if (!bias && n > 2) g1 *= std::sqrt((n - 1.0) * n) / (n - 2.0);
  return Estimate::of(g1);
}

Estimate kurtosis(const double* x, int64_t n, bool fisher, bool bias) {
  check_finite("kurtosis", x, n);
  if (n < 1) return Estimate::na("needs at least 1 observation, got 0");
  const Moments m = central_moments(x, n);
  if (is_constant(m)) return Estimate::na("constant input (zero variance)");
  double b2 = m.m4 / (m.m2 * m.m2);
  if (!bias && n > 3) {
    const double nn = static_cast<double>(n);
    b2 = 1.0 / (nn - 2) / (nn - 3) * ((nn * nn - 1.0) * b2 - 3 * (nn - 1) * (nn - 1)) + 3.0;
  }
  return Estimate::of(fisher ? b2 - 3.0 : b2);
}

TestResult skewtest(const double* x, int64_t n) {
  // D'Agostino (1970), as restated in D'Agostino, Belanger & D'Agostino (1990), p. 318:
  // Y = b1 sqrt((n+1)(n+3) / (6(n-2))), beta2 = 3(n^2+27n-70)(n+1)(n+3) / ((n-2)(n+5)(n+7)(n+9)),
  // W^2 = -1 + sqrt(2(beta2 - 1)), delta = 1/sqrt(ln W), alpha = sqrt(2/(W^2 - 1)),
  // Z = delta ln(Y/alpha + sqrt((Y/alpha)^2 + 1)).
  check_finite("skewtest", x, n);
  if (n < 8) return TestResult::na(fmt::format("needs at least 8 observations, got {}", n));
  const Estimate b1 = skewness(x, n);
  if (!b1.applicable()) return TestResult::na(b1.not_applicable);
  const double nn = static_cast<double>(n);
  double y = b1.value * std::sqrt(((nn + 1) * (nn + 3)) / (6.0 * (nn - 2)));
  const double beta2 = (3.0 * (nn * nn + 27 * nn - 70) * (nn + 1) * (nn + 3) /
                        ((nn - 2.0) * (nn + 5) * (nn + 7) * (nn + 9)));
  const double w2 = -1 + std::sqrt(2 * (beta2 - 1));
  const double delta = 1 / std::sqrt(0.5 * std::log(w2));
  const double alpha = std::sqrt(2.0 / (w2 - 1));
  if (y == 0) y = 1;  // scipy's guard against log(0); kept for identical results
  const double ya = y / alpha;
  const double z = delta * std::log(ya + std::sqrt(ya * ya + 1));
  return TestResult::of(z, 2 * normal_sf(std::fabs(z)));
}

TestResult kurtosistest(const double* x, int64_t n) {
  // Anscombe & Glynn (1983), as in D'Agostino et al. (1990), p. 318, eqs. 1-5:
  // E = 3(n-1)/(n+1), Var b2 = 24n(n-2)(n-3) / ((n+1)^2 (n+3)(n+5)), x = (b2 - E)/sqrt(Var b2),
  // sqrt(beta1) = 6(n^2-5n+2)/((n+7)(n+9)) sqrt(6(n+3)(n+5) / (n(n-2)(n-3))),
  // A = 6 + 8/sqrt(beta1) (2/sqrt(beta1) + sqrt(1 + 4/beta1)),
  // Z = ((1 - 2/(9A)) - cbrt((1 - 2/A) / (1 + x sqrt(2/(A-4))))) / sqrt(2/(9A)).
  check_finite("kurtosistest", x, n);
  if (n < 5) return TestResult::na(fmt::format("needs at least 5 observations, got {}", n));
  const Estimate b2 = kurtosis(x, n, /*fisher=*/false);
  if (!b2.applicable()) return TestResult::na(b2.not_applicable);
  const double nn = static_cast<double>(n);
  const double e = 3.0 * (nn - 1) / (nn + 1);
  const double varb2 =
      24.0 * nn * (nn - 2) * (nn - 3) / ((nn + 1) * (nn + 1.) * (nn + 3) * (nn + 5));
  const double xx = (b2.value - e) / std::sqrt(varb2);
  const double sqrtbeta1 = 6.0 * (nn * nn - 5 * nn + 2) / ((nn + 7) * (nn + 9)) *
                           std::sqrt((6.0 * (nn + 3) * (nn + 5)) / (nn * (nn - 2) * (nn - 3)));
  const double a =
      6.0 + 8.0 / sqrtbeta1 * (2.0 / sqrtbeta1 + std::sqrt(1 + 4.0 / (sqrtbeta1 * sqrtbeta1)));
  const double term1 = 1 - 2 / (9.0 * a);
  const double denom = 1 + xx * std::sqrt(2 / (a - 4.0));
  if (denom == 0.0)
    return TestResult::na(
        "kurtosis test undefined: division by zero in Anscombe-Glynn's transform");
  // scipy: sign(denom) * |(1 - 2/A) / denom|^{1/3}, the real cube root.
  const double term2 =
      (denom > 0 ? 1.0 : -1.0) * std::pow((1 - 2.0 / a) / std::fabs(denom), 1 / 3.0);
  const double z = (term1 - term2) / std::sqrt(2 / (9.0 * a));
  TestResult r = TestResult::of(z, 2 * normal_sf(std::fabs(z)));
  if (n < 20) r.note = fmt::format("kurtosis test is only valid for n >= 20, got {}", n);
  return r;
}

TestResult normaltest(const double* x, int64_t n) {
  check_finite("normaltest", x, n);
  const TestResult s = skewtest(x, n);
  if (!s.applicable()) return TestResult::na(s.not_applicable);
  const TestResult k = kurtosistest(x, n);
  if (!k.applicable()) return TestResult::na(k.not_applicable);
  const double k2 = s.statistic * s.statistic + k.statistic * k.statistic;
  TestResult r = TestResult::of(k2, chi2_sf(k2, 2.0));
  r.note = k.note;
  return r;
}

// ---- Shapiro-Wilk ------------------------------------------------------------------------

namespace {

// Polynomial c[0] + c[1] x + ... as AS R94's POLY evaluates it.
double royston_poly(const double* c, int nord, double x) {
  double res = c[0];
  if (nord == 1) return res;
  double p = x * c[nord - 1];
  if (nord == 2) return res + p;
  for (int i = nord - 2; i > 0; --i) p = (p + c[i]) * x;
  return res + p;
}

// Beasley & Springer, "Algorithm AS 111: The percentage points of the normal distribution",
// Applied Statistics 26(1), 1977: about 7 significant digits, which AS R94 was fitted with.
double ppnd_as111(double p) {
  const double q = p - 0.5;
  if (std::fabs(q) <= 0.42) {
    const double r = q * q;
    return q * (((-25.44106049637 * r + 41.39119773534) * r - 18.61500062529) * r + 2.50662823884) /
           ((((3.13082909833 * r - 21.06224101826) * r + 23.08336743743) * r - 8.47351093090) * r +
            1.0);
  }
  double r = q > 0 ? 1 - p : p;
  if (!(r > 0)) return 0.0;
  r = std::sqrt(-std::log(r));
  const double t = (((2.32121276858 * r + 4.85014127135) * r - 2.29796479134) * r - 2.78718931138) /
                   ((1.63706781897 * r + 3.54388924762) * r + 1.0);
  return q < 0 ? -t : t;
}

// Hill, "Algorithm AS 66: The normal integral", Applied Statistics 22(3), 1973 (with the 2001
// extension of the upper cut-off to 38): upper tail area of N(0, 1) beyond x.
double alnorm_upper(double x) {
  bool upper = true;
  double z = x;
  if (!(z > 0)) {
    upper = false;
    z = -z;
  }
  if (!(z <= 7.0 || (upper && z <= 38.0))) return upper ? 0.0 : 1.0;
  const double y = 0.5 * z * z;
  double t;
  if (z <= 1.28) {
    t = 0.5 - z * (0.398942280444 -
                   0.399903438504 * y /
                       (y + 5.75885480458 -
                        29.8213557808 / (y + 2.62433121679 + 48.6959930692 / (y + 5.92885724438))));
  } else {
    t = 0.398942280385 * std::exp(-y) /
        (z - 3.8052e-8 +
         1.00000615302 /
             (z + 3.98064794e-4 +
              1.98615381364 /
                  (z - 0.151679116635 +
                   5.29330324926 / (z + 4.8385912808 -
                                    15.1508972451 / (z + 0.742380924027 +
                                                     30.789933034 / (z + 3.99019417011))))));
  }
  return upper ? t : 1 - t;
}

}  // namespace

TestResult shapiro_wilk(const double* x_in, int64_t n) {
  check_finite("shapiro_wilk", x_in, n);
  if (n < 3) return TestResult::na(fmt::format("needs at least 3 observations, got {}", n));
  // scipy centres the data on its median before sorting (it changes W only through rounding).
  std::vector<double> x(x_in, x_in + n);
  std::vector<double> tmp = x;
  const int64_t h = n / 2;
  std::nth_element(tmp.begin(), tmp.begin() + h, tmp.end());
  double median = tmp[h];
  if (n % 2 == 0) median = 0.5 * (median + *std::max_element(tmp.begin(), tmp.begin() + h));
  for (double& v : x) v -= median;
  std::sort(x.begin(), x.end());

  // Royston (1992), section 2 (AS R94, lines 30-40): m_i = Phi^{-1}((i - 3/8)/(n + 1/4)),
  // a_n and a_{n-1} from polynomials in 1/sqrt(n), the others m_i scaled to unit norm.
  static const double c1[6] = {0.0, 0.221157, -0.147981, -0.207119e1, 0.4434685e1, -0.2706056e1};
  static const double c2[6] = {0.0, 0.42981e-1, -0.293762, -0.1752461e1, 0.5682633e1, -0.3582633e1};
  static const double c3[4] = {0.5440, -0.39978, 0.25054e-1, -0.6714e-3};
  static const double c4[4] = {0.13822e1, -0.77857, 0.62767e-1, -0.20322e-2};
  static const double c5[4] = {-0.15861e1, -0.31082, -0.83751e-1, 0.38915e-2};
  static const double c6[3] = {-0.4803, -0.82676e-1, 0.30302e-2};
  static const double g[2] = {-0.2273e1, 0.459};
  constexpr double kSmall = 1e-19;
  const double an = static_cast<double>(n);
  const int64_t nn2 = n / 2;
  std::vector<double> a(static_cast<size_t>(nn2));
  if (n == 3) {
    a[0] = std::sqrt(2.0) / 2.0;
  } else {
    const double an25 = an + 0.25;
    double summ2 = 0.0;
    for (int64_t i = 0; i < nn2; ++i) {
      a[i] = ppnd_as111((i + 1 - 0.375) / an25);
      summ2 += a[i] * a[i];
    }
    summ2 *= 2.0;
    const double ssumm2 = std::sqrt(summ2);
    const double rsn = 1 / std::sqrt(an);
    const double a1 = royston_poly(c1, 6, rsn) - a[0] / ssumm2;
    int64_t i1;
    double fac;
    if (n > 5) {
      i1 = 2;
      const double a2 = -a[1] / ssumm2 + royston_poly(c2, 6, rsn);
      fac =
          std::sqrt((summ2 - 2 * a[0] * a[0] - 2 * a[1] * a[1]) / (1 - 2 * a1 * a1 - 2 * a2 * a2));
      a[1] = a2;
    } else {
      i1 = 1;
      fac = std::sqrt((summ2 - 2 * a[0] * a[0]) / (1 - 2 * a1 * a1));
    }
    a[0] = a1;
    for (int64_t i = i1; i < nn2; ++i) a[i] *= -1. / fac;
  }

  const double range = x[n - 1] - x[0];
  if (range < kSmall) {
    // scipy.stats.shapiro returns W = 1, p = 1 with a warning here (swilk's ifault 6), so by
    // stats/result.h's rule this is a result, with scipy's warning as its note.
    TestResult r = TestResult::of(1.0, 1.0);
    r.note = "input has range zero (constant): W = 1, p = 1 as scipy returns, may not be accurate";
    return r;
  }

  // W as the squared correlation of the data with the coefficients (AS R94, lines 50-60);
  // w1 = 1 - W is formed directly to keep its precision when W is near 1.
  double sx = x[0] / range, sa = -a[0];
  for (int64_t i = 1, j = n - 2; i < n; ++i, --j) {
    sx += x[i] / range;
    if (i != j) sa += (i < j ? -1 : 1) * a[std::min(i, j)];
  }
  sa /= an;
  sx /= an;
  double ssa = 0, ssx = 0, sax = 0;
  for (int64_t i = 0, j = n - 1; i < n; ++i, --j) {
    const double asa = (i != j) ? (i < j ? -1 : 1) * a[std::min(i, j)] - sa : -sa;
    const double xsx = x[i] / range - sx;
    ssa += asa * asa;
    ssx += xsx * xsx;
    sax += asa * xsx;
  }
  const double ssassx = std::sqrt(ssa * ssx);
  const double w1 = (ssassx - sax) * (ssassx + sax) / (ssa * ssx);
  const double w = 1 - w1;

  TestResult r;
  if (n == 3) {
    // Exact for n = 3 (Shapiro & Wilk 1965): p = 1 - (6/pi) acos(sqrt W), W >= 3/4.
    if (w < 0.75) return TestResult::of(0.75, 0.0);
    return TestResult::of(w, 1.0 - 6.0 / M_PI * std::acos(std::sqrt(w)));
  }
  // Royston (1992), eqs. for the normalizing transform of log(1 - W): for n <= 11,
  // -log(gamma - log(1 - W)) with gamma = -2.273 + 0.459 n; above, log(1 - W) itself; mean and
  // log standard deviation are polynomials in n or log n.
  double y = std::log(w1);
  const double xx = std::log(an);
  double m, s;
  if (n <= 11) {
    const double gamma = royston_poly(g, 2, an);
    if (y >= gamma) return TestResult::of(w, kSmall);
    y = -std::log(gamma - y);
    m = royston_poly(c3, 4, an);
    s = std::exp(royston_poly(c4, 4, an));
  } else {
    m = royston_poly(c5, 4, xx);
    s = std::exp(royston_poly(c6, 3, xx));
  }
  r = TestResult::of(w, alnorm_upper((y - m) / s));
  if (n > 5000) r.note = fmt::format("p-value may be inaccurate for n > 5000 (n = {})", n);
  return r;
}

// ---- Kolmogorov-Smirnov and Fisher --------------------------------------------------------

TestResult ks_uniform(const double* x_in, int64_t n) {
  check_finite("ks_uniform", x_in, n);
  if (n < 1) return TestResult::na("needs at least 1 observation, got 0");
  std::vector<double> u(x_in, x_in + n);
  for (double& v : u) v = std::min(1.0, std::max(0.0, v));
  std::sort(u.begin(), u.end());
  // D+ = max_i (i/n - u_(i)), D- = max_i (u_(i) - (i-1)/n)  (i = 1..n).
  double dplus = -1.0, dminus = -1.0;
  const double nn = static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) {
    dplus = std::max(dplus, (i + 1.0) / nn - u[i]);
    dminus = std::max(dminus, u[i] - i / nn);
  }
  const double d = dplus > dminus ? dplus : dminus;
  return TestResult::of(d, std::min(1.0, std::max(0.0, kstwo_sf(n, d))));
}

TestResult fisher_combine(const double* p, int64_t k) {
  if (k < 1) return TestResult::na("needs at least 1 p-value, got 0");
  double s = 0.0;
  for (int64_t i = 0; i < k; ++i) {
    NIDIM_CHECK(p[i] >= 0.0 && p[i] <= 1.0,
                "fisher_combine: p-value {} at index {} is not in [0, 1]", p[i], i);
    s += std::log(p[i]);
  }
  const double x = -2.0 * s;
  return TestResult::of(x, chi2_sf(x, 2.0 * k));
}

}  // namespace nidim::stats
