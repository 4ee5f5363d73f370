// nidim/kernels/cuda/elementwise.cu: fills, Philox random fills, casts, and the unary and binary
// element-wise ops with broadcasting, forward and backward (the CUDA twin of
// kernels/cpu/elementwise.cpp).
//
// The per-element math is kernels/math.h, compiled here for the device: the same definitions as
// the CPU's. Results may still differ from the CPU's in the last bit: nvcc contracts a * b + c
// into one fused multiply-add, and CUDA's exp/log/tanh/erf are not glibc's (CUDA's math is within
// 1-2 ulp). Threads: one per element in grid-stride loops (uniform/normal: one per Philox block of
// four words). The random bits are cuRAND's Philox4x32-10 (kernels/cuda/curand_philox.h), laid
// out as core/philox.h lays out the CPU's, so both give the same bits; core/philox.h's
// conversions turn them into floats on both devices. Broadcast backward reduces each operand's
// gradient with the lane scheme of common.cuh: lanes are the operand's elements, the reduced axis
// enumerates the output elements that read each of them; sums in double, in a fixed order.
// Kernel names start with "elementwise_".
#include <algorithm>

#include "core/error.h"
#include "core/philox.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/curand_philox.h"
#include "kernels/cuda/kernels_cuda.h"
#include "kernels/math.h"

namespace nidim {

using namespace gpu;

namespace {

template <class T>
__global__ void elementwise_fill_kernel(T* x, int64_t n, T value) {
  NIDIM_GRID_LOOP(i, n) x[i] = value;
}

// Thread b computes Philox block (offset / 4 + b) and writes elements 4b .. 4b + 3.
template <class T>
__global__ void elementwise_uniform_kernel(T* x, int64_t n, uint64_t seed, uint64_t stream,
                                           uint64_t offset, T low, T high) {
  const int64_t blocks = (n + 3) / 4;
  NIDIM_GRID_LOOP(blk, blocks) {
    const Philox4 r = curand_philox_block(seed, stream, offset / 4 + static_cast<uint64_t>(blk));
    for (int j = 0; j < 4 && blk * 4 + j < n; ++j)
      x[blk * 4 + j] = low + (high - low) * static_cast<T>(philox_uniform(r.v[j]));
  }
}

template <class T>
__global__ void elementwise_normal_kernel(T* x, int64_t n, uint64_t seed, uint64_t stream,
                                          uint64_t offset, T mean, T stddev) {
  const int64_t blocks = (n + 3) / 4;
  const T two_pi = static_cast<T>(6.283185307179586476925);
  NIDIM_GRID_LOOP(blk, blocks) {
    const Philox4 r = curand_philox_block(seed, stream, offset / 4 + static_cast<uint64_t>(blk));
    for (int pair = 0; pair < 2; ++pair) {
      const T radius = m_sqrt(T(-2) * m_log(static_cast<T>(philox_uniform_pos(r.v[2 * pair]))));
      const T angle = two_pi * static_cast<T>(philox_uniform(r.v[2 * pair + 1]));
      const int64_t e = blk * 4 + 2 * pair;
      if (e < n) x[e] = mean + stddev * radius * ::cos(angle);
      if (e + 1 < n) x[e + 1] = mean + stddev * radius * ::sin(angle);
    }
  }
}

template <class TO, class TI>
__global__ void elementwise_cast_kernel(TO* y, const TI* x, int64_t n) {
  NIDIM_GRID_LOOP(i, n) y[i] = static_cast<TO>(x[i]);
}

template <Op OP, class T>
__global__ void elementwise_unary_forward_kernel(T* y, const T* x, int64_t n, T a) {
  NIDIM_GRID_LOOP(i, n) y[i] = unary_forward_op<OP>(x[i], a);
}

template <Op OP, class T>
__global__ void elementwise_unary_backward_kernel(T* dx, const T* dy, const T* x, const T* y,
                                                  int64_t n, T a) {
  NIDIM_GRID_LOOP(i, n) dx[i] = unary_backward_op<OP>(dy[i], x[i], y[i], a);
}

// ---- broadcasting ---------------------------------------------------------------------------------

// Output dimensions and each operand's strides in the output's index space (0 where broadcast).
struct BroadcastIndex {
  int64_t out[4];
  int64_t sa[4], sb[4];
};

void broadcast_strides(const int64_t dims[4], const int64_t out[4], int64_t strides[4]) {
  int64_t s = 1;
  for (int k = 3; k >= 0; --k) {
    strides[k] = (dims[k] == 1 && out[k] != 1) ? 0 : s;
    s *= dims[k];
  }
}

BroadcastIndex make_index(const Broadcast4& s) {
  BroadcastIndex b;
  for (int k = 0; k < 4; ++k) b.out[k] = s.out[k];
  broadcast_strides(s.a, s.out, b.sa);
  broadcast_strides(s.b, s.out, b.sb);
  return b;
}

int64_t numel4(const int64_t d[4]) {
  return d[0] * d[1] * d[2] * d[3];
}

// Offsets of output element o into a and b.
__device__ inline void operand_offsets(const BroadcastIndex& bi, int64_t o, int64_t& ai,
                                       int64_t& bj) {
  int64_t rest = o;
  ai = 0, bj = 0;
  for (int k = 3; k >= 0; --k) {
    const int64_t c = rest % bi.out[k];
    rest /= bi.out[k];
    ai += c * bi.sa[k];
    bj += c * bi.sb[k];
  }
}

// mode 0: same shapes; 1: b is one element; 2: a is one element; 3: general broadcast.
template <Op OP, class T>
__global__ void elementwise_binary_forward_kernel(T* c, const T* a, const T* b, BroadcastIndex bi,
                                                  int64_t n, int mode) {
  NIDIM_GRID_LOOP(o, n) {
    if (mode == 0) {
      c[o] = binary_forward_op<OP>(a[o], b[o]);
    } else if (mode == 1) {
      c[o] = binary_forward_op<OP>(a[o], b[0]);
    } else if (mode == 2) {
      c[o] = binary_forward_op<OP>(a[0], b[o]);
    } else {
      int64_t ai, bj;
      operand_offsets(bi, o, ai, bj);
      c[o] = binary_forward_op<OP>(a[ai], b[bj]);
    }
  }
}

// One thread per output element, for the gradients that need no reduction: mode 0 (same shapes)
// both, mode 1 (b one element) da only, mode 2 (a one element) db only.
template <Op OP, class T>
__global__ void elementwise_binary_backward_kernel(T* da, T* db, const T* dc, const T* a,
                                                   const T* b, int64_t n, int mode) {
  NIDIM_GRID_LOOP(i, n) {
    const T av = mode == 2 ? a[0] : a[i];
    const T bv = mode == 1 ? b[0] : b[i];
    if (da) da[i] = binary_backward_a<OP>(dc[i], av, bv);
    if (db) db[i] = binary_backward_b<OP>(dc[i], av, bv);
  }
}

// The gradient of one operand (which_b: b, else a) with dimensions dims, reduced over the output
// elements that read each of its elements. Lane e = operand element (decoded into coord), the
// reduced index q enumerates span[0] x span[1] x span[2] x span[3] (span[k] = out[k] where the
// operand is broadcast along k, else 1).
struct ReduceToOperand {
  int64_t dims[4];
  int64_t span[4];
  int64_t so[4];  // row-major strides of the output
};

// Block (x, split): lanes over operand elements as make_lanes(1, A, I); blockIdx.y = split takes
// the outputs q in [split A / S, (split + 1) A / S). With S = 1 it writes grad; otherwise each
// split writes its partial sum (double) and elementwise_reduce_splits_kernel adds the S partials
// of an element in order of split. The split keeps the GPU busy when the operand is small (a bias
// of 128 values summed over 2048 rows made 4 blocks: 40 us a launch, ncu on an H200).
template <Op OP, class T>
__global__ void elementwise_binary_reduce_kernel(T* grad, double* partial, const T* dc, const T* a,
                                                 const T* b, BroadcastIndex bi, ReduceToOperand ro,
                                                 Lanes lanes, bool which_b) {
  __shared__ double sh[block_threads];
  int64_t r, e;
  const bool valid = lane_of(lanes, r, e);  // R = 1: e is the operand element
  const int64_t S = gridDim.y, split = blockIdx.y;
  const int64_t q0 = split * lanes.A / S, q1 = (split + 1) * lanes.A / S;
  double acc = 0;
  if (valid) {
    int64_t coord[4], rest = e;
    for (int k = 3; k >= 0; --k) {
      coord[k] = rest % ro.dims[k];
      rest /= ro.dims[k];
    }
    for (int64_t q = q0 + threadIdx.y; q < q1; q += blockDim.y) {
      int64_t qr = q, oi = 0, ai = 0, bj = 0;
      for (int k = 3; k >= 0; --k) {
        const int64_t o = coord[k] + qr % ro.span[k];
        qr /= ro.span[k];
        oi += o * ro.so[k];
        ai += o * bi.sa[k];
        bj += o * bi.sb[k];
      }
      acc += which_b ? static_cast<double>(binary_backward_b<OP>(dc[oi], a[ai], b[bj]))
                     : static_cast<double>(binary_backward_a<OP>(dc[oi], a[ai], b[bj]));
    }
  }
  const double total = reduce_y(acc, sh, Plus{});
  if (valid && threadIdx.y == 0) {
    if (S == 1)
      grad[e] = static_cast<T>(total);
    else
      partial[split * lanes.I + e] = total;
  }
}

template <class T>
__global__ void elementwise_reduce_splits_kernel(T* grad, const double* partial, int64_t n,
                                                 int64_t splits) {
  NIDIM_GRID_LOOP(e, n) {
    double acc = 0;
    for (int64_t s = 0; s < splits; ++s) acc += partial[s * n + e];
    grad[e] = static_cast<T>(acc);
  }
}

template <Op OP, class T>
void reduce_to_operand(T* grad, const int64_t dims[4], const Broadcast4& s, const T* dc, const T* a,
                       const T* b, bool which_b, cudaStream_t stream) {
  const BroadcastIndex bi = make_index(s);
  ReduceToOperand ro;
  ro.so[3] = 1;
  for (int k = 2; k >= 0; --k) ro.so[k] = ro.so[k + 1] * s.out[k + 1];
  int64_t per_element = 1;
  for (int k = 0; k < 4; ++k) {
    ro.dims[k] = dims[k];
    ro.span[k] = dims[k] == 1 ? s.out[k] : 1;
    per_element *= ro.span[k];
  }
  // Lanes over the operand's elements (I = its numel), A = outputs per element; splits of A so
  // that there are about 512 blocks in all, each with at least 4 outputs per thread row.
  const Lanes lanes = make_lanes(1, per_element, numel4(dims));
  if (lanes.empty()) return;
  const int64_t want = (512 + lanes.blocks() - 1) / lanes.blocks();
  const int64_t splits =
      std::clamp<int64_t>(std::min<int64_t>(want, per_element / (4 * lanes.ly)), 1, 65535);
  const dim3 grid(lanes.blocks(), static_cast<unsigned>(splits));
  if (splits == 1) {
    elementwise_binary_reduce_kernel<OP>
        <<<grid, lanes.block(), 0, stream>>>(grad, nullptr, dc, a, b, bi, ro, lanes, which_b);
    return;
  }
  CudaBuffer partial = scratch(sizeof(double) * static_cast<size_t>(splits * lanes.I));
  elementwise_binary_reduce_kernel<OP><<<grid, lanes.block(), 0, stream>>>(
      grad, partial.as<double>(), dc, a, b, bi, ro, lanes, which_b);
  elementwise_reduce_splits_kernel<<<grid_for(lanes.I), block_threads, 0, stream>>>(
      grad, partial.as<double>(), lanes.I, splits);
}

template <Op OP, class T>
void binary_forward(T* c, const T* a, const T* b, const Broadcast4& s) {
  const int64_t n = numel4(s.out), na = numel4(s.a), nb = numel4(s.b);
  const int mode = (na == n && nb == n)   ? 0
                   : (na == n && nb == 1) ? 1
                   : (na == 1 && nb == n) ? 2
                                          : 3;
  elementwise_binary_forward_kernel<OP>
      <<<grid_for(n), block_threads, 0, current_stream()>>>(c, a, b, make_index(s), n, mode);
}

template <Op OP, class T>
void binary_backward(T* da, T* db, const T* dc, const T* a, const T* b, const Broadcast4& s) {
  const int64_t n = numel4(s.out), na = numel4(s.a), nb = numel4(s.b);
  cudaStream_t stream = current_stream();
  T* none = nullptr;
  if (na == n && nb == n) {
    elementwise_binary_backward_kernel<OP>
        <<<grid_for(n), block_threads, 0, stream>>>(da, db, dc, a, b, n, 0);
    return;
  }
  if (da) {
    if (na == n && nb == 1)
      elementwise_binary_backward_kernel<OP>
          <<<grid_for(n), block_threads, 0, stream>>>(da, none, dc, a, b, n, 1);
    else
      reduce_to_operand<OP>(da, s.a, s, dc, a, b, false, stream);
  }
  if (db) {
    if (nb == n && na == 1)
      elementwise_binary_backward_kernel<OP>
          <<<grid_for(n), block_threads, 0, stream>>>(none, db, dc, a, b, n, 2);
    else
      reduce_to_operand<OP>(db, s.b, s, dc, a, b, true, stream);
  }
}

}  // namespace

// ---- launchers ----------------------------------------------------------------------------------------

template <class T>
void fill_cuda(T* x, int64_t n, T value) {
  elementwise_fill_kernel<<<grid_for(n), block_threads, 0, current_stream()>>>(x, n, value);
}

template <class T>
void uniform_cuda(T* x, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, T low, T high) {
  elementwise_uniform_kernel<<<grid_for((n + 3) / 4), block_threads, 0, current_stream()>>>(
      x, n, seed, stream, offset, low, high);
}

template <class T>
void normal_cuda(T* x, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, T mean,
                 T stddev) {
  elementwise_normal_kernel<<<grid_for((n + 3) / 4), block_threads, 0, current_stream()>>>(
      x, n, seed, stream, offset, mean, stddev);
}

template <class TO, class TI>
void cast_cuda(TO* y, const TI* x, int64_t n) {
  elementwise_cast_kernel<<<grid_for(n), block_threads, 0, current_stream()>>>(y, x, n);
}

// with_unary_op / with_binary_op (kernels/math.h) turn the runtime op into a compile-time one.
template <class T>
void unary_forward_cuda(Op op, T* y, const T* x, int64_t n, T a) {
  cudaStream_t stream = current_stream();
  with_unary_op(op, "unary_forward_cuda", [&](auto o) {
    elementwise_unary_forward_kernel<decltype(o)::value>
        <<<grid_for(n), block_threads, 0, stream>>>(y, x, n, a);
  });
}

template <class T>
void unary_backward_cuda(Op op, T* dx, const T* dy, const T* x, const T* y, int64_t n, T a) {
  cudaStream_t stream = current_stream();
  with_unary_op(op, "unary_backward_cuda", [&](auto o) {
    elementwise_unary_backward_kernel<decltype(o)::value>
        <<<grid_for(n), block_threads, 0, stream>>>(dx, dy, x, y, n, a);
  });
}

template <class T>
void binary_forward_cuda(Op op, T* c, const T* a, const T* b, const Broadcast4& s) {
  with_binary_op(op, "binary_forward_cuda",
                 [&](auto o) { binary_forward<decltype(o)::value>(c, a, b, s); });
}

template <class T>
void binary_backward_cuda(Op op, T* da, T* db, const T* dc, const T* a, const T* b,
                          const Broadcast4& s) {
  with_binary_op(op, "binary_backward_cuda",
                 [&](auto o) { binary_backward<decltype(o)::value>(da, db, dc, a, b, s); });
}

#define NIDIM_INSTANTIATE(T)                                                              \
  template void fill_cuda<T>(T*, int64_t, T);                                             \
  template void uniform_cuda<T>(T*, int64_t, uint64_t, uint64_t, uint64_t, T, T);         \
  template void normal_cuda<T>(T*, int64_t, uint64_t, uint64_t, uint64_t, T, T);          \
  template void unary_forward_cuda<T>(Op, T*, const T*, int64_t, T);                      \
  template void unary_backward_cuda<T>(Op, T*, const T*, const T*, const T*, int64_t, T); \
  template void binary_forward_cuda<T>(Op, T*, const T*, const T*, const Broadcast4&);    \
  template void binary_backward_cuda<T>(Op, T*, T*, const T*, const T*, const T*,         \
                                        const Broadcast4&);
NIDIM_INSTANTIATE(float)
NIDIM_INSTANTIATE(double)
#undef NIDIM_INSTANTIATE

template void fill_cuda<int32_t>(int32_t*, int64_t, int32_t);
template void fill_cuda<int64_t>(int64_t*, int64_t, int64_t);
template void fill_cuda<uint8_t>(uint8_t*, int64_t, uint8_t);

#define NIDIM_INSTANTIATE_CAST(TO)                                    \
  template void cast_cuda<TO, float>(TO*, const float*, int64_t);     \
  template void cast_cuda<TO, double>(TO*, const double*, int64_t);   \
  template void cast_cuda<TO, int32_t>(TO*, const int32_t*, int64_t); \
  template void cast_cuda<TO, int64_t>(TO*, const int64_t*, int64_t); \
  template void cast_cuda<TO, uint8_t>(TO*, const uint8_t*, int64_t);
NIDIM_INSTANTIATE_CAST(float)
NIDIM_INSTANTIATE_CAST(double)
NIDIM_INSTANTIATE_CAST(int32_t)
NIDIM_INSTANTIATE_CAST(int64_t)
NIDIM_INSTANTIATE_CAST(uint8_t)
#undef NIDIM_INSTANTIATE_CAST

}  // namespace nidim
