// nidim/kernels/cpu/pool.cpp: 2-D average and max pooling over square windows.
//
// Output size: OH = (H + 2 * padding - kernel) / stride + 1 (floor), as in PyTorch without
// ceil_mode. Average pooling divides by kernel^2 including padded positions (PyTorch's
// count_include_pad=True); max pooling ignores padded positions and records the position of the
// first maximum. One thread owns each (image, channel) plane, so the backward additions of
// overlapping windows never race.
#include <algorithm>
#include <limits>

#include "core/parallel.h"
#include "kernels/cpu/kernels_cpu.h"

namespace nidim {

namespace {
// The encoder's case: 2x2 windows, stride 2, no padding; straight-line code the compiler vectorizes.
bool is_2x2(const Pool2dShape& s) {
  return s.kernel == 2 && s.stride == 2 && s.padding == 0;
}
}  // namespace

template <class T>
void avg_pool2d_forward_cpu(T* y, const T* x, const Pool2dShape& s) {
  const T inv = T(1) / static_cast<T>(s.kernel * s.kernel);
  if (is_2x2(s)) {
    parallel_for(s.N * s.C, 4, [&](int64_t lo, int64_t hi) {
      for (int64_t plane = lo; plane < hi; ++plane) {
        const T* src = x + plane * s.H * s.W;
        T* dst = y + plane * s.OH * s.OW;
        for (int64_t oh = 0; oh < s.OH; ++oh) {
          const T* r0 = src + 2 * oh * s.W;
          const T* r1 = r0 + s.W;
          for (int64_t ow = 0; ow < s.OW; ++ow)
            dst[oh * s.OW + ow] = (r0[2 * ow] + r0[2 * ow + 1] + r1[2 * ow] + r1[2 * ow + 1]) * inv;
        }
      }
    });
    return;
  }
  parallel_for(s.N * s.C, 4, [&](int64_t lo, int64_t hi) {
    for (int64_t plane = lo; plane < hi; ++plane) {
      const T* src = x + plane * s.H * s.W;
      T* dst = y + plane * s.OH * s.OW;
      for (int64_t oh = 0; oh < s.OH; ++oh)
        for (int64_t ow = 0; ow < s.OW; ++ow) {
          const int64_t h0 = oh * s.stride - s.padding, w0 = ow * s.stride - s.padding;
          T acc = 0;
          for (int64_t ih = std::max<int64_t>(h0, 0); ih < std::min(h0 + s.kernel, s.H); ++ih)
            for (int64_t iw = std::max<int64_t>(w0, 0); iw < std::min(w0 + s.kernel, s.W); ++iw)
              acc += src[ih * s.W + iw];
          dst[oh * s.OW + ow] = acc * inv;
        }
    }
  });
}

template <class T>
void avg_pool2d_backward_cpu(T* dx, const T* dy, const Pool2dShape& s) {
  const T inv = T(1) / static_cast<T>(s.kernel * s.kernel);
  if (is_2x2(s)) {
    parallel_for(s.N * s.C, 4, [&](int64_t lo, int64_t hi) {
      for (int64_t plane = lo; plane < hi; ++plane) {
        T* dst = dx + plane * s.H * s.W;
        const T* src = dy + plane * s.OH * s.OW;
        std::fill(dst, dst + s.H * s.W, T(0));  // rows and columns beyond 2 * OH (odd sizes)
        for (int64_t oh = 0; oh < s.OH; ++oh) {
          T* r0 = dst + 2 * oh * s.W;
          T* r1 = r0 + s.W;
          for (int64_t ow = 0; ow < s.OW; ++ow) {
            const T g = src[oh * s.OW + ow] * inv;
            r0[2 * ow] = r0[2 * ow + 1] = r1[2 * ow] = r1[2 * ow + 1] = g;
          }
        }
      }
    });
    return;
  }
  parallel_for(s.N * s.C, 4, [&](int64_t lo, int64_t hi) {
    for (int64_t plane = lo; plane < hi; ++plane) {
      T* dst = dx + plane * s.H * s.W;
      const T* src = dy + plane * s.OH * s.OW;
      std::fill(dst, dst + s.H * s.W, T(0));
      for (int64_t oh = 0; oh < s.OH; ++oh)
        for (int64_t ow = 0; ow < s.OW; ++ow) {
          const int64_t h0 = oh * s.stride - s.padding, w0 = ow * s.stride - s.padding;
          const T g = src[oh * s.OW + ow] * inv;
          for (int64_t ih = std::max<int64_t>(h0, 0); ih < std::min(h0 + s.kernel, s.H); ++ih)
            for (int64_t iw = std::max<int64_t>(w0, 0); iw < std::min(w0 + s.kernel, s.W); ++iw)
              dst[ih * s.W + iw] += g;
        }
    }
  });
}

template <class T>
void max_pool2d_forward_cpu(T* y, int32_t* index, const T* x, const Pool2dShape& s) {
  parallel_for(s.N * s.C, 4, [&](int64_t lo, int64_t hi) {
    for (int64_t plane = lo; plane < hi; ++plane) {
      const T* src = x + plane * s.H * s.W;
      for (int64_t oh = 0; oh < s.OH; ++oh)
        for (int64_t ow = 0; ow < s.OW; ++ow) {
          const int64_t h0 = oh * s.stride - s.padding, w0 = ow * s.stride - s.padding;
          T best = -std::numeric_limits<T>::infinity();
          int32_t at = -1;
          for (int64_t ih = std::max<int64_t>(h0, 0); ih < std::min(h0 + s.kernel, s.H); ++ih)
            for (int64_t iw = std::max<int64_t>(w0, 0); iw < std::min(w0 + s.kernel, s.W); ++iw) {
              const T v = src[ih * s.W + iw];
              if (at < 0 || v > best || (v != v && best == best)) {
                best = v;
                at = static_cast<int32_t>(ih * s.W + iw);
              }
            }
          y[plane * s.OH * s.OW + oh * s.OW + ow] = best;
          index[plane * s.OH * s.OW + oh * s.OW + ow] = at;
        }
    }
  });
}

template <class T>
void max_pool2d_backward_cpu(T* dx, const T* dy, const int32_t* index, const Pool2dShape& s) {
  parallel_for(s.N * s.C, 4, [&](int64_t lo, int64_t hi) {
    for (int64_t plane = lo; plane < hi; ++plane) {
      T* dst = dx + plane * s.H * s.W;
      std::fill(dst, dst + s.H * s.W, T(0));
      for (int64_t o = 0; o < s.OH * s.OW; ++o) {
        const int32_t at = index[plane * s.OH * s.OW + o];
        if (at >= 0) dst[at] += dy[plane * s.OH * s.OW + o];
      }
    }
  });
}

#define NIDIM_INSTANTIATE(T)                                                           \
  template void avg_pool2d_forward_cpu<T>(T*, const T*, const Pool2dShape&);           \
  template void avg_pool2d_backward_cpu<T>(T*, const T*, const Pool2dShape&);          \
  template void max_pool2d_forward_cpu<T>(T*, int32_t*, const T*, const Pool2dShape&); \
  template void max_pool2d_backward_cpu<T>(T*, const T*, const int32_t*, const Pool2dShape&);
NIDIM_INSTANTIATE(float)
NIDIM_INSTANTIATE(double)
#undef NIDIM_INSTANTIATE

}  // namespace nidim
