// nidim/stats/clustering.cpp: see clustering.h.
#include "stats/clustering.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "stats/classifiers.h"
#include "stats/pairwise.h"

namespace nidim::stats {

namespace {

struct Clusters {
  LabelEncoding enc;
  int64_t k = 0;
  std::vector<double> count;      // K
  std::vector<double> centroids;  // K x D
};

// Encodes labels and checks scikit-learn's check_number_of_labels: 2 <= K <= N - 1.
Clusters prepare(const char* what, const double* x, int64_t n, int64_t d, const int64_t* labels,
                 std::string* na) {
  for (int64_t i = 0; i < n * d; ++i)
    NIDIM_CHECK(std::isfinite(x[i]), "{}: value {} at row {}, column {} is not finite", what, x[i],
                i / d, i % d);
  Clusters c;
  c.enc = encode_labels(labels, n);
  c.k = static_cast<int64_t>(c.enc.classes.size());
  if (c.k < 2 || c.k > n - 1) {
    *na = fmt::format("needs between 2 and n - 1 = {} distinct labels, got {}", n - 1, c.k);
    return c;
  }
  c.count.assign(static_cast<size_t>(c.k), 0.0);
  c.centroids.assign(static_cast<size_t>(c.k * d), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t l = c.enc.codes[i];
    c.count[l] += 1;
    for (int64_t j = 0; j < d; ++j) c.centroids[l * d + j] += x[i * d + j];
  }
  for (int64_t l = 0; l < c.k; ++l)
    for (int64_t j = 0; j < d; ++j) c.centroids[l * d + j] /= c.count[l];
  return c;
}

double dist(const double* a, const double* b, int64_t d) {
  double s = 0;
  for (int64_t j = 0; j < d; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
  return std::sqrt(s);
}

}  // namespace

Estimate silhouette_score(const double* x, int64_t n, int64_t d, const int64_t* labels,
                          ProgressFn progress) {
  std::string na;
  const Clusters c = prepare("silhouette_score", x, n, d, labels, &na);
  if (!na.empty()) return Estimate::na(na);
  const int64_t k = c.k;
  const std::vector<int64_t>& code = c.enc.codes;
  const std::vector<double> xc = to_columns(x, n, d);
  // sums[i * K + l] = sum of distances from row i to the rows of class l (row i itself adds 0).
  std::vector<double> sums(static_cast<size_t>(n * k), 0.0);
  const int64_t nblocks = (n + kBlockRows - 1) / kBlockRows;
  parallel_blocks(
      nblocks,
      [&](int64_t blk) {
        std::vector<double> acc(kTileRows * kTileCols);
        const int64_t j_begin = blk * kBlockRows, j_end = std::min(n, (blk + 1) * kBlockRows);
        // Reference tiles outer (kept in cache for the whole block); per row, k increases.
        for (int64_t k0 = 0; k0 < n; k0 += kTileCols) {
          const int64_t len = std::min(kTileCols, n - k0);
          for (int64_t j0 = j_begin; j0 < j_end; j0 += kTileRows) {
            const int rows = static_cast<int>(std::min<int64_t>(kTileRows, j_end - j0));
            sqdist_tile(xc.data(), n, j0, rows, xc.data(), n, k0, len, d, acc.data());
            for (int r = 0; r < rows; ++r) {
              double* s = sums.data() + (j0 + r) * k;
              const double* a = acc.data() + r * kTileCols;
              for (int64_t t = 0; t < len; ++t) s[code[k0 + t]] += std::sqrt(a[t]);
            }
          }
        }
      },
      progress);
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t own = code[i];
    if (c.count[own] <= 1) continue;  // singleton: silhouette 0 by convention
    const double a = sums[i * k + own] / (c.count[own] - 1);
    double b = std::numeric_limits<double>::infinity();
    for (int64_t l = 0; l < k; ++l)
      if (l != own) b = std::min(b, sums[i * k + l] / c.count[l]);
    const double m = std::max(a, b);
    if (m > 0) total += (b - a) / m;  // a = b = 0 (duplicates): 0/0, counted as 0 like nan_to_num
  }
  return Estimate::of(total / static_cast<double>(n));
}

Estimate davies_bouldin_score(const double* x, int64_t n, int64_t d, const int64_t* labels) {
  std::string na;
  const Clusters c = prepare("davies_bouldin_score", x, n, d, labels, &na);
  if (!na.empty()) return Estimate::na(na);
  const int64_t k = c.k;
  std::vector<double> intra(static_cast<size_t>(k), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t l = c.enc.codes[i];
    intra[l] += dist(x + i * d, c.centroids.data() + l * d, d);
  }
  for (int64_t l = 0; l < k; ++l) intra[l] /= c.count[l];
  std::vector<double> cd(static_cast<size_t>(k * k), 0.0);
  for (int64_t a = 0; a < k; ++a)
    for (int64_t b = 0; b < k; ++b)
      if (a != b) cd[a * k + b] = dist(c.centroids.data() + a * d, c.centroids.data() + b * d, d);
  // numpy.allclose(v, 0): every |v| <= 1e-8.
  auto all_near_zero = [](const std::vector<double>& v) {
    return std::all_of(v.begin(), v.end(), [](double e) { return std::fabs(e) <= 1e-8; });
  };
  if (all_near_zero(intra) || all_near_zero(cd)) return Estimate::of(0.0);
  double total = 0;
  for (int64_t a = 0; a < k; ++a) {
    double mx = 0;
    for (int64_t b = 0; b < k; ++b) {
      if (b == a || cd[a * k + b] == 0.0) continue;  // zero distances count as infinity
      mx = std::max(mx, (intra[a] + intra[b]) / cd[a * k + b]);
    }
    total += mx;
  }
  return Estimate::of(total / static_cast<double>(k));
}

Estimate calinski_harabasz_score(const double* x, int64_t n, int64_t d, const int64_t* labels) {
  std::string na;
  const Clusters c = prepare("calinski_harabasz_score", x, n, d, labels, &na);
  if (!na.empty()) return Estimate::na(na);
  const int64_t k = c.k;
  std::vector<double> mean(static_cast<size_t>(d), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) mean[j] += x[i * d + j];
  for (double& v : mean) v /= static_cast<double>(n);
  double extra = 0, intra = 0;
  for (int64_t l = 0; l < k; ++l) {
    double s = 0;
    for (int64_t j = 0; j < d; ++j) {
      const double diff = c.centroids[l * d + j] - mean[j];
      s += diff * diff;
    }
    extra += c.count[l] * s;
  }
  for (int64_t i = 0; i < n; ++i) {
    const double* cen = c.centroids.data() + c.enc.codes[i] * d;
    for (int64_t j = 0; j < d; ++j) intra += (x[i * d + j] - cen[j]) * (x[i * d + j] - cen[j]);
  }
  if (intra == 0.0) return Estimate::of(1.0);
  return Estimate::of(extra * static_cast<double>(n - k) / (intra * static_cast<double>(k - 1)));
}

}  // namespace nidim::stats
