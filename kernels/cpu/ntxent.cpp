// nidim/kernels/cpu/ntxent.cpp: SimCLR's NT-Xent loss (Chen et al., "A Simple Framework for
// Contrastive Learning of Visual Representations", ICML 2020, eq. 1 averaged over all 2B views),
// fused with its gradient, tile by tile.
//
// Letters: N = 2B rows (rows i and pos(i) = (i + B) mod N are the two views of one image),
// D embedding width, t rows of a tile.
// Rows are L2-normalized here, as PyTorch's F.normalize does (eps 1e-12), so the op takes the
// projection head's raw output and its similarities are cosines:
//   zn_i = z_i / max(|z_i|, eps),   s_ij = zn_i . zn_j / tau,
//   loss = (1/N) sum_i l_i,   l_i = lse_i - s_{i,pos(i)},   lse_i = log sum_{j != i} exp(s_ij).
// The [N, N] similarities are never stored: rows are taken in tiles of t (t N near 2^19 values,
// 2 MiB of float), a tile's S [t, N] comes from one GEMM into scratch, and one pass over each of
// its rows gives the row max, the log-sum-exp without the diagonal and the row's loss. The
// forward keeps only lse [N] for the backward (besides z itself).
// Backward, with g = dloss / N, the gradient of the loss with respect to s_ij is
//   G_ij = g (exp(s_ij - lse_i) [j != i] - [j == pos(i)])
// (softmax over the row without its diagonal, minus the positive's one-hot). s_ij = zn_i . zn_j / tau
// is used by rows i and j, so dzn = (G + G^T) zn / tau, accumulated tile by tile:
//   dzn += G_tile^T zn[tile] / tau,   dzn[tile] += G_tile zn / tau   (two GEMMs; the first
// tile's first GEMM overwrites dzn, which it covers whole).
// Normalization's backward: dz_i = (dzn_i - zn_i (zn_i . dzn_i)) / |z_i|, or dzn_i / eps where
// the norm was clamped (the clamp passes no gradient to the norm, as in PyTorch).
// Work: 2 N^2 D flops forward, 6 N^2 D backward (the tile's S again, then the two GEMMs);
// memory O(t N + N D) whatever N.
// Stability: the row max is subtracted before exp (tau = 0.01 makes |s| up to 100, and exp(89)
// overflows float); sums of exponentials and of the rows' losses are taken in double. Rows are
// independent (whole rows per thread) and the loss adds the rows' terms in order: results are
// reproducible for a fixed thread count (BLAS does the GEMMs' parallel work).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/kernels_cpu.h"
#include "kernels/cpu/scratch.h"

namespace nidim {

namespace {

// About 2^19 values (2 MiB of float) per tile of similarities.
int64_t tile_rows(const NtXentShape& s) {
  return nt_xent_tile_rows(s, int64_t(1) << 19);
}

// zn [N, D] = z / denom, denom [N] = max(|z_i|, eps).
template <class T>
void normalize_rows(T* zn, double* denom, const T* z, int64_t N, int64_t D) {
  parallel_for(N, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const T* zi = z + i * D;
      double ss = 0;
      for (int64_t k = 0; k < D; ++k) ss += static_cast<double>(zi[k]) * zi[k];
      const double d = std::max(std::sqrt(ss), nt_xent_norm_eps);
      denom[i] = d;
      for (int64_t k = 0; k < D; ++k) zn[i * D + k] = static_cast<T>(zi[k] / d);
    }
  });
}

// S [t, N] = zn[i0 .. i0 + t) zn^T / tau.
template <class T>
void tile_similarities(T* S, const T* zn, int64_t i0, int64_t t, const NtXentShape& s) {
  const T inv_tau = static_cast<T>(1.0 / s.temperature);
  gemm(false, true, t, s.N, s.D, inv_tau, zn + i0 * s.D, s.D, zn, s.D, T(0), S, s.N);
}

}  // namespace

template <class T>
void nt_xent_forward_cpu(T* loss, T* lse, const T* z, const NtXentShape& s) {
  const int64_t N = s.N, D = s.D, B = N / 2, rows = tile_rows(s);
  T* zn = scratch<T>(0, N * D);
  T* S = scratch<T>(1, rows * N);
  std::vector<double> denom(static_cast<size_t>(N));
  std::vector<double> row_loss(static_cast<size_t>(N));
  normalize_rows(zn, denom.data(), z, N, D);
  for (int64_t i0 = 0; i0 < N; i0 += rows) {
    const int64_t t = std::min(rows, N - i0);
    tile_similarities(S, zn, i0, t, s);
    parallel_for(t, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {  // one pass over row i: max, log-sum-exp, loss
        const int64_t i = i0 + r;
        const T* row = S + r * N;
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t j = 0; j < N; ++j)
          if (j != i) m = std::max(m, row[j]);
        double sum = 0;
        for (int64_t j = 0; j < N; ++j)
          if (j != i) sum += std::exp(static_cast<double>(row[j]) - static_cast<double>(m));
        const double l = static_cast<double>(m) + std::log(sum);
        lse[i] = static_cast<T>(l);
        row_loss[static_cast<size_t>(i)] = l - static_cast<double>(row[(i + B) % N]);
      }
    });
  }
  double total = 0;
  for (double l : row_loss) total += l;
  loss[0] = static_cast<T>(total / static_cast<double>(N));
}

template <class T>
void nt_xent_backward_cpu(T* dz, T dloss, const T* z, const T* lse, const NtXentShape& s) {
  const int64_t N = s.N, D = s.D, B = N / 2, rows = tile_rows(s);
  T* zn = scratch<T>(0, N * D);
  T* G = scratch<T>(1, rows * N);  // the tile's similarities, then their gradient in place
  T* dzn = scratch<T>(2, N * D);
  std::vector<double> denom(static_cast<size_t>(N));
  normalize_rows(zn, denom.data(), z, N, D);
  const double g = static_cast<double>(dloss) / static_cast<double>(N);
  const T inv_tau = static_cast<T>(1.0 / s.temperature);
  for (int64_t i0 = 0; i0 < N; i0 += rows) {
    const int64_t t = std::min(rows, N - i0);
    tile_similarities(G, zn, i0, t, s);
    parallel_for(t, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const int64_t i = i0 + r, pos = (i + B) % N;
        const double l = static_cast<double>(lse[i]);
        T* row = G + r * N;
        for (int64_t j = 0; j < N; ++j) {
          const double p = j == i ? 0.0 : std::exp(static_cast<double>(row[j]) - l);
          row[j] = static_cast<T>(g * (p - (j == pos ? 1.0 : 0.0)));
        }
      }
    });
    // dzn (+)= G^T zn[tile] / tau covers every row, so the first tile's overwrites (beta 0).
    gemm(true, false, N, D, t, inv_tau, G, N, zn + i0 * D, D, i0 == 0 ? T(0) : T(1), dzn, D);
    gemm(false, false, t, D, N, inv_tau, G, N, zn, D, T(1), dzn + i0 * D, D);  // += G zn / tau
  }
  parallel_for(N, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const T* y = zn + i * D;
      const T* dy = dzn + i * D;
      double dot = 0;
      for (int64_t k = 0; k < D; ++k) dot += static_cast<double>(y[k]) * dy[k];
      const double d = denom[static_cast<size_t>(i)];
      const double proj = d > nt_xent_norm_eps ? dot : 0.0;  // clamped: no gradient to the norm
      for (int64_t k = 0; k < D; ++k) dz[i * D + k] = static_cast<T>((dy[k] - y[k] * proj) / d);
    }
  });
}

#define NIDIM_INSTANTIATE(T)                                                                 \
  template void nt_xent_forward_cpu<T>(T*, T*, const T*, const NtXentShape&);                \
  template void nt_xent_backward_cpu<T>(T*, T, const T*, const T*, const NtXentShape&);
NIDIM_INSTANTIATE(float)
NIDIM_INSTANTIATE(double)
#undef NIDIM_INSTANTIATE

}  // namespace nidim
