// nidim/kernels/cuda/reduce.cu: reductions over one axis or all elements (sum, mean, max,
// logsumexp), softmax and log_softmax, and the two losses (cross-entropy, mean squared error):
// the CUDA twin of kernels/cpu/reduce.cpp, with its arithmetic (sums in double, the lane maximum
// subtracted before exp, the same NaN rules).
//
// Work split:
//   * a reduction over everything (R = I = 1) and the MSE go through CUB's DeviceReduce
//     (TransformReduce to double; temporary storage from the caching allocator); CUB's reduction
//     is deterministic for a given GPU;
//   * every axis reduction uses the lane scheme of common.cuh: a block of (LX, LY) threads owns LX
//     lanes, LY threads split each lane's A values, reduce_y() combines them in a fixed tree;
//   * the backward passes are element-wise: one thread per input element.
// Kernel names start with "reduce_".
#include <thrust/iterator/counting_iterator.h>

#include <cub/device/device_reduce.cuh>
#include <cuda/std/functional>

#include "core/error.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels_cuda.h"
#include "kernels/math.h"

namespace nidim {

using namespace gpu;

namespace {

// ---- all elements, through CUB ----------------------------------------------------------------

template <class T>
struct ToDouble {
  __device__ double operator()(T x) const { return static_cast<double>(x); }
};

template <class T>
struct SquaredDifference {
  const T* a;
  const T* b;
  __device__ double operator()(int64_t i) const {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    return d * d;
  }
};

// out[0] = T(scale * acc[0]): the sum (scale 1), the mean (1 / count) or 0 for an empty input.
template <class T>
__global__ void reduce_finish_kernel(T* out, const double* acc, double scale) {
  out[0] = static_cast<T>(scale * acc[0]);
}

// *acc (double, device) = sum over i < n of transform(in[i]), via CUB.
template <class It, class F>
void cub_sum(double* acc, It in, int64_t n, F transform, cudaStream_t stream, const char* op) {
  size_t bytes = 0;
  NIDIM_CUDA_CHECK(
      cub::DeviceReduce::TransformReduce(nullptr, bytes, in, acc, n, ::cuda::std::plus<double>{},
                                         transform, 0.0, stream),
      op);
  CudaBuffer temp = scratch(std::max<size_t>(bytes, 1));  // a null pointer would mean "size query"
  NIDIM_CUDA_CHECK(
      cub::DeviceReduce::TransformReduce(temp.get(), bytes, in, acc, n, ::cuda::std::plus<double>{},
                                         transform, 0.0, stream),
      op);
}

// ---- axis reductions: lanes ------------------------------------------------------------------

template <class T>
__global__ void reduce_sum_kernel(T* y, const T* x, Lanes l, double scale) {
  __shared__ double sh[block_threads];
  int64_t r, i;
  const bool valid = lane_of(l, r, i);
  double acc = 0;
  if (valid) {
    const T* lane = x + r * l.A * l.I + i;
    for (int64_t a = threadIdx.y; a < l.A; a += blockDim.y)
      acc += static_cast<double>(lane[a * l.I]);
  }
  const double total = reduce_y(acc, sh, Plus{});
  if (valid && threadIdx.y == 0) y[r * l.I + i] = static_cast<T>(scale * total);
}

template <class T>
__global__ void reduce_sum_backward_kernel(T* dx, const T* dy, int64_t A, int64_t I, int64_t n,
                                           double scale) {
  NIDIM_GRID_LOOP(e, n) {
    const int64_t r = e / (A * I), i = e % I;
    dx[e] = static_cast<T>(scale * static_cast<double>(dy[r * I + i]));
  }
}

// The first maximum of a lane, NaN winning (as max_forward_cpu); index -1: no element yet.
template <class T>
struct ArgMax {
  T value;
  int64_t index;
};

template <class T>
__device__ ArgMax<T> better(ArgMax<T> p, ArgMax<T> q) {
  if (p.index < 0) return q;
  if (q.index < 0) return p;
  const bool pn = p.value != p.value, qn = q.value != q.value;
  if (pn || qn) {
    if (pn && qn) return p.index < q.index ? p : q;
    return pn ? p : q;
  }
  if (q.value > p.value) return q;
  if (p.value > q.value) return p;
  return p.index < q.index ? p : q;
}

struct Better {
  template <class V>
  __device__ V operator()(V p, V q) const {
    return better(p, q);
  }
};

template <class T>
__global__ void reduce_max_kernel(T* y, int64_t* index, const T* x, Lanes l) {
  __shared__ ArgMax<T> sh[block_threads];
  int64_t r, i;
  const bool valid = lane_of(l, r, i);
  ArgMax<T> best;
  best.value = T(0);
  best.index = -1;
  if (valid) {
    const T* lane = x + r * l.A * l.I + i;
    for (int64_t a = threadIdx.y; a < l.A; a += blockDim.y) {
      ArgMax<T> c;
      c.value = lane[a * l.I];
      c.index = a;
      best = better(best, c);
    }
  }
  const ArgMax<T> result = reduce_y(best, sh, Better{});
  if (valid && threadIdx.y == 0) {
    y[r * l.I + i] = result.value;
    index[r * l.I + i] = result.index;
  }
}

template <class T>
__global__ void reduce_max_backward_kernel(T* dx, const T* dy, const int64_t* index, int64_t A,
                                           int64_t I, int64_t n) {
  NIDIM_GRID_LOOP(e, n) {
    const int64_t r = e / (A * I), a = (e / I) % A, i = e % I;
    dx[e] = index[r * I + i] == a ? dy[r * I + i] : T(0);
  }
}

// std::max(m, x) of the CPU code: a NaN x leaves m unchanged.
struct LaneMax {
  template <class V>
  __device__ V operator()(V m, V x) const {
    return m < x ? x : m;
  }
};

// The lane's maximum (NaNs ignored, as std::max) and sum of exp(x - max) in double; every thread
// of the lane gets both.
template <class T>
__device__ void lane_max_sumexp(const T* lane, const Lanes& l, bool valid, T* sh_t, double* sh_d,
                                T& m, double& s) {
  m = -INFINITY;
  if (valid)
    for (int64_t a = threadIdx.y; a < l.A; a += blockDim.y) m = LaneMax{}(m, lane[a * l.I]);
  m = reduce_y(m, sh_t, LaneMax{});
  s = 0;
  if (valid && !isinf(m))
    for (int64_t a = threadIdx.y; a < l.A; a += blockDim.y)
      s += ::exp(static_cast<double>(lane[a * l.I] - m));
  s = reduce_y(s, sh_d, Plus{});
}

template <class T>
__global__ void reduce_logsumexp_kernel(T* y, const T* x, Lanes l) {
  __shared__ T sh_t[block_threads];
  __shared__ double sh_d[block_threads];
  int64_t r, i;
  const bool valid = lane_of(l, r, i);
  T m;
  double s;
  lane_max_sumexp(x + r * l.A * l.I + i, l, valid, sh_t, sh_d, m, s);
  if (valid && threadIdx.y == 0) y[r * l.I + i] = isinf(m) ? m : static_cast<T>(m + ::log(s));
}

template <class T>
__global__ void reduce_logsumexp_backward_kernel(T* dx, const T* dy, const T* x, const T* y,
                                                 int64_t A, int64_t I, int64_t n) {
  NIDIM_GRID_LOOP(e, n) {
    const int64_t r = e / (A * I), i = e % I;
    dx[e] = dy[r * I + i] * m_exp(x[e] - y[r * I + i]);
  }
}

template <class T>
__global__ void reduce_softmax_kernel(T* y, const T* x, Lanes l, bool log) {
  __shared__ T sh_t[block_threads];
  __shared__ double sh_d[block_threads];
  int64_t r, i;
  const bool valid = lane_of(l, r, i);
  const int64_t base = r * l.A * l.I + i;
  T m;
  double s;
  lane_max_sumexp(x + base, l, valid, sh_t, sh_d, m, s);
  if (!valid) return;
  if (log) {
    const T shift = static_cast<T>(m + ::log(s));
    for (int64_t a = threadIdx.y; a < l.A; a += blockDim.y)
      y[base + a * l.I] = x[base + a * l.I] - shift;
  } else {
    const double inv = 1.0 / s;
    for (int64_t a = threadIdx.y; a < l.A; a += blockDim.y)
      y[base + a * l.I] = static_cast<T>(::exp(static_cast<double>(x[base + a * l.I] - m)) * inv);
  }
}

template <class T>
__global__ void reduce_softmax_backward_kernel(T* dx, const T* dy, const T* y, Lanes l, bool log) {
  __shared__ double sh[block_threads];
  int64_t r, i;
  const bool valid = lane_of(l, r, i);
  const int64_t base = r * l.A * l.I + i;
  double s = 0;
  if (valid)
    for (int64_t a = threadIdx.y; a < l.A; a += blockDim.y) {
      const int64_t e = base + a * l.I;
      s +=
          log ? static_cast<double>(dy[e]) : static_cast<double>(dy[e]) * static_cast<double>(y[e]);
    }
  s = reduce_y(s, sh, Plus{});
  if (!valid) return;
  for (int64_t a = threadIdx.y; a < l.A; a += blockDim.y) {
    const int64_t e = base + a * l.I;
    if (log)  // y = log softmax: dx = dy - softmax * sum(dy)
      dx[e] = dy[e] - static_cast<T>(::exp(static_cast<double>(y[e])) * s);
    else  // y = softmax: dx = y * (dy - sum(dy * y))
      dx[e] = y[e] * (dy[e] - static_cast<T>(s));
  }
}

// One lane per row n (I = 1, A = C): prob [n, :] and row_loss[n] = lse - z[label]; a label outside
// [0, C) sets *bad (checked on the host after the kernel) and gives a NaN row loss.
template <class T>
__global__ void reduce_cross_entropy_kernel(T* prob, double* row_loss, int* bad, const T* logits,
                                            const int32_t* label, Lanes l) {
  __shared__ T sh_t[block_threads];
  __shared__ double sh_d[block_threads];
  int64_t n, unused;
  const bool valid = lane_of(l, n, unused);
  const int64_t C = l.A;
  const T* z = logits + n * C;
  T m;
  double s;
  lane_max_sumexp(z, l, valid, sh_t, sh_d, m, s);
  if (!valid) return;
  const double lse = static_cast<double>(m) + ::log(s);
  for (int64_t c = threadIdx.y; c < C; c += blockDim.y)
    prob[n * C + c] = static_cast<T>(::exp(static_cast<double>(z[c]) - lse));
  if (threadIdx.y == 0) {
    const int32_t k = label[n];
    if (k < 0 || k >= C) {
      *bad = 1;
      row_loss[n] = NAN;
    } else {
      row_loss[n] = lse - static_cast<double>(z[k]);
    }
  }
}

// loss = mean of the N row losses, summed by one block in a fixed order.
template <class T>
__global__ void reduce_mean_rows_kernel(T* loss, const double* row_loss, int64_t N) {
  double s = 0;
  for (int64_t n = threadIdx.x; n < N; n += blockDim.x) s += row_loss[n];
  s = block_sum(s);
  if (threadIdx.x == 0) loss[0] = static_cast<T>(N > 0 ? s / static_cast<double>(N) : 0.0);
}

template <class T>
__global__ void reduce_cross_entropy_backward_kernel(T* dlogits, const T* dloss, const T* prob,
                                                     const int32_t* label, int64_t N, int64_t C) {
  const T scale = dloss[0] / static_cast<T>(N);
  NIDIM_GRID_LOOP(e, N * C) {
    const int64_t n = e / C, c = e % C;
    dlogits[e] = scale * (prob[e] - (c == label[n] ? T(1) : T(0)));
  }
}

template <class T>
__global__ void reduce_mse_backward_kernel(T* da, T* db, const T* dloss, const T* a, const T* b,
                                           int64_t n) {
  const T scale = T(2) * dloss[0] / static_cast<T>(n);
  NIDIM_GRID_LOOP(i, n) {
    const T g = scale * (a[i] - b[i]);
    if (da) da[i] = g;
    if (db) db[i] = -g;
  }
}

}  // namespace

// ---- launchers ----------------------------------------------------------------------------------------

template <class T>
void sum_forward_cuda(T* y, const T* x, int64_t R, int64_t A, int64_t I, double scale) {
  cudaStream_t stream = current_stream();
  if (R * I == 1) {
    CudaBuffer acc = scratch(sizeof(double));
    cub_sum(acc.as<double>(), x, A, ToDouble<T>{}, stream, "sum");
    reduce_finish_kernel<<<1, 1, 0, stream>>>(y, acc.as<double>(), scale);
    return;
  }
  const Lanes l = make_lanes(R, A, I);
  if (l.empty()) return;
  reduce_sum_kernel<<<l.blocks(), l.block(), 0, stream>>>(y, x, l, scale);
}

template <class T>
void sum_backward_cuda(T* dx, const T* dy, int64_t R, int64_t A, int64_t I, double scale) {
  const int64_t n = R * A * I;
  reduce_sum_backward_kernel<<<grid_for(n), block_threads, 0, current_stream()>>>(dx, dy, A, I, n,
                                                                                  scale);
}

template <class T>
void max_forward_cuda(T* y, int64_t* index, const T* x, int64_t R, int64_t A, int64_t I) {
  const Lanes l = make_lanes(R, A, I);
  if (l.empty()) return;
  reduce_max_kernel<<<l.blocks(), l.block(), 0, current_stream()>>>(y, index, x, l);
}

template <class T>
void max_backward_cuda(T* dx, const T* dy, const int64_t* index, int64_t R, int64_t A, int64_t I) {
  const int64_t n = R * A * I;
  reduce_max_backward_kernel<<<grid_for(n), block_threads, 0, current_stream()>>>(dx, dy, index, A,
                                                                                  I, n);
}

template <class T>
void logsumexp_forward_cuda(T* y, const T* x, int64_t R, int64_t A, int64_t I) {
  const Lanes l = make_lanes(R, A, I);
  if (l.empty()) return;
  reduce_logsumexp_kernel<<<l.blocks(), l.block(), 0, current_stream()>>>(y, x, l);
}

template <class T>
void logsumexp_backward_cuda(T* dx, const T* dy, const T* x, const T* y, int64_t R, int64_t A,
                             int64_t I) {
  const int64_t n = R * A * I;
  reduce_logsumexp_backward_kernel<<<grid_for(n), block_threads, 0, current_stream()>>>(dx, dy, x,
                                                                                        y, A, I, n);
}

template <class T>
void softmax_forward_cuda(T* y, const T* x, int64_t R, int64_t A, int64_t I, bool log) {
  const Lanes l = make_lanes(R, A, I);
  if (l.empty()) return;
  reduce_softmax_kernel<<<l.blocks(), l.block(), 0, current_stream()>>>(y, x, l, log);
}

template <class T>
void softmax_backward_cuda(T* dx, const T* dy, const T* y, int64_t R, int64_t A, int64_t I,
                           bool log) {
  const Lanes l = make_lanes(R, A, I);
  if (l.empty()) return;
  reduce_softmax_backward_kernel<<<l.blocks(), l.block(), 0, current_stream()>>>(dx, dy, y, l, log);
}

template <class T>
void cross_entropy_forward_cuda(T* loss, T* prob, const T* logits, const int32_t* label, int64_t N,
                                int64_t C) {
  cudaStream_t stream = current_stream();
  CudaBuffer row_loss = scratch(sizeof(double) * static_cast<size_t>(std::max<int64_t>(N, 1)));
  CudaBuffer bad = scratch(sizeof(int));
  NIDIM_CUDA_CHECK(cudaMemsetAsync(bad.get(), 0, sizeof(int), stream), "cross_entropy");
  const Lanes l = make_lanes(N, C, 1);
  if (l.empty()) return;
  reduce_cross_entropy_kernel<<<l.blocks(), l.block(), 0, stream>>>(
      prob, row_loss.as<double>(), bad.as<int>(), logits, label, l);
  reduce_mean_rows_kernel<<<1, 1024, 0, stream>>>(loss, row_loss.as<double>(), N);
  int flag = 0;
  NIDIM_CUDA_CHECK(cudaMemcpyAsync(&flag, bad.get(), sizeof(int), cudaMemcpyDeviceToHost, stream),
                   "cross_entropy");
  NIDIM_CUDA_CHECK(cudaStreamSynchronize(stream), "cross_entropy");
  NIDIM_CHECK(flag == 0, "cross_entropy: a label is outside [0, {}) for logits [{}, {}]", C, N, C);
}

template <class T>
void cross_entropy_backward_cuda(T* dlogits, const T* dloss, const T* prob, const int32_t* label,
                                 int64_t N, int64_t C) {
  reduce_cross_entropy_backward_kernel<<<grid_for(N * C), block_threads, 0, current_stream()>>>(
      dlogits, dloss, prob, label, N, C);
}

template <class T>
void mse_forward_cuda(T* loss, const T* a, const T* b, int64_t n) {
  cudaStream_t stream = current_stream();
  CudaBuffer acc = scratch(sizeof(double));
  cub_sum(acc.as<double>(), thrust::counting_iterator<int64_t>(0), n, SquaredDifference<T>{a, b},
          stream, "mse");
  reduce_finish_kernel<<<1, 1, 0, stream>>>(loss, acc.as<double>(),
                                            n > 0 ? 1.0 / static_cast<double>(n) : 0.0);
}

template <class T>
void mse_backward_cuda(T* da, T* db, const T* dloss, const T* a, const T* b, int64_t n) {
  reduce_mse_backward_kernel<<<grid_for(n), block_threads, 0, current_stream()>>>(da, db, dloss, a,
                                                                                  b, n);
}

#define NIDIM_INSTANTIATE(T)                                                                       \
  template void sum_forward_cuda<T>(T*, const T*, int64_t, int64_t, int64_t, double);              \
  template void sum_backward_cuda<T>(T*, const T*, int64_t, int64_t, int64_t, double);             \
  template void max_forward_cuda<T>(T*, int64_t*, const T*, int64_t, int64_t, int64_t);            \
  template void max_backward_cuda<T>(T*, const T*, const int64_t*, int64_t, int64_t, int64_t);     \
  template void logsumexp_forward_cuda<T>(T*, const T*, int64_t, int64_t, int64_t);                \
  template void logsumexp_backward_cuda<T>(T*, const T*, const T*, const T*, int64_t, int64_t,     \
                                           int64_t);                                               \
  template void softmax_forward_cuda<T>(T*, const T*, int64_t, int64_t, int64_t, bool);            \
  template void softmax_backward_cuda<T>(T*, const T*, const T*, int64_t, int64_t, int64_t, bool); \
  template void cross_entropy_forward_cuda<T>(T*, T*, const T*, const int32_t*, int64_t, int64_t); \
  template void cross_entropy_backward_cuda<T>(T*, const T*, const T*, const int32_t*, int64_t,    \
                                               int64_t);                                           \
  template void mse_forward_cuda<T>(T*, const T*, const T*, int64_t);                              \
  template void mse_backward_cuda<T>(T*, T*, const T*, const T*, const T*, int64_t);
NIDIM_INSTANTIATE(float)
NIDIM_INSTANTIATE(double)
#undef NIDIM_INSTANTIATE

}  // namespace nidim
