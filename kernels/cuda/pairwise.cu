// nidim/kernels/cuda/pairwise.cu: the joint MLP critic on every pair of a batch and its fusion
// with the InfoNCE bound, on the GPU (the CUDA twin of kernels/cpu/pairwise.cpp; the same math:
//   h1 = lrelu(u_i + v_j), h2 = lrelu(W2 h1 + b2), S[i, j] = w3 . h2 + b3).
// Nothing of size Bu x Bv x H is ever stored. Two ways of running it:
//
// 1. Scores only (pairwise_mlp forward, and the InfoNCE loss when no gradient is wanted):
//    pairwise_scores_kernel, fused and tiled in shared memory. A block owns 8 rows of u x 8 rows
//    of v = 64 pairs and walks the hidden outputs in chunks of 64 and the inputs in steps of 16:
//    per step it builds h1 for its 64 pairs x 16 inputs in shared memory (straight from u and v),
//    loads the matching 64 x 16 slice of W2, and each of its 256 threads accumulates a 4 x 4
//    register tile (4 pairs x 4 outputs) of W2 h1. At the end of a chunk the epilogue adds b2,
//    applies lrelu and folds the 4 outputs into the pairs' partial scores with w3; after the last
//    chunk the 16 threads that share a pair add their partial scores in a fixed order (+ b3).
//    So the hidden activations of a pair live only in registers and shared memory. InfoNCE then
//    needs one pass over each row of S: pairwise_infonce_rows_kernel (row max, log-sum-exp, the
//    row's loss term and, when wanted, the row's gradient dS in one pass; STYLE.md rule 7).
//
// 2. Gradients (pairwise_mlp backward, InfoNCE with gradients): tiles of whole rows, as the CPU.
//    A tile of T rows of u against all Bv rows of v holds P = T * Bv pairs; its work matrices
//    [P, H] (h1, h2, dz, dh1: about 32 MiB each by default, from the caching allocator) are all
//    the memory the critic needs. Per tile:
//      pairwise_h1_kernel         h1 = lrelu(u_i + v_j)
//      cuBLAS                     h2 = h1 W2^T
//      pairwise_epilogue_kernel   s = lrelu(h2 + b2) w3 + b3 (one warp per pair; InfoNCE only)
//      pairwise_infonce_rows_kernel (InfoNCE: the tile has whole rows) or the given dS
//      pairwise_dz_kernel         y = lrelu(h2 + b2), dz = dS * w3 * lrelu'(y), and the tile's
//                                 parts of dw3 = y^T dS and db2 = dz^T 1 (per-block sums)
//      cuBLAS                     dW2 += dz^T h1, dh1 = dz W2
//      pairwise_du_kernel         dh1 *= lrelu'(h1); du_i = sum_j dh1 (the tile owns its rows)
//      pairwise_dv_kernel         dv_j += sum over the tile's rows of dh1
//    The three GEMMs are the bulk of the work (2 P H^2 flops each) and run on cuBLAS (TF32 tensor
//    cores when set_tf32_cuda(true)). InfoNCE's dS for a row needs only that row's scores, so each
//    tile runs its backward right after its forward: one forward and one backward in all, no
//    recomputation (pairwise_mlp backward recomputes each tile's forward, as the CPU does).
//    Tiles run in order and accumulate in a fixed order: results are reproducible. (Where H is too
//    large for the dz kernel's shared accumulators, the epilogue writes y back into h2 and dw3,
//    db2 are cuBLAS matrix-vector products per tile instead.)
// lrelu keeps the sign of its input (slope >= 0), so its derivative is read off its output.
// Kernel names start with "pairwise_".
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels_cuda.h"

namespace nidim {

using namespace gpu;

namespace {

template <class T>
__device__ inline T lrelu(T x, T slope) {
  return x > T(0) ? x : slope * x;
}
template <class T>
__device__ inline T lrelu_grad_from_output(T y, T slope) {
  return y > T(0) ? T(1) : slope;
}

// ---- 1. fused scores ------------------------------------------------------------------------------

constexpr int tile_i = 8, tile_j = 8, tile_pairs = tile_i * tile_j;  // pairs per block
constexpr int chunk_out = 64;                                        // hidden outputs per chunk
constexpr int step_k = 16;                                           // inputs per step
constexpr int scores_threads = 256;  // 16 pair groups x 16 output groups

// Thread t: pair group tp = t % 16 owns pairs tp + 16 q, output group to = t / 16 owns outputs
// to + 16 r of the chunk (q, r = 0..3). Strided ownership keeps shared-memory reads conflict-free.
template <class T>
__global__ void __launch_bounds__(scores_threads, 2)
    pairwise_scores_kernel(T* S, const T* u, const T* v, const T* W2, const T* b2, const T* w3,
                           const T* b3, int64_t Bu, int64_t Bv, int64_t H, T slope) {
  __shared__ T h1s[step_k][tile_pairs];
  __shared__ T w2s[step_k][chunk_out + 1];
  __shared__ T partial[16][tile_pairs];
  const int t = threadIdx.x, tp = t % 16, to = t / 16;
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * tile_i,
                j0 = static_cast<int64_t>(blockIdx.x) * tile_j;
  T score[4] = {0, 0, 0, 0};
  for (int64_t o0 = 0; o0 < H; o0 += chunk_out) {
    T acc[4][4] = {};
    for (int64_t k0 = 0; k0 < H; k0 += step_k) {
      for (int e = t; e < step_k * tile_pairs;
           e += scores_threads) {  // h1 for 64 pairs x 16 inputs
        const int kk = e / tile_pairs, p = e % tile_pairs;
        const int64_t i = i0 + p / tile_j, j = j0 + p % tile_j, k = k0 + kk;
        h1s[kk][p] = (i < Bu && j < Bv && k < H) ? lrelu(u[i * H + k] + v[j * H + k], slope) : T(0);
      }
      for (int e = t; e < step_k * chunk_out; e += scores_threads) {  // W2 [o0 + oo, k0 + kk]
        const int kk = e % step_k, oo = e / step_k;
        const int64_t o = o0 + oo, k = k0 + kk;
        w2s[kk][oo] = (o < H && k < H) ? W2[o * H + k] : T(0);
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < step_k; ++kk) {
        T a[4], b[4];
#pragma unroll
        for (int q = 0; q < 4; ++q) a[q] = h1s[kk][tp + 16 * q];
#pragma unroll
        for (int r = 0; r < 4; ++r) b[r] = w2s[kk][to + 16 * r];
#pragma unroll
        for (int q = 0; q < 4; ++q)
#pragma unroll
          for (int r = 0; r < 4; ++r) acc[q][r] += a[q] * b[r];
      }
      __syncthreads();
    }
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int64_t o = o0 + to + 16 * r;
      if (o >= H) continue;
      const T bias = b2[o], w = w3[o];
#pragma unroll
      for (int q = 0; q < 4; ++q) score[q] += w * lrelu(acc[q][r] + bias, slope);
    }
  }
#pragma unroll
  for (int q = 0; q < 4; ++q) partial[to][tp + 16 * q] = score[q];
  __syncthreads();
  if (t < tile_pairs) {
    T s = b3[0];
    for (int g = 0; g < 16; ++g) s += partial[g][t];
    const int64_t i = i0 + t / tile_j, j = j0 + t % tile_j;
    if (i < Bu && j < Bv) S[i * Bv + j] = s;
  }
}

// Lab reference: one thread per pair, everything from global memory.
template <class T>
__global__ void pairwise_scores_naive_kernel(T* S, const T* u, const T* v, const T* W2, const T* b2,
                                             const T* w3, const T* b3, int64_t Bu, int64_t Bv,
                                             int64_t H, T slope) {
  NIDIM_GRID_LOOP(pair, Bu * Bv) {
    const int64_t i = pair / Bv, j = pair % Bv;
    T s = b3[0];
    for (int64_t o = 0; o < H; ++o) {
      T z = b2[o];
      for (int64_t k = 0; k < H; ++k)
        z += W2[o * H + k] * lrelu(u[i * H + k] + v[j * H + k], slope);
      s += w3[o] * lrelu(z, slope);
    }
    S[pair] = s;
  }
}

// ---- InfoNCE rows ---------------------------------------------------------------------------------

// Block r handles score row r of `scores` (global row i = i0 + r, B columns): row_loss[i] =
// logsumexp_j S_ij - S_ii and, when ds is given, ds[r, j] = (softmax_ij - [i == j]) / B and
// row_ds[i] = sum_j ds[r, j]. Sums in double, the row maximum subtracted before exp.
template <class T>
__global__ void pairwise_infonce_rows_kernel(double* row_loss, T* ds, double* row_ds,
                                             const T* scores, int64_t i0, int64_t B) {
  __shared__ T sh_t[block_threads];
  __shared__ double sh_d[block_threads];
  const int64_t r = blockIdx.x, i = i0 + r;
  const T* row = scores + r * B;
  T m = -INFINITY;
  for (int64_t j = threadIdx.y; j < B; j += blockDim.y) m = m < row[j] ? row[j] : m;
  m = reduce_y(m, sh_t, [](T a, T b) { return a < b ? b : a; });
  double s = 0;
  for (int64_t j = threadIdx.y; j < B; j += blockDim.y) s += ::exp(static_cast<double>(row[j] - m));
  s = reduce_y(s, sh_d, Plus{});
  const double lse = static_cast<double>(m) + ::log(s);
  if (threadIdx.y == 0) row_loss[i] = lse - static_cast<double>(row[i]);
  if (!ds) return;
  double dsum = 0;
  for (int64_t j = threadIdx.y; j < B; j += blockDim.y) {
    const T d = static_cast<T>((::exp(static_cast<double>(row[j]) - lse) - (j == i ? 1.0 : 0.0)) /
                               static_cast<double>(B));
    ds[r * B + j] = d;
    dsum += static_cast<double>(d);
  }
  dsum = reduce_y(dsum, sh_d, Plus{});
  if (threadIdx.y == 0) row_ds[i] = dsum;
}

// out[0] = T(sum of the n values of x (double) times scale), by one block in a fixed order.
template <class T, class X>
__global__ void pairwise_total_kernel(T* out, const X* x, int64_t n, double scale) {
  double s = 0;
  for (int64_t e = threadIdx.x; e < n; e += blockDim.x) s += static_cast<double>(x[e]);
  s = block_sum(s);
  if (threadIdx.x == 0) out[0] = static_cast<T>(s * scale);
}

// ---- 2. tiles of whole rows --------------------------------------------------------------------------

// h1 [P, H], pair p = (i0 + p / Bv, p % Bv). One warp per pair, lanes over k: the pair's
// indices are computed once per warp, not per element (a 64-bit division per element made this
// kernel several times slower; ncu on an H200).
template <class T>
__global__ void pairwise_h1_kernel(T* __restrict__ h1, const T* __restrict__ u,
                                   const T* __restrict__ v, int64_t i0, int64_t Bv, int64_t H,
                                   int64_t P, T slope) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32; p < P;
       p += warps) {
    const T* ui = u + (i0 + p / Bv) * H;
    const T* vj = v + (p % Bv) * H;
    T* out = h1 + p * H;
    for (int64_t k = lane; k < H; k += 32) out[k] = lrelu(ui[k] + vj[k], slope);
  }
}

// One warp per pair: s[p] = lrelu(h2 + b2) . w3 + b3 (when s is given) and, when write_back,
// h2 = lrelu(h2 + b2) in place (only for the unfused backward below, which reads the activation).
template <class T>
__global__ void pairwise_epilogue_kernel(T* h2, T* s, const T* b2, const T* w3, const T* b3,
                                         int64_t P, int64_t H, T slope, bool write_back) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32; p < P;
       p += warps) {
    T* row = h2 + p * H;
    T acc = 0;
    for (int64_t k = lane; k < H; k += 32) {
      const T y = lrelu(row[k] + b2[k], slope);
      if (write_back) row[k] = y;
      acc += y * w3[k];
    }
    for (int o = 16; o > 0; o >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, o);
    if (s && lane == 0) s[p] = acc + b3[0];
  }
}

// dz = ds * w3 * lrelu'(y), one warp per pair (blocks of dz_warps warps), where y = lrelu(h2 + b2)
// from the GEMM's raw h2 when b2 is given (fused), or y = h2 already activated (b2 null).
// Fused, it also adds the tile's contributions to dw3 = sum_p y ds and db2 = sum_p dz: each warp
// into its own row of shared memory (T), then the block adds its warps' rows in order into its
// own row of part_w / part_b (double, [gridDim.x, H], kept across the tiles; the grid is the same
// for every tile). pairwise_param_sums_kernel adds the blocks' rows in order at the end. This
// replaces two cuBLAS matrix-vector products per tile that re-read h2 and dz (1 ms of a batch-1024
// step on an H200, ncu) and the epilogue's write-back of h2.
constexpr int dz_warps = 8;
constexpr size_t dz_shared_limit = 48 * 1024;

template <class T>
__global__ void __launch_bounds__(dz_warps * 32)
    pairwise_dz_kernel(T* __restrict__ dz, double* part_w, double* part_b, const T* __restrict__ ds,
                       const T* __restrict__ h2, const T* __restrict__ b2, const T* __restrict__ w3,
                       int64_t H, int64_t P, T slope) {
  extern __shared__ unsigned char dz_shared[];
  T* acc_w = reinterpret_cast<T*>(dz_shared);  // [dz_warps, H]
  T* acc_b = acc_w + dz_warps * H;             // [dz_warps, H]
  const bool sums = part_w != nullptr;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (sums) {
    for (int64_t e = threadIdx.x; e < 2 * dz_warps * H; e += blockDim.x) acc_w[e] = T(0);
    __syncthreads();
  }
  const int64_t warps = static_cast<int64_t>(gridDim.x) * dz_warps;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * dz_warps + warp; p < P; p += warps) {
    const T d = ds[p];
    const T* in = h2 + p * H;
    T* out = dz + p * H;
    for (int64_t k = lane; k < H; k += 32) {
      const T y = b2 ? lrelu(in[k] + b2[k], slope) : in[k];
      const T g = d * w3[k] * lrelu_grad_from_output(y, slope);
      out[k] = g;
      if (sums) {
        acc_w[warp * H + k] += y * d;
        acc_b[warp * H + k] += g;
      }
    }
  }
  if (!sums) return;
  __syncthreads();
  for (int64_t k = threadIdx.x; k < H; k += blockDim.x) {
    double sw = 0, sb = 0;
    for (int w = 0; w < dz_warps; ++w) {
      sw += static_cast<double>(acc_w[w * H + k]);
      sb += static_cast<double>(acc_b[w * H + k]);
    }
    part_w[blockIdx.x * H + k] += sw;
    part_b[blockIdx.x * H + k] += sb;
  }
}

// dw3[k] = sum over the blocks b of part_w[b, k] (db2 likewise), in a fixed tree (reduce_y); lanes
// make_lanes(1, blocks, H).
template <class T>
__global__ void pairwise_param_sums_kernel(T* dw3, T* db2, const double* part_w,
                                           const double* part_b, Lanes l) {
  __shared__ double sh[block_threads];
  int64_t r, k;
  const bool valid = lane_of(l, r, k);
  double sw = 0, sb = 0;
  if (valid)
    for (int64_t b = threadIdx.y; b < l.A; b += blockDim.y) {
      sw += part_w[b * l.I + k];
      sb += part_b[b * l.I + k];
    }
  sw = reduce_y(sw, sh, Plus{});
  sb = reduce_y(sb, sh, Plus{});
  if (valid && threadIdx.y == 0) {
    if (dw3) dw3[k] = static_cast<T>(sw);
    if (db2) db2[k] = static_cast<T>(sb);
  }
}

// Lanes (t, k) of dh1 viewed as [rows, Bv, H]: dh1 *= lrelu'(h1) in place, du[i0 + t, k] = sum_j.
// Block (du_lx, du_ly): x over k, y over j; grid rows x ceil(H / du_lx). Each thread reads
// du_batch j's before it writes any (loads in flight), adds them in increasing j, and the du_ly
// partial sums are added in order of y: the sum depends only on the shape.
constexpr int du_lx = 32, du_ly = 16, du_batch = 4;

template <class T>
__global__ void __launch_bounds__(du_lx* du_ly)
    pairwise_du_kernel(T* __restrict__ du, T* __restrict__ dh1, const T* __restrict__ h1,
                       int64_t i0, int64_t Bv, int64_t H, int64_t kgroups, T slope) {
  __shared__ T sh[du_ly][du_lx + 1];
  const int64_t t = blockIdx.x / kgroups;
  const int64_t k = (blockIdx.x % kgroups) * du_lx + threadIdx.x;
  T acc = 0;
  if (k < H) {
    T* g = dh1 + t * Bv * H + k;
    const T* h = h1 + t * Bv * H + k;
    for (int64_t j0 = threadIdx.y; j0 < Bv; j0 += du_batch * du_ly) {
      T gv[du_batch], hv[du_batch];
#pragma unroll
      for (int q = 0; q < du_batch; ++q) {
        const int64_t j = j0 + q * du_ly;
        if (j < Bv) gv[q] = g[j * H], hv[q] = h[j * H];
      }
#pragma unroll
      for (int q = 0; q < du_batch; ++q) {
        const int64_t j = j0 + q * du_ly;
        if (j < Bv) {
          const T m = gv[q] * lrelu_grad_from_output(hv[q], slope);
          g[j * H] = m;
          acc += m;
        }
      }
    }
  }
  sh[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && k < H && du) {
    T sum = 0;
    for (int y = 0; y < du_ly; ++y) sum += sh[y][threadIdx.x];
    du[(i0 + t) * H + k] = sum;
  }
}

// dv[j, k] (+)= sum over the tile's rows t of dh1[t, j, k] (already masked).
template <class T>
__global__ void pairwise_dv_kernel(T* dv, const T* dh1, int64_t rows, int64_t Bv, int64_t H,
                                   bool accumulate) {
  NIDIM_GRID_LOOP(e, Bv * H) {
    T acc = 0;
    for (int64_t t = 0; t < rows; ++t) acc += dh1[t * Bv * H + e];
    dv[e] = accumulate ? dv[e] + acc : acc;
  }
}

template <class T>
__global__ void pairwise_fill_kernel(T* x, int64_t n, T value) {
  NIDIM_GRID_LOOP(e, n) x[e] = value;
}

// About 2^23 values (32 MiB of float) per work matrix: large GEMMs, bounded memory.
int64_t rows_per_tile(const PairwiseShape& s) {
  return pairwise_tile_rows(s, int64_t(1) << 23);
}

template <class T>
struct Grads {
  T *du, *dv, *dW2, *db2, *dw3, *db3;
  bool any() const { return du || dv || dW2 || db2 || dw3 || db3; }
};

// Runs the tiles. dS_given: pairwise_mlp backward (dS [Bu, Bv]); null: InfoNCE (loss may be null
// when only... never: InfoNCE always writes the loss).
template <class T>
void run_tiles(T* loss, const Grads<T>& g, const T* dS_given, const T* u, const T* v, const T* W2,
               const T* b2, const T* w3, const T* b3, const PairwiseShape& s, const char* op) {
  cudaStream_t stream = current_stream();
  const int64_t H = s.H, Bv = s.Bv, rows = rows_per_tile(s), Pmax = rows * Bv;
  const T slope = static_cast<T>(s.slope);
  const bool infonce = dS_given == nullptr;
  const bool back = g.any();
  // dw3 and db2 fused into the dz kernel when its shared accumulators fit (H <= 768 in float).
  const bool sums = g.dw3 || g.db2;
  const bool fused = sums && 2 * dz_warps * static_cast<size_t>(H) * sizeof(T) <= dz_shared_limit;
  const int64_t dz_blocks = std::clamp<int64_t>((Pmax + dz_warps - 1) / dz_warps, 1, 1024);
  const size_t dz_shared = fused ? 2 * dz_warps * static_cast<size_t>(H) * sizeof(T) : 0;
  // Work matrices and vectors of one tile.
  CudaBuffer work = scratch(sizeof(T) * static_cast<size_t>(4 * Pmax * H + 3 * Pmax));
  T* h1 = work.as<T>();
  T* h2 = h1 + Pmax * H;
  T* dz = h2 + Pmax * H;
  T* dh1 = dz + Pmax * H;
  T* scores = dh1 + Pmax * H;
  T* ds_own = scores + Pmax;
  T* ones = ds_own + Pmax;
  CudaBuffer rowbuf = scratch(sizeof(double) * static_cast<size_t>(2 * s.Bu));
  double* row_loss = rowbuf.as<double>();
  double* row_ds = row_loss + s.Bu;
  CudaBuffer partbuf = scratch(fused ? sizeof(double) * static_cast<size_t>(2 * dz_blocks * H) : 0);
  double* part_w = fused ? partbuf.as<double>() : nullptr;
  double* part_b = fused ? part_w + dz_blocks * H : nullptr;
  if (fused)
    pairwise_fill_kernel<<<grid_for(2 * dz_blocks * H), block_threads, 0, stream>>>(
        part_w, 2 * dz_blocks * H, 0.0);
  if (g.db2 && !fused)
    pairwise_fill_kernel<<<grid_for(Pmax), block_threads, 0, stream>>>(ones, Pmax, T(1));
  for (int64_t i0 = 0; i0 < s.Bu; i0 += rows) {
    const int64_t t = std::min(rows, s.Bu - i0), P = t * Bv;
    const T beta = i0 == 0 ? T(0) : T(1);
    // forward of the tile
    pairwise_h1_kernel<<<grid_for(P * 32), block_threads, 0, stream>>>(h1, u, v, i0, Bv, H, P,
                                                                       slope);
    gemm_cuda(false, true, P, H, H, T(1), h1, H, W2, H, T(0), h2, H, op);  // h2 = h1 W2^T (raw)
    const bool write_back = back && !fused;
    if (infonce || write_back)
      pairwise_epilogue_kernel<<<grid_for(P * 32), block_threads, 0, stream>>>(
          h2, infonce ? scores : nullptr, b2, w3, b3, P, H, slope, write_back);
    const T* ds = dS_given ? dS_given + i0 * Bv : ds_own;
    if (infonce) {
      const Lanes l = make_lanes(t, Bv, 1);
      pairwise_infonce_rows_kernel<<<static_cast<unsigned>(t), l.block(), 0, stream>>>(
          row_loss, back ? ds_own : nullptr, row_ds, scores, i0, Bv);
    }
    if (!back) continue;
    // backward of the tile
    if (g.dw3 && !fused)
      gemm_cuda(true, false, H, 1, P, T(1), h2, H, ds, 1, beta, g.dw3, 1, op);  // dw3 += h2^T ds
    if (!(fused || g.db2 || g.dW2 || g.du || g.dv)) continue;
    if (fused)
      pairwise_dz_kernel<T><<<static_cast<unsigned>(dz_blocks), dz_warps * 32, dz_shared, stream>>>(
          dz, part_w, part_b, ds, h2, b2, w3, H, P, slope);
    else
      pairwise_dz_kernel<T><<<grid_for(P * 32), dz_warps * 32, 0, stream>>>(
          dz, nullptr, nullptr, ds, h2, nullptr, w3, H, P, slope);
    if (g.db2 && !fused)
      gemm_cuda(true, false, H, 1, P, T(1), dz, H, ones, 1, beta, g.db2, 1, op);  // db2 += dz^T 1
    if (g.dW2)
      gemm_cuda(true, false, H, H, P, T(1), dz, H, h1, H, beta, g.dW2, H, op);  // dW2 += dz^T h1
    if (!(g.du || g.dv)) continue;
    gemm_cuda(false, false, P, H, H, T(1), dz, H, W2, H, T(0), dh1, H, op);  // dh1 = dz W2
    const int64_t kgroups = (H + du_lx - 1) / du_lx;
    pairwise_du_kernel<<<static_cast<unsigned>(t * kgroups), dim3(du_lx, du_ly), 0, stream>>>(
        g.du, dh1, h1, i0, Bv, H, kgroups, slope);
    if (g.dv)
      pairwise_dv_kernel<<<grid_for(Bv * H), block_threads, 0, stream>>>(g.dv, dh1, t, Bv, H,
                                                                         i0 != 0);
  }
  if (fused) {
    const Lanes l = make_lanes(1, dz_blocks, H);
    pairwise_param_sums_kernel<<<l.blocks(), l.block(), 0, stream>>>(g.dw3, g.db2, part_w, part_b,
                                                                     l);
  }
  if (infonce)
    pairwise_total_kernel<<<1, 1024, 0, stream>>>(loss, row_loss, s.Bu,
                                                  1.0 / static_cast<double>(s.Bu));
  if (g.db3) {
    if (infonce)
      pairwise_total_kernel<<<1, 1024, 0, stream>>>(g.db3, row_ds, s.Bu, 1.0);
    else
      pairwise_total_kernel<<<1, 1024, 0, stream>>>(g.db3, dS_given, s.Bu * Bv, 1.0);
  }
}

template <class T>
void launch_scores(T* S, const T* u, const T* v, const T* W2, const T* b2, const T* w3, const T* b3,
                   const PairwiseShape& s) {
  const dim3 grid(static_cast<unsigned>((s.Bv + tile_j - 1) / tile_j),
                  static_cast<unsigned>((s.Bu + tile_i - 1) / tile_i));
  NIDIM_CHECK(grid.y <= 65535, "pairwise_mlp: {} rows of u is beyond the kernel's grid", s.Bu);
  pairwise_scores_kernel<<<grid, scores_threads, 0, current_stream()>>>(
      S, u, v, W2, b2, w3, b3, s.Bu, s.Bv, s.H, static_cast<T>(s.slope));
}

}  // namespace

// ---- launchers ----------------------------------------------------------------------------------------

template <class T>
void pairwise_mlp_forward_cuda(T* S, const T* u, const T* v, const T* W2, const T* b2, const T* w3,
                               const T* b3, const PairwiseShape& s) {
  launch_scores(S, u, v, W2, b2, w3, b3, s);
}

template <class T>
void pairwise_mlp_backward_cuda(T* du, T* dv, T* dW2, T* db2, T* dw3, T* db3, const T* dS,
                                const T* u, const T* v, const T* W2, const T* b2, const T* w3,
                                const T* b3, const PairwiseShape& s) {
  const Grads<T> g{du, dv, dW2, db2, dw3, db3};
  if (!g.any()) return;
  run_tiles<T>(nullptr, g, dS, u, v, W2, b2, w3, b3, s, "pairwise_mlp backward");
}

template <class T>
void pairwise_mlp_infonce_loss_fused_cuda(T* loss, const T* u, const T* v, const T* W2, const T* b2,
                                          const T* w3, const T* b3, const PairwiseShape& s) {
  cudaStream_t stream = current_stream();
  const int64_t B = s.Bu;
  CudaBuffer scores = scratch(sizeof(T) * static_cast<size_t>(B * s.Bv));
  CudaBuffer rows = scratch(sizeof(double) * static_cast<size_t>(B));
  launch_scores(scores.as<T>(), u, v, W2, b2, w3, b3, s);
  const Lanes l = make_lanes(B, s.Bv, 1);
  pairwise_infonce_rows_kernel<<<static_cast<unsigned>(B), l.block(), 0, stream>>>(
      rows.as<double>(), static_cast<T*>(nullptr), static_cast<double*>(nullptr), scores.as<T>(), 0,
      s.Bv);
  pairwise_total_kernel<<<1, 1024, 0, stream>>>(loss, rows.as<double>(), B,
                                                1.0 / static_cast<double>(B));
}

template <class T>
void pairwise_mlp_infonce_cuda(T* loss, T* du, T* dv, T* dW2, T* db2, T* dw3, T* db3, const T* u,
                               const T* v, const T* W2, const T* b2, const T* w3, const T* b3,
                               const PairwiseShape& s) {
  NIDIM_CHECK(s.Bu == s.Bv, "pairwise_mlp_infonce: needs square scores, got {} x {}", s.Bu, s.Bv);
  const Grads<T> g{du, dv, dW2, db2, dw3, db3};
  if (!g.any()) return pairwise_mlp_infonce_loss_fused_cuda(loss, u, v, W2, b2, w3, b3, s);
  run_tiles<T>(loss, g, nullptr, u, v, W2, b2, w3, b3, s, "pairwise_mlp_infonce");
}

template <class T>
void pairwise_mlp_forward_naive_cuda(T* S, const T* u, const T* v, const T* W2, const T* b2,
                                     const T* w3, const T* b3, const PairwiseShape& s) {
  pairwise_scores_naive_kernel<<<grid_for(s.Bu * s.Bv), block_threads, 0, current_stream()>>>(
      S, u, v, W2, b2, w3, b3, s.Bu, s.Bv, s.H, static_cast<T>(s.slope));
}

#define NIDIM_INSTANTIATE(T)                                                                       \
  template void pairwise_mlp_forward_cuda<T>(T*, const T*, const T*, const T*, const T*, const T*, \
                                             const T*, const PairwiseShape&);                      \
  template void pairwise_mlp_backward_cuda<T>(T*, T*, T*, T*, T*, T*, const T*, const T*,          \
                                              const T*, const T*, const T*, const T*, const T*,    \
                                              const PairwiseShape&);                               \
  template void pairwise_mlp_infonce_cuda<T>(T*, T*, T*, T*, T*, T*, T*, const T*, const T*,       \
                                             const T*, const T*, const T*, const T*,               \
                                             const PairwiseShape&);                                \
  template void pairwise_mlp_forward_naive_cuda<T>(T*, const T*, const T*, const T*, const T*,     \
                                                   const T*, const T*, const PairwiseShape&);      \
  template void pairwise_mlp_infonce_loss_fused_cuda<T>(                                           \
      T*, const T*, const T*, const T*, const T*, const T*, const T*, const PairwiseShape&);
NIDIM_INSTANTIATE(float)
NIDIM_INSTANTIATE(double)
#undef NIDIM_INSTANTIATE

}  // namespace nidim
