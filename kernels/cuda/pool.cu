// nidim/kernels/cuda/pool.cu: 2-D average and max pooling over square windows, forward and
// backward (the CUDA twin of kernels/cpu/pool.cpp: same output size, count_include_pad=True
// averaging, first maximum with NaN winning).
//
// Forward: one thread per output element. Backward: one thread per input element, which gathers
// from the windows that contain it, in increasing output order (the order in which the CPU
// scatters), so no two threads write one element: no atomics, and the sums match the CPU's.
// Kernel names start with "pool_".
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels_cuda.h"

namespace nidim {

using namespace gpu;

namespace {

// Output rows (or columns) whose window contains input row ih: [lo, hi]. I: the index type.
template <class I>
__device__ inline void covering(I ih, I kernel, I stride, I padding, I OH, I& lo, I& hi) {
  const I first = ih + padding - kernel + 1;  // oh * stride >= first
  lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  hi = (ih + padding) / stride;
  if (hi > OH - 1) hi = OH - 1;
}

template <class T>
__global__ void pool_avg_forward_kernel(T* y, const T* x, Pool2dShape s) {
  const T inv = T(1) / static_cast<T>(s.kernel * s.kernel);
  NIDIM_GRID_LOOP(e, s.N * s.C * s.OH * s.OW) {
    const int64_t ow = e % s.OW, oh = (e / s.OW) % s.OH, plane = e / (s.OW * s.OH);
    const T* src = x + plane * s.H * s.W;
    const int64_t h0 = oh * s.stride - s.padding, w0 = ow * s.stride - s.padding;
    T acc = 0;
    for (int64_t ih = imax(h0, 0); ih < imin(h0 + s.kernel, s.H); ++ih)
      for (int64_t iw = imax(w0, 0); iw < imin(w0 + s.kernel, s.W); ++iw) acc += src[ih * s.W + iw];
    y[e] = acc * inv;
  }
}

// Index arithmetic in I: int32_t when the input has fewer than 2^30 elements (the launcher's
// choice), since 64-bit division costs several times more and dominates this kernel.
template <class T, class I>
__global__ void pool_avg_backward_kernel(T* dx, const T* dy, Pool2dShape s) {
  const T inv = T(1) / static_cast<T>(s.kernel * s.kernel);
  const I W = static_cast<I>(s.W), H = static_cast<I>(s.H), OW = static_cast<I>(s.OW),
          OH = static_cast<I>(s.OH), kernel = static_cast<I>(s.kernel),
          stride = static_cast<I>(s.stride), padding = static_cast<I>(s.padding);
  const I n = static_cast<I>(s.N * s.C) * H * W;
  for (I e = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x);
       e < n; e += static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x)) {
    const I iw = e % W, ih = (e / W) % H, plane = e / (W * H);
    const T* src = dy + static_cast<int64_t>(plane) * OH * OW;
    I oh0, oh1, ow0, ow1;
    covering(ih, kernel, stride, padding, OH, oh0, oh1);
    covering(iw, kernel, stride, padding, OW, ow0, ow1);
    T acc = 0;
    for (I oh = oh0; oh <= oh1; ++oh)
      for (I ow = ow0; ow <= ow1; ++ow) acc += src[oh * OW + ow] * inv;
    dx[e] = acc;
  }
}

template <class T>
__global__ void pool_max_forward_kernel(T* y, int32_t* index, const T* x, Pool2dShape s) {
  NIDIM_GRID_LOOP(e, s.N * s.C * s.OH * s.OW) {
    const int64_t ow = e % s.OW, oh = (e / s.OW) % s.OH, plane = e / (s.OW * s.OH);
    const T* src = x + plane * s.H * s.W;
    const int64_t h0 = oh * s.stride - s.padding, w0 = ow * s.stride - s.padding;
    T best = -INFINITY;
    int32_t at = -1;
    for (int64_t ih = imax(h0, 0); ih < imin(h0 + s.kernel, s.H); ++ih)
      for (int64_t iw = imax(w0, 0); iw < imin(w0 + s.kernel, s.W); ++iw) {
        const T v = src[ih * s.W + iw];
        if (at < 0 || v > best || (v != v && best == best)) {
          best = v;
          at = static_cast<int32_t>(ih * s.W + iw);
        }
      }
    y[e] = best;
    index[e] = at;
  }
}

template <class T>
__global__ void pool_max_backward_kernel(T* dx, const T* dy, const int32_t* index, Pool2dShape s) {
  NIDIM_GRID_LOOP(e, s.N * s.C * s.H * s.W) {
    const int64_t iw = e % s.W, ih = (e / s.W) % s.H, plane = e / (s.W * s.H);
    const int64_t base = plane * s.OH * s.OW;
    const int32_t here = static_cast<int32_t>(ih * s.W + iw);
    int64_t oh0, oh1, ow0, ow1;
    covering(ih, s.kernel, s.stride, s.padding, s.OH, oh0, oh1);
    covering(iw, s.kernel, s.stride, s.padding, s.OW, ow0, ow1);
    T acc = 0;
    for (int64_t oh = oh0; oh <= oh1; ++oh)
      for (int64_t ow = ow0; ow <= ow1; ++ow)
        if (index[base + oh * s.OW + ow] == here) acc += dy[base + oh * s.OW + ow];
    dx[e] = acc;
  }
}

}  // namespace

template <class T>
void avg_pool2d_forward_cuda(T* y, const T* x, const Pool2dShape& s) {
  pool_avg_forward_kernel<<<grid_for(s.N * s.C * s.OH * s.OW), block_threads, 0,
                            current_stream()>>>(y, x, s);
}

template <class T>
void avg_pool2d_backward_cuda(T* dx, const T* dy, const Pool2dShape& s) {
  const int64_t n = s.N * s.C * s.H * s.W;
  if (n < (int64_t(1) << 30))  // e + the grid stride (at most 2^28) stays below 2^31
    pool_avg_backward_kernel<T, int32_t>
        <<<grid_for(n), block_threads, 0, current_stream()>>>(dx, dy, s);
  else
    pool_avg_backward_kernel<T, int64_t>
        <<<grid_for(n), block_threads, 0, current_stream()>>>(dx, dy, s);
}

template <class T>
void max_pool2d_forward_cuda(T* y, int32_t* index, const T* x, const Pool2dShape& s) {
  pool_max_forward_kernel<<<grid_for(s.N * s.C * s.OH * s.OW), block_threads, 0,
                            current_stream()>>>(y, index, x, s);
}

template <class T>
void max_pool2d_backward_cuda(T* dx, const T* dy, const int32_t* index, const Pool2dShape& s) {
  pool_max_backward_kernel<<<grid_for(s.N * s.C * s.H * s.W), block_threads, 0, current_stream()>>>(
      dx, dy, index, s);
}

#define NIDIM_INSTANTIATE(T)                                                            \
  template void avg_pool2d_forward_cuda<T>(T*, const T*, const Pool2dShape&);           \
  template void avg_pool2d_backward_cuda<T>(T*, const T*, const Pool2dShape&);          \
  template void max_pool2d_forward_cuda<T>(T*, int32_t*, const T*, const Pool2dShape&); \
  template void max_pool2d_backward_cuda<T>(T*, const T*, const int32_t*, const Pool2dShape&);
NIDIM_INSTANTIATE(float)
NIDIM_INSTANTIATE(double)
#undef NIDIM_INSTANTIATE

}  // namespace nidim
