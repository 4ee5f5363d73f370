// nidim/stats/distances.cpp: see distances.h.
#include "stats/distances.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/parallel.h"
#include "stats/pairwise.h"

namespace nidim::stats {

namespace {

void check_inputs(const char* what, const double* x, int64_t n, const double* y, int64_t m,
                  int64_t d, int64_t min_rows) {
  NIDIM_CHECK(d >= 1, "{}: needs at least 1 column", what);
  NIDIM_CHECK(n >= min_rows && m >= min_rows,
              "{}: needs at least {} rows in each set, got {} and {}", what, min_rows, n, m);
  for (int64_t i = 0; i < n * d; ++i)
    NIDIM_CHECK(std::isfinite(x[i]), "{}: embedding value {} at row {} is not finite", what, x[i],
                i / d);
  for (int64_t i = 0; i < m * d; ++i)
    NIDIM_CHECK(std::isfinite(y[i]), "{}: prior sample value {} at row {} is not finite", what,
                y[i], i / d);
}

}  // namespace

namespace {

// W_2^2 of two sorted samples.
double w2_sorted(const std::vector<double>& a, const std::vector<double>& b) {
  // W_2^2 = int_0^1 (F_a^{-1}(t) - F_b^{-1}(t))^2 dt. Both quantile functions are steps: a_i on
  // [i/n, (i+1)/n), b_j on [j/m, (j+1)/m). In units of 1/(n m) the steps end at multiples of m
  // and of n, so the overlaps are integers and the sweep is exact.
  const int64_t n = static_cast<int64_t>(a.size()), m = static_cast<int64_t>(b.size());
  int64_t i = 0, j = 0, t = 0;
  double s = 0;
  while (i < n && j < m) {
    const int64_t end_a = (i + 1) * m, end_b = (j + 1) * n;
    const int64_t end = std::min(end_a, end_b);
    const double diff = a[i] - b[j];
    s += diff * diff * static_cast<double>(end - t);
    t = end;
    if (end == end_a) ++i;
    if (end == end_b) ++j;
  }
  return s / (static_cast<double>(n) * static_cast<double>(m));
}

void project_sorted(const double* x, int64_t n, int64_t d, const double* u,
                    std::vector<double>* out) {
  out->resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t c = 0; c < d; ++c) s += x[i * d + c] * u[c];
    (*out)[i] = s;
  }
  std::sort(out->begin(), out->end());
}

}  // namespace

double wasserstein2_squared_1d(std::vector<double> a, std::vector<double> b) {
  NIDIM_CHECK(!a.empty() && !b.empty(), "wasserstein2: empty sample");
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return w2_sorted(a, b);
}

double sliced_wasserstein2(const double* x, int64_t n, const double* y, int64_t m, int64_t d,
                           const double* directions, int64_t l, const double* z, int64_t nz,
                           double* z_sw2) {
  check_inputs("sliced_wasserstein2", x, n, y, m, d, 1);
  NIDIM_CHECK(l >= 1, "sliced_wasserstein2: needs at least 1 direction");
  const bool with_z = z != nullptr && z_sw2 != nullptr;
  if (with_z) check_inputs("sliced_wasserstein2", z, nz, y, m, d, 1);
  std::vector<double> w2(static_cast<size_t>(l)), w2z(static_cast<size_t>(l));
  parallel_for(l, 1, [&](int64_t lo, int64_t hi) {
    std::vector<double> px, py, pz;  // per thread
    for (int64_t k = lo; k < hi; ++k) {
      const double* u = directions + k * d;
      project_sorted(x, n, d, u, &px);
      project_sorted(y, m, d, u, &py);
      w2[k] = w2_sorted(px, py);
      if (with_z) {
        project_sorted(z, nz, d, u, &pz);
        w2z[k] = w2_sorted(pz, py);
      }
    }
  });
  if (with_z) *z_sw2 = std::sqrt(ordered_sum(w2z) / static_cast<double>(l));
  return std::sqrt(ordered_sum(w2) / static_cast<double>(l));
}

double median_heuristic(const double* x, int64_t n, const double* y, int64_t m, int64_t d,
                        int64_t cap) {
  const int64_t nx = std::min(n, cap), ny = std::min(m, cap), np = nx + ny;
  NIDIM_CHECK(np >= 2, "median_heuristic: needs at least 2 points");
  std::vector<const double*> rows;
  for (int64_t i = 0; i < nx; ++i) rows.push_back(x + i * d);
  for (int64_t i = 0; i < ny; ++i) rows.push_back(y + i * d);
  std::vector<double> dist;
  dist.reserve(static_cast<size_t>(np * (np - 1) / 2));
  for (int64_t i = 0; i < np; ++i)
    for (int64_t j = i + 1; j < np; ++j) {
      double s = 0;
      for (int64_t c = 0; c < d; ++c) {
        const double diff = rows[i][c] - rows[j][c];
        s += diff * diff;
      }
      dist.push_back(std::sqrt(s));
    }
  const size_t h = dist.size() / 2;
  std::nth_element(dist.begin(), dist.begin() + h, dist.end());
  double med = dist[h];
  if (dist.size() % 2 == 0) med = 0.5 * (med + *std::max_element(dist.begin(), dist.begin() + h));
  return med;
}

namespace {

// Sums of f(|a - b|^2) over the pairs i < j of x, the pairs of y and all pairs (x_i, y_j), for
// MMD and the energy distance. The three sums share one progress scale: n^2/2 + m^2/2 + n m pair
// units.
struct PairSums {
  double xx, yy, xy;
};

template <class F>
PairSums pair_sums(const double* x, int64_t n, const double* y, int64_t m, int64_t d, F f,
                   const ProgressFn& progress) {
  const std::vector<double> xc = to_columns(x, n, d), yc = to_columns(y, m, d);
  const double total = 0.5 * n * n + 0.5 * m * m + static_cast<double>(n) * m;
  auto part = [&](double before, double size) -> ProgressFn {
    if (!progress) return {};
    return [=](int64_t done, int64_t all) {
      progress(
          static_cast<int64_t>(1000 * (before + size * done / std::max<int64_t>(all, 1)) / total),
          1000);
    };
  };
  PairSums s;
  s.xx = triangle_sum(xc.data(), n, d, PairQuantity::kSquaredDistance, f, part(0, 0.5 * n * n));
  s.yy = triangle_sum(yc.data(), m, d, PairQuantity::kSquaredDistance, f,
                      part(0.5 * n * n, 0.5 * m * m));
  s.xy = rect_sum(xc.data(), n, yc.data(), m, d, PairQuantity::kSquaredDistance, f,
                  part(0.5 * n * n + 0.5 * m * m, static_cast<double>(n) * m));
  return s;
}

}  // namespace

MmdResult mmd_gaussian(const double* x, int64_t n, const double* y, int64_t m, int64_t d,
                       double bandwidth, ProgressFn progress) {
  check_inputs("mmd_gaussian", x, n, y, m, d, 2);
  MmdResult r;
  r.bandwidth = bandwidth > 0 ? bandwidth : median_heuristic(x, n, y, m, d);
  NIDIM_CHECK(r.bandwidth > 0, "mmd_gaussian: bandwidth is 0 (all points coincide)");
  const double g = 1 / (2 * r.bandwidth * r.bandwidth);
  const PairSums k = pair_sums(
      x, n, y, m, d, [g](double q) { return std::exp(-g * q); }, progress);
  const double nn = static_cast<double>(n), mm = static_cast<double>(m);
  r.mmd2 = 2 * k.xx / (nn * (nn - 1)) + 2 * k.yy / (mm * (mm - 1)) - 2 * k.xy / (nn * mm);
  return r;
}

double energy_distance(const double* x, int64_t n, const double* y, int64_t m, int64_t d,
                       ProgressFn progress) {
  check_inputs("energy_distance", x, n, y, m, d, 2);
  const PairSums s = pair_sums(
      x, n, y, m, d, [](double q) { return std::sqrt(q); }, progress);
  const double nn = static_cast<double>(n), mm = static_cast<double>(m);
  return 2 * s.xy / (nn * mm) - 2 * s.xx / (nn * (nn - 1)) - 2 * s.yy / (mm * (mm - 1));
}

}  // namespace nidim::stats
