// nidim/kernels/cpu/conv.cpp: 2-D convolution (cross-correlation, as in PyTorch) by im2col and
// one GEMM per chunk of images.
//
// For a chunk of nb images, with K = C*KH*KW and P = OH*OW:
//   col [K, nb*P]     col[(c, kh, kw), (n, oh, ow)] = x[n, c, oh*stride - pad + kh, ow*stride - pad + kw]
//   tmp [O, nb*P]   = w [O, K] col                      (forward)
//   dw  [O, K]     += dyT [O, nb*P] col^T               (backward, chunks accumulated in order)
//   dcol [K, nb*P]  = w^T dyT, then col2im adds it back into dx
// Putting several images side by side gives BLAS a wide matrix even where one image has few
// output positions (P = 9 for the MNIST encoder's last block). A chunk's col matrix is capped at
// chunk_elements so memory stays bounded at any batch size. Not done: groups, dilation.
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/kernels_cpu.h"
#include "kernels/cpu/scratch.h"

namespace nidim {

namespace {

constexpr int64_t chunk_elements = int64_t(1) << 22;  // 16 MiB of float per col buffer

int64_t images_per_chunk(const Conv2dShape& s) {
  const int64_t per_image = s.C * s.KH * s.KW * s.OH * s.OW;
  return std::max<int64_t>(
      1, std::min<int64_t>(s.N, chunk_elements / std::max<int64_t>(per_image, 1)));
}

// Output positions o in [0, n_out) whose input i = o * stride - pad + tap lies in [0, n_in):
// [lo, hi) (empty when lo >= hi). Computing the range once per kernel tap takes the bounds
// checks out of the inner loops, which are then straight copies (stride 1) or strided gathers;
// ResNet's 3x3 pad-1 and stride-2 layers spent most of their im2col/col2im time on those checks.
struct TapRange {
  int64_t lo, hi;
};
TapRange tap_range(int64_t n_out, int64_t n_in, int64_t stride, int64_t pad, int64_t tap) {
  // o >= ceil((pad - tap) / stride) and o <= floor((n_in - 1 + pad - tap) / stride)
  const int64_t first = pad - tap;
  const int64_t lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  const int64_t last = n_in - 1 + pad - tap;
  const int64_t hi = last < 0 ? 0 : std::min(n_out, last / stride + 1);
  return {lo, std::max(lo, hi)};
}

// col [K, nb*P] from images x [nb, C, H, W].
template <class T>
void im2col(T* col, const T* x, int64_t nb, const Conv2dShape& s) {
  const int64_t K = s.C * s.KH * s.KW, P = s.OH * s.OW;
  parallel_for(K * nb, 8, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t k = t / nb, n = t % nb;
      const int64_t c = k / (s.KH * s.KW), kh = (k / s.KW) % s.KH, kw = k % s.KW;
      const T* plane = x + (n * s.C + c) * s.H * s.W;
      T* dst = col + k * nb * P + n * P;
      const TapRange rows = tap_range(s.OH, s.H, s.stride, s.padding, kh);
      const TapRange cols = tap_range(s.OW, s.W, s.stride, s.padding, kw);
      std::fill(dst, dst + rows.lo * s.OW, T(0));  // rows above the image
      for (int64_t oh = rows.lo; oh < rows.hi; ++oh) {
        // Input row ih = oh * stride - pad + kh; column iw = ow * stride + shift.
        const T* src = plane + (oh * s.stride - s.padding + kh) * s.W;
        const int64_t shift = kw - s.padding;
        T* row = dst + oh * s.OW;
        std::fill(row, row + cols.lo, T(0));
        if (s.stride == 1) {
          std::memcpy(row + cols.lo, src + cols.lo + shift, sizeof(T) * (cols.hi - cols.lo));
        } else {
          for (int64_t ow = cols.lo; ow < cols.hi; ++ow) row[ow] = src[ow * s.stride + shift];
        }
        std::fill(row + cols.hi, row + s.OW, T(0));
      }
      std::fill(dst + rows.hi * s.OW, dst + P, T(0));  // rows below
    }
  });
}

// dx [nb, C, H, W] = sum of dcol [K, nb*P] over the positions each input pixel fed.
// One thread owns each (image, channel) plane, so the additions never race.
template <class T>
void col2im(T* dx, const T* dcol, int64_t nb, const Conv2dShape& s) {
  const int64_t P = s.OH * s.OW;
  parallel_for(nb * s.C, 4, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t n = t / s.C, c = t % s.C;
      T* plane = dx + t * s.H * s.W;
      std::fill(plane, plane + s.H * s.W, T(0));
      for (int64_t kh = 0; kh < s.KH; ++kh) {
        const TapRange rows = tap_range(s.OH, s.H, s.stride, s.padding, kh);
        for (int64_t kw = 0; kw < s.KW; ++kw) {
          const TapRange cols = tap_range(s.OW, s.W, s.stride, s.padding, kw);
          const int64_t k = (c * s.KH + kh) * s.KW + kw;
          const T* src = dcol + k * nb * P + n * P;
          const int64_t shift = kw - s.padding;  // iw = ow * stride + shift
          for (int64_t oh = rows.lo; oh < rows.hi; ++oh) {
            T* row = plane + (oh * s.stride - s.padding + kh) * s.W;  // input row ih
            const T* in = src + oh * s.OW;
            if (s.stride == 1) {  // contiguous: vectorizable row adds
              T* out = row + cols.lo + shift;
              const T* add = in + cols.lo;
              for (int64_t i = 0; i < cols.hi - cols.lo; ++i) out[i] += add[i];
            } else {
              for (int64_t ow = cols.lo; ow < cols.hi; ++ow) row[ow * s.stride + shift] += in[ow];
            }
          }
        }
      }
    }
  });
}

}  // namespace

template <class T>
void conv2d_forward_cpu(T* y, const T* x, const T* w, const T* bias, const Conv2dShape& s) {
  const int64_t K = s.C * s.KH * s.KW, P = s.OH * s.OW;
  const int64_t chunk = images_per_chunk(s);
  T* col = scratch<T>(0, K * chunk * P);
  T* tmp = scratch<T>(1, s.O * chunk * P);
  for (int64_t n0 = 0; n0 < s.N; n0 += chunk) {
    const int64_t nb = std::min(chunk, s.N - n0);
    im2col(col, x + n0 * s.C * s.H * s.W, nb, s);
    gemm(false, false, s.O, nb * P, K, T(1), w, K, col, nb * P, T(0), tmp, nb * P);
    // tmp [O, nb, P] -> y [nb, O, P], adding the bias.
    parallel_for(nb * s.O, 16, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) {
        const int64_t n = t / s.O, o = t % s.O;
        const T b = bias ? bias[o] : T(0);
        const T* src = tmp + o * nb * P + n * P;
        T* dst = y + ((n0 + n) * s.O + o) * P;
        for (int64_t p = 0; p < P; ++p) dst[p] = src[p] + b;
      }
    });
  }
}

template <class T>
void conv2d_backward_cpu(T* dx, T* dw, T* dbias, const T* dy, const T* x, const T* w,
                         const Conv2dShape& s) {
  const int64_t K = s.C * s.KH * s.KW, P = s.OH * s.OW;
  if (dbias) {
    parallel_for(s.O, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; ++o) {
        double acc = 0;
        for (int64_t n = 0; n < s.N; ++n) {
          const T* src = dy + (n * s.O + o) * P;
          for (int64_t p = 0; p < P; ++p) acc += src[p];
        }
        dbias[o] = static_cast<T>(acc);
      }
    });
  }
  if (!dx && !dw) return;
  const int64_t chunk = images_per_chunk(s);
  T* col = scratch<T>(0, K * chunk * P);
  T* dyt = scratch<T>(1, s.O * chunk * P);
  T* dcol = dx ? scratch<T>(2, K * chunk * P) : nullptr;
  for (int64_t n0 = 0; n0 < s.N; n0 += chunk) {
    const int64_t nb = std::min(chunk, s.N - n0);
    // dy [nb, O, P] -> dyt [O, nb, P]
    parallel_for(nb * s.O, 16, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) {
        const int64_t n = t / s.O, o = t % s.O;
        std::memcpy(dyt + o * nb * P + n * P, dy + ((n0 + n) * s.O + o) * P, sizeof(T) * P);
      }
    });
    if (dw) {
      im2col(col, x + n0 * s.C * s.H * s.W, nb, s);
      gemm(false, true, s.O, K, nb * P, T(1), dyt, nb * P, col, nb * P, n0 == 0 ? T(0) : T(1), dw,
           K);
    }
    if (dx) {
      gemm(true, false, K, nb * P, s.O, T(1), w, K, dyt, nb * P, T(0), dcol, nb * P);
      col2im(dx + n0 * s.C * s.H * s.W, dcol, nb, s);
    }
  }
}

template void conv2d_forward_cpu<float>(float*, const float*, const float*, const float*,
                                        const Conv2dShape&);
template void conv2d_forward_cpu<double>(double*, const double*, const double*, const double*,
                                         const Conv2dShape&);
template void conv2d_backward_cpu<float>(float*, float*, float*, const float*, const float*,
                                         const float*, const Conv2dShape&);
template void conv2d_backward_cpu<double>(double*, double*, double*, const double*, const double*,
                                          const double*, const Conv2dShape&);

}  // namespace nidim
