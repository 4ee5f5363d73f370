// nidim/kernels/cuda/batchnorm.cu: batch normalization over [N, C, S] (S = H*W, or 1 for
// BatchNorm1d), forward (training and evaluation) and backward, as custom kernels; the CUDA twin
// of kernels/cpu/batchnorm.cpp, with its formulas (biased batch variance for normalizing,
// unbiased for the running variance, statistics in double).
//
// A channel's M = N*S values are spread over N runs of S contiguous values, so the per-channel
// sums are split over P blocks per channel (grid P x C, P chosen for about 512 blocks in all and
// at least 1024 values per block):
//   batchnorm_stats_kernel           block (p, c) sums its slice of channel c: sum and sum of
//                                    squares of (x - x_c0), in double, where x_c0 is the
//                                    channel's first value (a shift that keeps the one-pass
//                                    variance exact to double rounding);
//   batchnorm_finalize_kernel        one thread per channel adds the P partial sums in order and
//                                    makes mean, invstd, the running statistics and the affine
//                                    coefficients y = x * scale_c + shift_c (as the CPU: in T);
//   batchnorm_apply_kernel           one thread per element.
// Backward: batchnorm_backward_stats_kernel (sum dy, sum dy * xhat per slice, in double),
// batchnorm_backward_finalize_kernel (dw, db) and batchnorm_backward_apply_kernel
//   dx = w * invstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat))   (training)
//   dx = dy * w * invstd                                               (evaluation)
// in double per element, as the CPU. No atomics: every sum is in a fixed order.
// Kernel names start with "batchnorm_".
#include <cmath>

#include "core/error.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels_cuda.h"

namespace nidim {

using namespace gpu;

namespace {

constexpr int target_blocks = 512;
constexpr int64_t min_per_block = 1024;

int64_t parts_per_channel(int64_t C, int64_t M) {
  const int64_t by_blocks = (target_blocks + C - 1) / C;
  const int64_t by_size = (M + min_per_block - 1) / min_per_block;
  return std::max<int64_t>(1, std::min(by_blocks, by_size));
}

// Value m (0 <= m < M) of channel c.
__device__ inline int64_t channel_offset(int64_t m, int64_t c, int64_t C, int64_t S) {
  return ((m / S) * C + c) * S + m % S;
}

// Block (p, c): partial[c * P + p] = sum over its slice of (x - shift_c) and of its square.
template <class T>
__global__ void batchnorm_stats_kernel(double* part_sum, double* part_sq, const T* x, int64_t C,
                                       int64_t S, int64_t M) {
  const int64_t c = blockIdx.y, p = blockIdx.x, P = gridDim.x;
  const int64_t chunk = (M + P - 1) / P, m0 = p * chunk, m1 = imin(M, m0 + chunk);
  const double shift = static_cast<double>(x[c * S]);
  double s = 0, sq = 0;
  for (int64_t m = m0 + threadIdx.x; m < m1; m += blockDim.x) {
    const double v = static_cast<double>(x[channel_offset(m, c, C, S)]) - shift;
    s += v;
    sq += v * v;
  }
  s = block_sum(s);
  sq = block_sum(sq);
  if (threadIdx.x == 0) {
    part_sum[c * P + p] = s;
    part_sq[c * P + p] = sq;
  }
}

// One thread per channel. Training: batch statistics from the partial sums (running statistics
// updated if given); evaluation: the running statistics.
template <class T>
__global__ void batchnorm_finalize_kernel(T* mean, T* invstd, T* scale, T* shift_out,
                                          const double* part_sum, const double* part_sq, int64_t P,
                                          const T* x, const T* w, const T* b, T* running_mean,
                                          T* running_var, int64_t C, int64_t S, int64_t M,
                                          bool training, double momentum, double eps) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double mu, inv;
  if (training) {
    double s = 0, sq = 0;
    for (int64_t p = 0; p < P; ++p) {
      s += part_sum[c * P + p];
      sq += part_sq[c * P + p];
    }
    const double Md = static_cast<double>(M);
    mu = static_cast<double>(x[c * S]) + s / Md;
    const double var = fmax((sq - s * s / Md) / Md, 0.0);
    inv = 1.0 / ::sqrt(var + eps);
    if (running_mean)
      running_mean[c] = static_cast<T>((1 - momentum) * running_mean[c] + momentum * mu);
    if (running_var)
      running_var[c] =
          static_cast<T>((1 - momentum) * running_var[c] + momentum * var * Md / (Md - 1));
  } else {
    mu = running_mean[c];
    inv = 1.0 / ::sqrt(static_cast<double>(running_var[c]) + eps);
  }
  mean[c] = static_cast<T>(mu);
  invstd[c] = static_cast<T>(inv);
  const double wc = w ? static_cast<double>(w[c]) : 1.0;
  scale[c] = static_cast<T>(inv * wc);
  shift_out[c] = static_cast<T>((b ? static_cast<double>(b[c]) : 0.0) - mu * inv * wc);
}

template <class T>
__global__ void batchnorm_apply_kernel(T* y, const T* x, const T* scale, const T* shift, int64_t C,
                                       int64_t S, int64_t n) {
  NIDIM_GRID_LOOP(e, n) {
    const int64_t c = (e / S) % C;
    y[e] = x[e] * scale[c] + shift[c];
  }
}

template <class T>
__global__ void batchnorm_backward_stats_kernel(double* part_dy, double* part_dy_xhat, const T* dy,
                                                const T* x, const T* mean, const T* invstd,
                                                int64_t C, int64_t S, int64_t M) {
  const int64_t c = blockIdx.y, p = blockIdx.x, P = gridDim.x;
  const int64_t chunk = (M + P - 1) / P, m0 = p * chunk, m1 = imin(M, m0 + chunk);
  const double mu = mean[c], inv = invstd[c];
  double s = 0, sx = 0;
  for (int64_t m = m0 + threadIdx.x; m < m1; m += blockDim.x) {
    const int64_t e = channel_offset(m, c, C, S);
    const double g = dy[e];
    s += g;
    sx += g * (static_cast<double>(x[e]) - mu) * inv;
  }
  s = block_sum(s);
  sx = block_sum(sx);
  if (threadIdx.x == 0) {
    part_dy[c * P + p] = s;
    part_dy_xhat[c * P + p] = sx;
  }
}

// One thread per channel: the channel's sums (kept for the apply kernel) and dw, db.
template <class T>
__global__ void batchnorm_backward_finalize_kernel(double* sum_dy, double* sum_dy_xhat, T* dw,
                                                   T* db, const double* part_dy,
                                                   const double* part_dy_xhat, int64_t P,
                                                   int64_t C) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double s = 0, sx = 0;
  for (int64_t p = 0; p < P; ++p) {
    s += part_dy[c * P + p];
    sx += part_dy_xhat[c * P + p];
  }
  sum_dy[c] = s;
  sum_dy_xhat[c] = sx;
  if (dw) dw[c] = static_cast<T>(sx);
  if (db) db[c] = static_cast<T>(s);
}

template <class T>
__global__ void batchnorm_backward_apply_kernel(T* dx, const T* dy, const T* x, const T* w,
                                                const T* mean, const T* invstd,
                                                const double* sum_dy, const double* sum_dy_xhat,
                                                int64_t C, int64_t S, int64_t M, bool training,
                                                int64_t n) {
  const double Md = static_cast<double>(M);
  NIDIM_GRID_LOOP(e, n) {
    const int64_t c = (e / S) % C;
    const double inv = invstd[c], wc = w ? static_cast<double>(w[c]) : 1.0;
    if (training) {
      const double xhat = (static_cast<double>(x[e]) - static_cast<double>(mean[c])) * inv;
      const double k = wc * inv / Md;
      dx[e] =
          static_cast<T>(k * (Md * static_cast<double>(dy[e]) - sum_dy[c] - xhat * sum_dy_xhat[c]));
    } else {
      dx[e] = static_cast<T>(static_cast<double>(dy[e]) * wc * inv);
    }
  }
}

// Lab version: block c does all of channel c: two passes for the statistics (as the CPU), then
// the normalization. No running statistics.
template <class T>
__global__ void batchnorm_one_block_kernel(T* y, T* mean, T* invstd, const T* x, const T* w,
                                           const T* b, int64_t C, int64_t S, int64_t M,
                                           double eps) {
  const int64_t c = blockIdx.x;
  double s = 0;
  for (int64_t m = threadIdx.x; m < M; m += blockDim.x)
    s += static_cast<double>(x[channel_offset(m, c, C, S)]);
  const double mu = block_sum(s) / static_cast<double>(M);
  double sq = 0;
  for (int64_t m = threadIdx.x; m < M; m += blockDim.x) {
    const double d = static_cast<double>(x[channel_offset(m, c, C, S)]) - mu;
    sq += d * d;
  }
  const double inv = 1.0 / ::sqrt(block_sum(sq) / static_cast<double>(M) + eps);
  const double wc = w ? static_cast<double>(w[c]) : 1.0;
  const T scale = static_cast<T>(inv * wc);
  const T shift = static_cast<T>((b ? static_cast<double>(b[c]) : 0.0) - mu * inv * wc);
  if (threadIdx.x == 0) {
    mean[c] = static_cast<T>(mu);
    invstd[c] = static_cast<T>(inv);
  }
  for (int64_t m = threadIdx.x; m < M; m += blockDim.x) {
    const int64_t e = channel_offset(m, c, C, S);
    y[e] = x[e] * scale + shift;
  }
}

void check_channels(int64_t C, const char* op) {
  NIDIM_CHECK(C <= 65535, "{}: {} channels is beyond the kernels' grid (65535 max)", op, C);
}

}  // namespace

template <class T>
void batch_norm_forward_cuda(T* y, T* mean, T* invstd, const T* x, const T* w, const T* b,
                             T* running_mean, T* running_var, int64_t N, int64_t C, int64_t S,
                             bool training, double momentum, double eps) {
  check_channels(C, "batch_norm");
  if (C == 0) return;
  cudaStream_t stream = current_stream();
  const int64_t M = N * S, P = training ? parts_per_channel(C, M) : 1;
  CudaBuffer parts = scratch(sizeof(double) * static_cast<size_t>(2 * C * P));
  CudaBuffer coef = scratch(sizeof(T) * static_cast<size_t>(2 * C));
  double* part_sum = parts.as<double>();
  double* part_sq = part_sum + C * P;
  T* scale = coef.as<T>();
  T* shift = scale + C;
  if (training)
    batchnorm_stats_kernel<<<dim3(static_cast<unsigned>(P), static_cast<unsigned>(C)),
                             block_threads, 0, stream>>>(part_sum, part_sq, x, C, S, M);
  batchnorm_finalize_kernel<<<grid_for(C, 128), 128, 0, stream>>>(
      mean, invstd, scale, shift, part_sum, part_sq, P, x, w, b, running_mean, running_var, C, S, M,
      training, momentum, eps);
  batchnorm_apply_kernel<<<grid_for(N * C * S), block_threads, 0, stream>>>(y, x, scale, shift, C,
                                                                            S, N * C * S);
}

template <class T>
void batch_norm_backward_cuda(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w,
                              const T* mean, const T* invstd, int64_t N, int64_t C, int64_t S,
                              bool training) {
  check_channels(C, "batch_norm backward");
  if (C == 0) return;
  cudaStream_t stream = current_stream();
  const int64_t M = N * S, P = parts_per_channel(C, M);
  CudaBuffer parts = scratch(sizeof(double) * static_cast<size_t>(2 * C * P + 2 * C));
  double* part_dy = parts.as<double>();
  double* part_dy_xhat = part_dy + C * P;
  double* sum_dy = part_dy_xhat + C * P;
  double* sum_dy_xhat = sum_dy + C;
  batchnorm_backward_stats_kernel<<<dim3(static_cast<unsigned>(P), static_cast<unsigned>(C)),
                                    block_threads, 0, stream>>>(part_dy, part_dy_xhat, dy, x, mean,
                                                                invstd, C, S, M);
  batchnorm_backward_finalize_kernel<<<grid_for(C, 128), 128, 0, stream>>>(
      sum_dy, sum_dy_xhat, dw, db, part_dy, part_dy_xhat, P, C);
  if (dx)
    batchnorm_backward_apply_kernel<<<grid_for(N * C * S), block_threads, 0, stream>>>(
        dx, dy, x, w, mean, invstd, sum_dy, sum_dy_xhat, C, S, M, training, N * C * S);
}

template <class T>
void batch_norm_forward_one_block_cuda(T* y, T* mean, T* invstd, const T* x, const T* w, const T* b,
                                       int64_t N, int64_t C, int64_t S, double eps) {
  check_channels(C, "batch_norm (one block per channel)");
  batchnorm_one_block_kernel<<<static_cast<unsigned>(C), 1024, 0, current_stream()>>>(
      y, mean, invstd, x, w, b, C, S, N * S, eps);
}

#define NIDIM_INSTANTIATE(T)                                                                    \
  template void batch_norm_forward_cuda<T>(T*, T*, T*, const T*, const T*, const T*, T*, T*,    \
                                           int64_t, int64_t, int64_t, bool, double, double);    \
  template void batch_norm_backward_cuda<T>(T*, T*, T*, const T*, const T*, const T*, const T*, \
                                            const T*, int64_t, int64_t, int64_t, bool);         \
  template void batch_norm_forward_one_block_cuda<T>(T*, T*, T*, const T*, const T*, const T*,  \
                                                     int64_t, int64_t, int64_t, double);
NIDIM_INSTANTIATE(float)
NIDIM_INSTANTIATE(double)
#undef NIDIM_INSTANTIATE

}  // namespace nidim
