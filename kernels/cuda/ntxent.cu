// nidim/kernels/cuda/ntxent.cu: SimCLR's NT-Xent loss fused with its gradient, on the GPU (the
// CUDA twin of kernels/cpu/ntxent.cpp, which explains the math; same tiles, same formulas).
//
// Letters: N = 2B rows, D embedding width, t rows of a tile; pos(i) = (i + N/2) mod N.
// The [N, N] similarities are never stored whole: rows go in tiles of t (t N near 2^23 values,
// 32 MiB of float, from the caching allocator: GEMMs large enough to fill the GPU). Per call:
//   ntxent_normalize_kernel       zn = z / max(|z|, eps), denom [N] (double)
// forward, per tile:
//   cuBLAS                        S [t, N] = zn[tile] zn^T / tau
//   ntxent_rows_kernel            per row, one pass: max without the diagonal, log-sum-exp, the
//                                 row's loss; lse [N] kept for the backward
// then ntxent_total_kernel        loss = mean of the rows' losses (one block, fixed order)
// backward, per tile:
//   cuBLAS                        S [t, N] again
//   ntxent_grad_rows_kernel       G = dloss / N (softmax without the diagonal - onehot(pos)),
//                                 in place over S
//   cuBLAS                        dzn (+)= G^T zn[tile] / tau (all rows; the first tile
//                                 overwrites), dzn[tile] += G zn / tau
// then ntxent_normalize_backward_kernel   dz = (dzn - zn (zn . dzn)) / denom
// The GEMMs are the bulk of the work (2 N^2 D flops forward, 6 N^2 D backward) and run on cuBLAS
// (TF32 only when set_tf32_cuda(true)). Exponentials and sums are in double, after subtracting
// the row max (tau = 0.01 makes |s| up to 100), as on the CPU. No atomics: every sum has a fixed
// order, so results are reproducible on one GPU model.
// Kernel names start with "ntxent_".
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels_cuda.h"

namespace nidim {

using namespace gpu;

namespace {

constexpr int row_warps = 8;  // warps per block of the per-row (normalization) kernels

// Sum over the 32 lanes of a warp in a fixed butterfly; every lane gets the result.
__device__ inline double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// One warp per row i (blocks of row_warps warps, grid-stride over rows): lanes stride over the
// row's D values for the sum of squares (double), then scale them by 1 / denom_i.
template <class T>
__global__ void __launch_bounds__(row_warps * 32)
    ntxent_normalize_kernel(T* __restrict__ zn, double* __restrict__ denom,
                            const T* __restrict__ z, int64_t N, int64_t D) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * row_warps;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * row_warps + threadIdx.x / 32; i < N;
       i += warps) {
    const T* zi = z + i * D;
    double ss = 0;
    for (int64_t k = lane; k < D; k += 32) ss += static_cast<double>(zi[k]) * zi[k];
    const double d = fmax(sqrt(warp_sum(ss)), nt_xent_norm_eps);
    if (lane == 0) denom[i] = d;
    for (int64_t k = lane; k < D; k += 32) zn[i * D + k] = static_cast<T>(zi[k] / d);
  }
}

// One block per row r of the tile (global row i = i0 + r); the block's threads (1, LY) stride
// over the row's N columns (make_lanes(t, N, 1)), and reduce_y combines them: the row max
// without the diagonal, then sum_{j != i} exp(s_ij - max) in double. lse[i] and the row's loss
// lse_i - s_{i,pos(i)} (double, for the total) are written by thread 0.
template <class T>
__global__ void ntxent_rows_kernel(T* __restrict__ lse, double* __restrict__ row_loss,
                                   const T* __restrict__ S, int64_t i0, int64_t N) {
  __shared__ T sh_t[block_threads];
  __shared__ double sh_d[block_threads];
  const int64_t r = blockIdx.x, i = i0 + r;
  const T* row = S + r * N;
  T m = -INFINITY;
  for (int64_t j = threadIdx.y; j < N; j += blockDim.y)
    if (j != i && row[j] > m) m = row[j];
  m = reduce_y(m, sh_t, [](T a, T b) { return a < b ? b : a; });
  double sum = 0;
  for (int64_t j = threadIdx.y; j < N; j += blockDim.y)
    if (j != i) sum += ::exp(static_cast<double>(row[j]) - static_cast<double>(m));
  sum = reduce_y(sum, sh_d, Plus{});
  if (threadIdx.y == 0) {
    const double l = static_cast<double>(m) + ::log(sum);
    lse[i] = static_cast<T>(l);
    row_loss[i] = l - static_cast<double>(row[(i + N / 2) % N]);
  }
}

// out[0] = T(sum of the N rows' losses / N), by one block in a fixed order.
template <class T>
__global__ void ntxent_total_kernel(T* out, const double* row_loss, int64_t N) {
  double s = 0;
  for (int64_t e = threadIdx.x; e < N; e += blockDim.x) s += row_loss[e];
  s = block_sum(s);
  if (threadIdx.x == 0) out[0] = static_cast<T>(s / static_cast<double>(N));
}

// One block per row r of the tile (global row i = i0 + r), its threads striding over the N
// columns (coalesced): G[r, j] = dloss / N * (exp(s_ij - lse_i) [j != i] - [j == pos(i)]),
// overwriting S[r, j].
template <class T>
__global__ void ntxent_grad_rows_kernel(T* __restrict__ G, const T* __restrict__ lse,
                                        const T* __restrict__ dloss, int64_t i0, int64_t N) {
  const int64_t r = blockIdx.x, i = i0 + r, pos = (i + N / 2) % N;
  const double g = static_cast<double>(dloss[0]) / static_cast<double>(N);
  const double l = static_cast<double>(lse[i]);
  T* row = G + r * N;
  for (int64_t j = threadIdx.x; j < N; j += blockDim.x) {
    const double p = j == i ? 0.0 : ::exp(static_cast<double>(row[j]) - l);
    row[j] = static_cast<T>(g * (p - (j == pos ? 1.0 : 0.0)));
  }
}

// One warp per row i, as ntxent_normalize_kernel: dot = zn_i . dzn_i (double, warp_sum), then
// dz_i = (dzn_i - zn_i dot) / denom_i, without the projection where the norm was clamped.
template <class T>
__global__ void __launch_bounds__(row_warps * 32)
    ntxent_normalize_backward_kernel(T* __restrict__ dz, const T* __restrict__ dzn,
                                     const T* __restrict__ zn, const double* __restrict__ denom,
                                     int64_t N, int64_t D) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * row_warps;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * row_warps + threadIdx.x / 32; i < N;
       i += warps) {
    const T* y = zn + i * D;
    const T* dy = dzn + i * D;
    double dot = 0;
    for (int64_t k = lane; k < D; k += 32) dot += static_cast<double>(y[k]) * dy[k];
    dot = warp_sum(dot);
    const double d = denom[i];
    const double proj = d > nt_xent_norm_eps ? dot : 0.0;
    for (int64_t k = lane; k < D; k += 32)
      dz[i * D + k] = static_cast<T>((static_cast<double>(dy[k]) - y[k] * proj) / d);
  }
}

// About 2^23 values (32 MiB of float) per tile of similarities.
int64_t rows_per_tile(const NtXentShape& s) {
  return nt_xent_tile_rows(s, int64_t(1) << 23);
}

// Blocks of row_warps warps, one warp per row, at most 2^16 blocks (grid-stride beyond).
unsigned row_blocks(int64_t N) {
  return static_cast<unsigned>(std::clamp<int64_t>((N + row_warps - 1) / row_warps, 1, 65536));
}

// The scratch both passes share: zn [N, D], denom [N] and a tile S [t, N], as separate buffers
// so that each GEMM operand starts on the allocator's alignment.
template <class T>
struct Work {
  CudaBuffer zn, denom, S;
  Work(int64_t N, int64_t D, int64_t rows)
      : zn(scratch(sizeof(T) * static_cast<size_t>(N * D))),
        denom(scratch(sizeof(double) * static_cast<size_t>(N))),
        S(scratch(sizeof(T) * static_cast<size_t>(rows * N))) {}
};

}  // namespace

// ---- launchers ----------------------------------------------------------------------------------
// Assumptions (checked by the front end, kernels/ops.cpp): N even and >= 4, D >= 1, tau > 0; the
// tile's rows are grid.x of the per-row kernels (at most 2^31 - 1: any N that fits in memory).

template <class T>
void nt_xent_forward_cuda(T* loss, T* lse, const T* z, const NtXentShape& s) {
  cudaStream_t stream = current_stream();
  const int64_t N = s.N, D = s.D, rows = rows_per_tile(s);
  const T inv_tau = static_cast<T>(1.0 / s.temperature);
  Work<T> w(N, D, rows);
  CudaBuffer row_loss = scratch(sizeof(double) * static_cast<size_t>(N));
  T* zn = w.zn.template as<T>();
  T* S = w.S.template as<T>();
  ntxent_normalize_kernel<<<row_blocks(N), row_warps * 32, 0, stream>>>(
      zn, w.denom.template as<double>(), z, N, D);
  for (int64_t i0 = 0; i0 < N; i0 += rows) {
    const int64_t t = std::min(rows, N - i0);
    gemm_cuda(false, true, t, N, D, inv_tau, zn + i0 * D, D, zn, D, T(0), S, N, "nt_xent");
    const Lanes l = make_lanes(t, N, 1);
    ntxent_rows_kernel<<<static_cast<unsigned>(t), l.block(), 0, stream>>>(
        lse, row_loss.as<double>(), S, i0, N);
  }
  ntxent_total_kernel<<<1, 1024, 0, stream>>>(loss, row_loss.as<double>(), N);
}

template <class T>
void nt_xent_backward_cuda(T* dz, const T* dloss, const T* z, const T* lse, const NtXentShape& s) {
  cudaStream_t stream = current_stream();
  const int64_t N = s.N, D = s.D, rows = rows_per_tile(s);
  const T inv_tau = static_cast<T>(1.0 / s.temperature);
  Work<T> w(N, D, rows);
  CudaBuffer dzn_buf = scratch(sizeof(T) * static_cast<size_t>(N * D));
  T* zn = w.zn.template as<T>();
  T* G = w.S.template as<T>();
  T* dzn = dzn_buf.as<T>();
  const double* denom = w.denom.template as<double>();
  ntxent_normalize_kernel<<<row_blocks(N), row_warps * 32, 0, stream>>>(
      zn, w.denom.template as<double>(), z, N, D);
  for (int64_t i0 = 0; i0 < N; i0 += rows) {
    const int64_t t = std::min(rows, N - i0);
    gemm_cuda(false, true, t, N, D, inv_tau, zn + i0 * D, D, zn, D, T(0), G, N,
              "nt_xent backward");
    ntxent_grad_rows_kernel<<<static_cast<unsigned>(t), block_threads, 0, stream>>>(G, lse, dloss,
                                                                                     i0, N);
    gemm_cuda(true, false, N, D, t, inv_tau, G, N, zn + i0 * D, D, i0 == 0 ? T(0) : T(1), dzn, D,
              "nt_xent backward");  // dzn (+)= G^T zn[tile] / tau
    gemm_cuda(false, false, t, D, N, inv_tau, G, N, zn, D, T(1), dzn + i0 * D, D,
              "nt_xent backward");  // dzn[tile] += G zn / tau
  }
  ntxent_normalize_backward_kernel<<<row_blocks(N), row_warps * 32, 0, stream>>>(dz, dzn, zn,
                                                                                 denom, N, D);
}

#define NIDIM_INSTANTIATE(T)                                                                  \
  template void nt_xent_forward_cuda<T>(T*, T*, const T*, const NtXentShape&);                \
  template void nt_xent_backward_cuda<T>(T*, const T*, const T*, const T*, const NtXentShape&);
NIDIM_INSTANTIATE(float)
NIDIM_INSTANTIATE(double)
#undef NIDIM_INSTANTIATE

}  // namespace nidim
