// nidim/stats/linalg.cpp: see linalg.h.
#include "stats/linalg.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace nidim::stats {

std::vector<double> column_means(const double* x, int64_t n, int64_t d) {
  std::vector<double> m(static_cast<size_t>(d), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < d; ++c) m[c] += x[i * d + c];
  for (double& v : m) v /= static_cast<double>(n);
  return m;
}

std::vector<double> covariance_biased(const double* x, int64_t n, int64_t d,
                                      const std::vector<double>& mean) {
  std::vector<double> s(static_cast<size_t>(d * d), 0.0);
  std::vector<double> row(static_cast<size_t>(d));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t c = 0; c < d; ++c) row[c] = x[i * d + c] - mean[c];
    for (int64_t a = 0; a < d; ++a) {
      const double ra = row[a];
      double* sa = &s[a * d];
      for (int64_t b = 0; b <= a; ++b) sa[b] += ra * row[b];
    }
  }
  for (int64_t a = 0; a < d; ++a)
    for (int64_t b = 0; b <= a; ++b) {
      s[a * d + b] /= static_cast<double>(n);
      s[b * d + a] = s[a * d + b];
    }
  return s;
}

std::vector<double> symmetric_eigenvalues(std::vector<double> a, int64_t d) {
  // Cyclic Jacobi: sweep over all off-diagonal (p, q), zeroing each with a plane rotation whose
  // angle is chosen by the stable formulas of Golub & Van Loan (Algorithm 8.5.1,
  // symSchur2), until the off-diagonal norm is negligible against the whole matrix.
  auto off_norm2 = [&]() {
    double s = 0;
    for (int64_t p = 0; p < d; ++p)
      for (int64_t q = 0; q < d; ++q)
        if (p != q) s += a[p * d + q] * a[p * d + q];
    return s;
  };
  double total = 0;
  for (double v : a) total += v * v;
  const double eps = std::numeric_limits<double>::epsilon();
  for (int sweep = 0; sweep < 100 && off_norm2() > eps * eps * total; ++sweep) {
    for (int64_t p = 0; p < d - 1; ++p)
      for (int64_t q = p + 1; q < d; ++q) {
        const double apq = a[p * d + q];
        if (apq == 0.0) continue;
        const double tau = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
        const double t = (tau >= 0 ? 1.0 : -1.0) / (std::fabs(tau) + std::sqrt(1.0 + tau * tau));
        const double c = 1.0 / std::sqrt(1.0 + t * t), s = t * c;
        // A <- J^T A J with J the rotation in the (p, q) plane.
        for (int64_t k = 0; k < d; ++k) {
          const double akp = a[k * d + p], akq = a[k * d + q];
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (int64_t k = 0; k < d; ++k) {
          const double apk = a[p * d + k], aqk = a[q * d + k];
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
      }
  }
  std::vector<double> eig(static_cast<size_t>(d));
  for (int64_t i = 0; i < d; ++i) eig[i] = a[i * d + i];
  std::sort(eig.begin(), eig.end());
  return eig;
}

int64_t rank_from_eigenvalues(const std::vector<double>& eig, int64_t d) {
  double mx = 0;
  for (double v : eig) mx = std::max(mx, std::fabs(v));
  const double tol = mx * static_cast<double>(d) * std::numeric_limits<double>::epsilon();
  int64_t r = 0;
  for (double v : eig) r += std::fabs(v) > tol ? 1 : 0;
  return r;
}

bool cholesky(const std::vector<double>& s, int64_t d, std::vector<double>* l_out) {
  std::vector<double>& l = *l_out;
  l.assign(static_cast<size_t>(d * d), 0.0);
  for (int64_t j = 0; j < d; ++j) {
    double diag = s[j * d + j];
    for (int64_t k = 0; k < j; ++k) diag -= l[j * d + k] * l[j * d + k];
    if (!(diag > 0.0)) return false;
    const double ljj = std::sqrt(diag);
    l[j * d + j] = ljj;
    for (int64_t i = j + 1; i < d; ++i) {
      double v = s[i * d + j];
      for (int64_t k = 0; k < j; ++k) v -= l[i * d + k] * l[j * d + k];
      l[i * d + j] = v / ljj;
    }
  }
  return true;
}

std::vector<double> whiten_columns(const double* x, int64_t n, int64_t d,
                                   const std::vector<double>& mean, const std::vector<double>& l) {
  std::vector<double> z(static_cast<size_t>(n * d));
  std::vector<double> row(static_cast<size_t>(d));
  for (int64_t i = 0; i < n; ++i) {
    // Forward substitution L y = x_i - mean.
    for (int64_t c = 0; c < d; ++c) {
      double v = x[i * d + c] - mean[c];
      for (int64_t k = 0; k < c; ++k) v -= l[c * d + k] * row[k];
      row[c] = v / l[c * d + c];
    }
    for (int64_t c = 0; c < d; ++c) z[c * n + i] = row[c];
  }
  return z;
}

}  // namespace nidim::stats
