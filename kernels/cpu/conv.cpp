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
      if (s.padding == 0 && s.stride == 1) {  // every tap inside the image: straight row copies
        for (int64_t oh = 0; oh < s.OH; ++oh)
          std::memcpy(dst + oh * s.OW, plane + (oh + kh) * s.W + kw, sizeof(T) * s.OW);
        continue;
      }
      for (int64_t oh = 0; oh < s.OH; ++oh) {
        const int64_t ih = oh * s.stride - s.padding + kh;
        T* row = dst + oh * s.OW;
        if (ih < 0 || ih >= s.H) {
          for (int64_t ow = 0; ow < s.OW; ++ow) row[ow] = T(0);
          continue;
        }
        const T* src = plane + ih * s.W;
        for (int64_t ow = 0; ow < s.OW; ++ow) {
          const int64_t iw = ow * s.stride - s.padding + kw;
          row[ow] = (iw >= 0 && iw < s.W) ? src[iw] : T(0);
        }
      }
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
      for (int64_t kh = 0; kh < s.KH; ++kh)
        for (int64_t kw = 0; kw < s.KW; ++kw) {
          const int64_t k = (c * s.KH + kh) * s.KW + kw;
          const T* src = dcol + k * nb * P + n * P;
          if (s.padding == 0 && s.stride == 1) {  // no bounds to check: vectorizable row adds
            for (int64_t oh = 0; oh < s.OH; ++oh) {
              T* row = plane + (oh + kh) * s.W + kw;
              const T* in = src + oh * s.OW;
              for (int64_t ow = 0; ow < s.OW; ++ow) row[ow] += in[ow];
            }
            continue;
          }
          for (int64_t oh = 0; oh < s.OH; ++oh) {
            const int64_t ih = oh * s.stride - s.padding + kh;
            if (ih < 0 || ih >= s.H) continue;
            for (int64_t ow = 0; ow < s.OW; ++ow) {
              const int64_t iw = ow * s.stride - s.padding + kw;
              if (iw >= 0 && iw < s.W) plane[ih * s.W + iw] += src[oh * s.OW + ow];
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
