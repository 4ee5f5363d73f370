// nidim/stats/special.cpp: see special.h. Formulas and the papers they come from are named at
// each function; the Kolmogorov-Smirnov part follows the algorithm choices of Simard &
// L'Ecuyer, "Computing the two-sided Kolmogorov-Smirnov distribution", J. Stat. Softw. 39(11),
// 2011, with the thresholds scipy uses, so that p-values agree with scipy.stats.kstest.
#include "stats/special.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace nidim::stats {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr double kPi = 3.14159265358979323846;
constexpr double kSqrt2 = 1.41421356237309504880;
constexpr double kSqrt2Pi = 2.50662827463100050242;
constexpr double kLog2Pi = 1.83787706640934548356;

double clip01(double p) {
  return std::min(1.0, std::max(0.0, p));
}

// Horner's rule, coefficients from the constant term up.
template <size_t N>
double poly(const double (&c)[N], double x) {
  double r = c[N - 1];
  for (size_t i = N - 1; i-- > 0;) r = r * x + c[i];
  return r;
}

}  // namespace

// ---- normal distribution -----------------------------------------------------------------------

double normal_pdf(double x) {
  return std::exp(-0.5 * x * x) / kSqrt2Pi;
}
double normal_cdf(double x) {
  return 0.5 * std::erfc(-x / kSqrt2);
}
double normal_sf(double x) {
  return 0.5 * std::erfc(x / kSqrt2);
}

namespace {

// Wichura, "Algorithm AS 241: The percentage points of the normal distribution", Applied
// Statistics 37(3), 1988, PPND16: rational approximations in three ranges, relative accuracy
// about 1e-16. `p` is the lower-tail probability, `q` = p - 1/2, `r` = min(p, 1 - p) is passed
// separately so that upper-tail callers keep their precision.
double ppnd16(double q, double r_tail) {
  static const double a[8] = {3.3871328727963666080e0,  1.3314166789178437745e+2,
                              1.9715909503065514427e+3, 1.3731693765509461125e+4,
                              4.5921953931549871457e+4, 6.7265770927008700853e+4,
                              3.3430575583588128105e+4, 2.5090809287301226727e+3};
  static const double b[8] = {1.0,
                              4.2313330701600911252e+1,
                              6.8718700749205790830e+2,
                              5.3941960214247511077e+3,
                              2.1213794301586595867e+4,
                              3.9307895800092710610e+4,
                              2.8729085735721942674e+4,
                              5.2264952788528545610e+3};
  static const double c[8] = {1.42343711074968357734e0,  4.63033784615654529590e0,
                              5.76949722146069140550e0,  3.64784832476320460504e0,
                              1.27045825245236838258e0,  2.41780725177450611770e-1,
                              2.27238449892691845833e-2, 7.74545014278341407640e-4};
  static const double d[8] = {1.0,
                              2.05319162663775882187e0,
                              1.67638483018380384940e0,
                              6.89767334985100004550e-1,
                              1.48103976427480074590e-1,
                              1.51986665636164571966e-2,
                              5.47593808499534494600e-4,
                              1.05075007164441684324e-9};
  static const double e[8] = {6.65790464350110377720e0,  5.46378491116411436990e0,
                              1.78482653991729133580e0,  2.96560571828504891230e-1,
                              2.65321895265761230930e-2, 1.24266094738807843860e-3,
                              2.71155556874348757815e-5, 2.01033439929228813265e-7};
  static const double f[8] = {1.0,
                              5.99832206555887937690e-1,
                              1.36929880922735805310e-1,
                              1.48753612908506148525e-2,
                              7.86869131145613259100e-4,
                              1.84631831751005468180e-5,
                              1.42151175831644588870e-7,
                              2.04426310338993978564e-15};
  if (std::fabs(q) <= 0.425) {
    const double r = 0.180625 - q * q;
    return q * poly(a, r) / poly(b, r);
  }
  double r = std::sqrt(-std::log(r_tail));
  double z;
  if (r <= 5.0) {
    r -= 1.6;
    z = poly(c, r) / poly(d, r);
  } else {
    r -= 5.0;
    z = poly(e, r) / poly(f, r);
  }
  return q < 0 ? -z : z;
}

// One Halley step for Phi(x) = p (lower tail) or 1 - Phi(x) = q (upper tail) on the exact erfc,
// which removes whatever error the rational approximation left.
double halley_lower(double x, double p) {
  const double err = normal_cdf(x) - p;
  const double u = err * kSqrt2Pi * std::exp(0.5 * x * x);
  return x - u / (1.0 + 0.5 * x * u);
}

}  // namespace

double normal_ppf(double p) {
  if (std::isnan(p) || p < 0.0 || p > 1.0) return kNaN;
  if (p == 0.0) return -kInf;
  if (p == 1.0) return kInf;
  // Phi^{-1}(p) = -Phi^{-1}(1 - p), and 1 - p is exact for p >= 1/2 (Sterbenz), so only the
  // lower half needs the approximation, where p itself carries full relative precision.
  if (p > 0.5) return -normal_ppf(1.0 - p);
  const double x = ppnd16(p - 0.5, p);
  // Below ~1e-300 the refinement would work in subnormals; AS 241 alone is good to 1e-16 there.
  return p > 1e-300 ? halley_lower(x, p) : x;
}

double normal_isf(double q) {
  return -normal_ppf(q);
}

// ---- incomplete gamma and chi-square ---------------------------------------------------------

namespace {

// log of x^a e^{-x} / Gamma(a), the common factor of both expansions.
double gamma_log_prefactor(double a, double x) {
  return a * std::log(x) - x - std::lgamma(a);
}

// P(a, x) = x^a e^{-x} / Gamma(a + 1) * sum_n x^n / ((a + 1) ... (a + n))  (A&S 6.5.29).
double gamma_p_series(double a, double x) {
  double term = 1.0 / a, sum = term, ap = a;
  for (int it = 0; it < 100000; ++it) {
    ap += 1.0;
    term *= x / ap;
    sum += term;
    if (std::fabs(term) <= std::fabs(sum) * kEps) break;
  }
  return sum * std::exp(gamma_log_prefactor(a, x));
}

// Q(a, x) as Legendre's continued fraction (A&S 6.5.31), evaluated by the modified Lentz method
// (Thompson & Barnett 1986).
double gamma_q_fraction(double a, double x) {
  constexpr double tiny = 1e-300;
  double b = x + 1.0 - a;
  double c = 1.0 / tiny;
  double d = 1.0 / b;
  double h = d;
  for (int i = 1; i < 100000; ++i) {
    const double an = -i * (i - a);
    b += 2.0;
    d = an * d + b;
    if (std::fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) <= kEps) break;
  }
  return std::exp(gamma_log_prefactor(a, x)) * h;
}

}  // namespace

double gamma_p(double a, double x) {
  if (!(a > 0.0) || !(x >= 0.0)) return kNaN;
  if (x == 0.0) return 0.0;
  if (std::isinf(x)) return 1.0;
  return x < a + 1.0 ? gamma_p_series(a, x) : 1.0 - gamma_q_fraction(a, x);
}

double gamma_q(double a, double x) {
  if (!(a > 0.0) || !(x >= 0.0)) return kNaN;
  if (x == 0.0) return 1.0;
  if (std::isinf(x)) return 0.0;
  return x < a + 1.0 ? 1.0 - gamma_p_series(a, x) : gamma_q_fraction(a, x);
}

double chi2_sf(double x, double df) {
  if (std::isnan(x) || !(df > 0.0)) return kNaN;
  if (x <= 0.0) return 1.0;
  if (df == 2.0) return std::exp(-0.5 * x);  // Q(1, x/2) = e^{-x/2} exactly
  return gamma_q(0.5 * df, 0.5 * x);
}

double lognormal_sf(double x, double sigma, double mu) {
  if (std::isnan(x) || !(sigma > 0.0)) return kNaN;
  if (x <= 0.0) return 1.0;
  return normal_sf((std::log(x) - mu) / sigma);
}

// ---- Kolmogorov-Smirnov distributions ------------------------------------------------------

double smirnov_sf(int64_t n, double d) {
  // Birnbaum & Tingey (1951): P(D_n^+ >= d) = d sum_{j=0}^{floor(n(1-d))} C(n, j)
  //   (d + j/n)^{j-1} (1 - d - j/n)^{n-j}. Every term is positive, so the sum is stable; each
  // term is formed in logarithms, with log C(n, j) built up by its ratio recurrence.
  if (n <= 0 || std::isnan(d) || d < 0.0 || d > 1.0) return kNaN;
  if (d == 0.0) return 1.0;
  if (d == 1.0) return 0.0;
  const double nd = static_cast<double>(n);
  const int64_t jmax = static_cast<int64_t>(std::floor(nd * (1.0 - d)));
  double log_choose = 0.0;  // log C(n, 0)
  double sum = 0.0;
  for (int64_t j = 0; j <= jmax; ++j) {
    if (j > 0) log_choose += std::log((nd - (j - 1)) / static_cast<double>(j));
    const double evn = d + static_cast<double>(j) / nd;
    if (evn >= 1.0) break;
    const double log_1m = evn < 0.5 ? std::log1p(-evn) : std::log(1.0 - evn);
    const double lt = log_choose + (j - 1) * std::log(evn) + (nd - j) * log_1m;
    if (lt > -745.0) sum += std::exp(lt);
  }
  return clip01(sum * d);
}

double kolmogorov_sf(double x) {
  // Kolmogorov's limit: P(K > x) = 2 sum_{k>=1} (-1)^{k-1} e^{-2 k^2 x^2}, and for small x the
  // Jacobi-theta form P(K <= x) = sqrt(2 pi)/x sum_{k>=1} e^{-(2k-1)^2 pi^2 / (8 x^2)}.
  if (std::isnan(x)) return kNaN;
  if (x <= 0.0) return 1.0;
  if (x >= 1.0) {
    double p = 0.0, sign = 1.0;
    for (int k = 1; k < 1000; ++k) {
      const double t = std::exp(-2.0 * k * k * x * x);
      p += sign * t;
      sign = -sign;
      if (t == 0.0 || t / p <= kEps) break;
    }
    return clip01(2.0 * p);
  }
  const double alpha = -kPi * kPi / (8.0 * x * x);
  double p = 0.0;
  for (int r = 1; r < 2000; r += 2) {
    const double t = std::exp(alpha * r * r);
    p += t;
    if (t == 0.0 || t / p < kEps) break;
  }
  return clip01(1.0 - p * kSqrt2Pi / x);
}

namespace {

// log(n! / n^n) by Stirling's series (enough terms for full precision once n > 140).
double log_nfact_div_npow_n(double n) {
  static const double c[8] = {8.3333333333333333333e-2, -2.7777777777777777778e-3,
                              7.9365079365079365079e-4, -5.952380952380952381e-4,
                              8.4175084175084175084e-4, -1.9175269175269175269e-3,
                              6.4102564102564102564e-3, -2.955065359477124183e-2};
  const double rn = 1.0 / n;
  return 0.5 * std::log(n) - n + 0.5 * kLog2Pi + rn * poly(c, rn * rn);
}

// Powers of two used to keep long products in range (as in Marsaglia, Tsang & Wang 2003).
constexpr int kScaleExp = 128;
const double kBig = std::ldexp(1.0, kScaleExp);
const double kSmall = std::ldexp(1.0, -kScaleExp);

using Mat = std::vector<double>;  // m x m, row-major

Mat matmul(const Mat& a, const Mat& b, int m) {
  Mat c(static_cast<size_t>(m) * m, 0.0);
  for (int i = 0; i < m; ++i)
    for (int k = 0; k < m; ++k) {
      const double aik = a[i * m + k];
      if (aik == 0.0) continue;
      for (int j = 0; j < m; ++j) c[i * m + j] += aik * b[k * m + j];
    }
  return c;
}

// P(D_n <= d) by Durbin's matrix formula (Durbin 1973) as Marsaglia, Tsang & Wang, "Evaluating
// Kolmogorov's distribution", J. Stat. Softw. 8(18), 2003 compute it: with k = ceil(n d),
// h = k - n d, m = 2k - 1, P = n!/n^n (H^n)_{kk} for the m x m matrix H below.
double durbin_cdf(int64_t n, double d) {
  if (d >= 1.0) return 1.0;
  const double nd = n * d;
  if (nd <= 0.5) return 0.0;
  const int k = static_cast<int>(std::ceil(nd));
  const double h = k - nd;
  const int m = 2 * k - 1;
  // w[j] = 1/j!; v[i] = (1 - h^{i+1}) / (i+1)!, with the corner term corrected.
  std::vector<double> w(m), v(m);
  double fac = 1.0;
  for (int j = 1; j <= m; ++j) {
    w[j - 1] = fac;
    fac /= j;
    v[j - 1] = (1.0 - std::pow(h, j)) * fac;
  }
  const double tt = std::pow(std::max(2.0 * h - 1.0, 0.0), m) - 2.0 * std::pow(h, m);
  v[m - 1] = (1.0 + tt) * fac;
  Mat hm(static_cast<size_t>(m) * m, 0.0);
  for (int i = 1; i < m; ++i)
    for (int r = i - 1; r < m; ++r) hm[r * m + i] = w[r - (i - 1)];
  for (int r = 0; r < m; ++r) hm[r * m] = v[r];
  for (int j = 0; j < m; ++j) hm[(m - 1) * m + j] = v[m - 1 - j];
  // H^n by repeated squaring; exponents of two are tracked separately.
  Mat pw(static_cast<size_t>(m) * m, 0.0);
  for (int i = 0; i < m; ++i) pw[i * m + i] = 1.0;
  int64_t pw_exp = 0, h_exp = 0;
  for (int64_t e = n; e > 0; e /= 2) {
    if (e % 2) {
      pw = matmul(pw, hm, m);
      pw_exp += h_exp;
    }
    hm = matmul(hm, hm, m);
    h_exp *= 2;
    if (std::fabs(hm[(k - 1) * m + (k - 1)]) > kBig) {
      for (double& x : hm) x *= kSmall;
      h_exp += kScaleExp;
    }
  }
  double p = pw[(k - 1) * m + (k - 1)];
  for (int64_t i = 1; i <= n; ++i) {
    p = static_cast<double>(i) * p / static_cast<double>(n);
    if (std::fabs(p) < kSmall) {
      p *= kBig;
      pw_exp -= kScaleExp;
    }
  }
  if (pw_exp != 0) p = std::ldexp(p, static_cast<int>(pw_exp));
  return clip01(p);
}

// P(D_n <= d) by Pomeranz's recursion (Pomeranz, "Exact cumulative distribution of the
// Kolmogorov-Smirnov statistic for small samples", CACM 17(12), 1974), in the form of Simard &
// L'Ecuyer (2011), Section 2.2: 2n + 1 steps, each a convolution of the previous row with
// powers (g/n)^m/m!, (2g/n)^m/m! or ((1-2g)/n)^m/m!, over a band of at most 2(floor(nd)+1) cells.
struct Band {
  int64_t lo, hi;  // inclusive; lo > hi is empty
};

Band pomeranz_band(int64_t i, int64_t n, int64_t ll, int ceilf, int roundf) {
  int64_t j1, j2;
  if (i == 0) {
    j1 = -ll - ceilf - 1;
    j2 = ll + ceilf - 1;
  } else {
    const int64_t half = (i + 1) / 2;
    if ((i + 1) % 2 == 0) {  // i odd
      if (half == n + 1) {
        j1 = n - ll - ceilf - 1;
        j2 = n + ll + ceilf - 1;
      } else {
        j1 = half - 1 - ll - roundf - 1;
        j2 = half + ll - 1 + ceilf - 1;
      }
    } else {
      j1 = half - 1 - ll - 1;
      j2 = half + ll + roundf - 1;
    }
  }
  return {std::max<int64_t>(j1 + 2, 0), std::min<int64_t>(j2, n)};
}

double pomeranz_cdf(int64_t n, double d) {
  const double t = n * d;
  const int64_t ll = static_cast<int64_t>(std::floor(t));
  const double f = t - ll;
  const double g = std::min(f, 1.0 - f);
  const int ceilf = f > 0 ? 1 : 0;
  const int roundf = f > 0.5 ? 1 : 0;
  const int64_t npw = 2 * (ll + 1);
  std::vector<double> gp(npw), g2p(npw), g12p(npw);  // (g/n)^m/m!, (2g/n)^m/m!, ((1-2g)/n)^m/m!
  gp[0] = g2p[0] = g12p[0] = 1.0;
  for (int64_t m = 1; m < npw; ++m) {
    gp[m] = gp[m - 1] * (g / n) / m;
    g2p[m] = g2p[m - 1] * (2 * g / n) / m;
    g12p[m] = g12p[m - 1] * ((1 - 2 * g) / n) / m;
  }
  // Rows are stored from an offset (`start`) so that only the band is kept.
  std::vector<double> prev(npw, 0.0), cur(npw, 0.0);
  int64_t prev_start = 0, cur_start = 0;
  cur[0] = 1.0;
  int64_t expo = 0;
  Band band = pomeranz_band(0, n, ll, ceilf, roundf);
  for (int64_t i = 1; i <= 2 * n + 1; ++i) {
    const int64_t k1 = band.lo;
    std::swap(prev, cur);
    std::swap(prev_start, cur_start);
    std::fill(cur.begin(), cur.end(), 0.0);
    band = pomeranz_band(i, n, ll, ceilf, roundf);
    const std::vector<double>& pw = (i == 1 || i == 2 * n + 1) ? gp : (i % 2 ? g2p : g12p);
    const int64_t len = band.hi - k1 + 1;  // cells of the previous row that can reach the band
    if (len <= 0) continue;
    // The previous row's cells k1 .. k1+len-1 (clipped to storage), convolved with pw[0..len).
    const int64_t off = k1 - prev_start;
    const int64_t seg = std::min(len, npw - off);
    const int64_t pwn = std::min(len, npw);
    const int64_t out_first = band.lo - k1;  // first index of the full convolution kept
    const int64_t out_len = band.hi - band.lo + 1;
    const int64_t conv_len = seg + pwn - 1;
    for (int64_t q = 0; q < out_len && out_first + q < conv_len; ++q) {
      const int64_t c = out_first + q;
      double s = 0.0;
      for (int64_t a = std::max<int64_t>(0, c - (pwn - 1)); a <= std::min(c, seg - 1); ++a)
        s += prev[off + a] * pw[c - a];
      cur[q] = s;
    }
    double mx = 0.0;
    for (int64_t q = 0; q < out_len; ++q) mx = std::max(mx, cur[q]);
    if (mx > 0.0 && mx < kSmall) {
      for (double& x : cur) x *= kBig;
      expo -= kScaleExp;
    }
    cur_start = prev_start + band.lo - k1;
  }
  double ans = cur[n - cur_start];
  for (int64_t m = 1; m <= n; ++m) {
    if (std::fabs(ans) > kBig) {
      ans *= kSmall;
      expo += kScaleExp;
    }
    ans *= static_cast<double>(m);
  }
  if (expo != 0) ans = std::ldexp(ans, static_cast<int>(expo));
  return clip01(ans);
}

// The Pelz-Good (1976) asymptotic series P(D_n <= x) ~ K0(z) + K1(z)/sqrt(n) + K2(z)/n +
// K3(z)/n^{3/2}, z = x sqrt(n), with each K_i in its Jacobi-theta form (Simard & L'Ecuyer 2011,
// eq. 7, after Pelz & Good, "Approximating the lower tail-areas of the Kolmogorov-Smirnov
// one-sample statistic", JRSS B 38(2)).
double pelz_good_cdf(int64_t n, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double pi2 = kPi * kPi, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
  const double z = std::sqrt(static_cast<double>(n)) * x;
  const double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
  const double qlog = -pi2 / 8.0 / z2;
  if (qlog < -708.0) return 0.0;
  const double q = std::exp(qlog);
  const double k1a = -z2, k1b = pi2 / 4.0;
  const double k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4.0;
  const double k2c = pi4 * (1 - 2 * z2) / 16.0;
  const double k3d = pi6 * (5 - 30 * z2) / 64.0;
  const double k3c = pi4 * (-60 * z2 + 212 * z4) / 16.0;
  const double k3b = pi2 * (135 * z4 - 96 * z6) / 4.0;
  const double k3a = -30 * z6 - 90 * z4 * z4;
  double kk[4] = {0, 0, 0, 0};
  const int maxk = static_cast<int>(std::ceil(16.0 * z / kPi));
  // Sum over k = maxk .. 1 of q^{(2k-1)^2} c_k, nested (Horner in q^8k) from the largest k.
  for (int k = maxk; k >= 1; --k) {
    const double m = 2.0 * k - 1.0, m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
    const double qp = std::pow(q, 8.0 * k);
    const double c[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
                         k3a + k3b * m2 + k3c * m4 + k3d * m6};
    for (int i = 0; i < 4; ++i) kk[i] = kk[i] * qp + c[i];
  }
  const double den[4] = {z, 6 * z4, 72 * z6 * z, 6480 * z6 * z4};
  for (int i = 0; i < 4; ++i) kk[i] = kk[i] * q * kSqrt2Pi / den[i];
  // Extra terms of K2 and K3 (sums over k of k^2 e^{-k^2 pi^2 / (2 z^2)}).
  const double q2 = std::exp(-pi2 / 2.0 / z2);
  const double sqrt3z = std::sqrt(3.0) * z;
  double k2extra = 0.0, k3extra = 0.0;
  for (int k = maxk; k >= 1; --k) {
    const double kk2 = static_cast<double>(k) * k;
    const double qk = std::pow(q2, kk2);
    const double kpi = kPi * k;
    k2extra += kk2 * qk;
    k3extra += (sqrt3z + kpi) * (sqrt3z - kpi) * kk2 * qk;
  }
  kk[2] += k2extra * pi2 * kSqrt2Pi / (-36.0 * z3);
  kk[3] += k3extra * pi2 * kSqrt2Pi / (216.0 * z6);
  const double sn = std::sqrt(static_cast<double>(n));
  return kk[0] + kk[1] / sn + kk[2] / n + kk[3] / (n * sn);
}

// P(D_n <= x) (`want_cdf`) or P(D_n > x), with scipy's selection of methods (its _kolmogn,
// after Simard & L'Ecuyer 2011, Section 3).
double kstwo(int64_t n, double x, bool want_cdf) {
  auto pick = [&](double cdf, double sf) { return clip01(want_cdf ? cdf : sf); };
  if (n <= 0 || std::isnan(x)) return kNaN;
  if (x >= 1.0) return pick(1.0, 0.0);
  if (x <= 0.0) return pick(0.0, 1.0);
  const double nd = static_cast<double>(n);
  const double t = nd * x;
  if (t <= 1.0) {  // Ruben & Gambino (1982): exact for 1/(2n) <= x <= 1/n
    if (t <= 0.5) return pick(0.0, 1.0);
    double prob;
    if (n <= 140) {
      prob = 1.0;
      for (int64_t i = 1; i <= n; ++i) prob *= static_cast<double>(i) * (1.0 / nd) * (2 * t - 1);
    } else {
      prob = std::exp(log_nfact_div_npow_n(nd) + nd * std::log(2 * t - 1));
    }
    return pick(prob, 1.0 - prob);
  }
  if (t >= nd - 1) {  // Ruben & Gambino: exact for x >= 1 - 1/n
    const double prob = 2 * std::pow(1.0 - x, nd);
    return pick(1 - prob, prob);
  }
  if (x >= 0.5) {  // the one-sided tails cannot both occur: exactly 2 * Smirnov
    const double prob = 2 * smirnov_sf(n, x);
    return pick(1.0 - prob, prob);
  }
  const double nxx = t * x;
  if (n <= 140) {
    if (nxx <= 0.754693) {
      const double prob = durbin_cdf(n, x);
      return pick(prob, 1.0 - prob);
    }
    if (nxx <= 4) {
      const double prob = pomeranz_cdf(n, x);
      return pick(prob, 1.0 - prob);
    }
    const double prob = 2 * smirnov_sf(n, x);
    return pick(1.0 - prob, prob);
  }
  if (!want_cdf) {
    if (nxx >= 370.0) return 0.0;
    if (nxx >= 2.2) return clip01(2 * smirnov_sf(n, x));
  }
  double cdf;
  if (nxx >= 18.0) {
    cdf = 1.0;
  } else if (n <= 100000 && nd * std::pow(x, 1.5) <= 1.4) {
    cdf = durbin_cdf(n, x);
  } else {
    cdf = pelz_good_cdf(n, x);
  }
  return pick(cdf, 1.0 - cdf);
}

}  // namespace

double kstwo_sf(int64_t n, double d) {
  return kstwo(n, d, false);
}
double kstwo_cdf(int64_t n, double d) {
  return kstwo(n, d, true);
}

}  // namespace nidim::stats
