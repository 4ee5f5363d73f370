// nidim/kernels/cpu/batchnorm.cpp: batch normalization over [N, C, S] (S = H*W, or 1 for
// BatchNorm1d), forward and backward in one node each.
//
// Training:  mean_c, var_c over the N*S values of channel c (biased variance, two passes in
// double), y = (x - mean) * invstd * w + b with invstd = 1 / sqrt(var + eps); the running
// statistics move towards mean_c and the unbiased variance var_c * M / (M - 1), M = N*S, as in
// PyTorch. Evaluation: the running statistics take the batch's place.
// Backward (training), with xhat = (x - mean) * invstd:
//   dx = w * invstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat)),
//   dw = sum(dy * xhat), db = sum(dy);
// in evaluation mean and invstd are constants, so dx = dy * w * invstd.
// Work is split by channel: one thread owns a channel's sums, so results are deterministic.
#include <cmath>

#include "core/parallel.h"
#include "kernels/cpu/kernels_cpu.h"

namespace nidim {

template <class T>
void batch_norm_forward_cpu(T* y, T* mean, T* invstd, const T* x, const T* w, const T* b,
                            T* running_mean, T* running_var, int64_t N, int64_t C, int64_t S,
                            bool training, double momentum, double eps) {
  const int64_t M = N * S;
  parallel_for(C, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      double mu, inv;
      if (training) {
        double s = 0;
        for (int64_t n = 0; n < N; ++n) {
          const T* p = x + (n * C + c) * S;
          for (int64_t i = 0; i < S; ++i) s += p[i];
        }
        mu = s / static_cast<double>(M);
        double ss = 0;
        for (int64_t n = 0; n < N; ++n) {
          const T* p = x + (n * C + c) * S;
          for (int64_t i = 0; i < S; ++i) ss += (p[i] - mu) * (p[i] - mu);
        }
        const double var = ss / static_cast<double>(M);
        inv = 1.0 / std::sqrt(var + eps);
        if (running_mean)
          running_mean[c] = static_cast<T>((1 - momentum) * running_mean[c] + momentum * mu);
        if (running_var)
          running_var[c] =
              static_cast<T>((1 - momentum) * running_var[c] +
                             momentum * var * static_cast<double>(M) / static_cast<double>(M - 1));
      } else {
        mu = running_mean[c];
        inv = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps);
      }
      mean[c] = static_cast<T>(mu);
      invstd[c] = static_cast<T>(inv);
      const T scale = static_cast<T>(inv * (w ? w[c] : T(1)));
      const T shift = static_cast<T>((b ? b[c] : T(0)) - mu * inv * (w ? w[c] : T(1)));
      for (int64_t n = 0; n < N; ++n) {
        const T* p = x + (n * C + c) * S;
        T* q = y + (n * C + c) * S;
        for (int64_t i = 0; i < S; ++i) q[i] = p[i] * scale + shift;
      }
    }
  });
}

template <class T>
void batch_norm_backward_cpu(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w,
                             const T* mean, const T* invstd, int64_t N, int64_t C, int64_t S,
                             bool training) {
  const int64_t M = N * S;
  parallel_for(C, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      const double mu = mean[c], inv = invstd[c];
      double sum_dy = 0, sum_dy_xhat = 0;
      for (int64_t n = 0; n < N; ++n) {
        const T* g = dy + (n * C + c) * S;
        const T* p = x + (n * C + c) * S;
        for (int64_t i = 0; i < S; ++i) {
          sum_dy += g[i];
          sum_dy_xhat += g[i] * (p[i] - mu) * inv;
        }
      }
      if (dw) dw[c] = static_cast<T>(sum_dy_xhat);
      if (db) db[c] = static_cast<T>(sum_dy);
      if (!dx) continue;
      const double wc = w ? w[c] : 1.0;
      for (int64_t n = 0; n < N; ++n) {
        const T* g = dy + (n * C + c) * S;
        const T* p = x + (n * C + c) * S;
        T* q = dx + (n * C + c) * S;
        if (training) {
          const double k = wc * inv / static_cast<double>(M);
          for (int64_t i = 0; i < S; ++i) {
            const double xhat = (p[i] - mu) * inv;
            q[i] =
                static_cast<T>(k * (static_cast<double>(M) * g[i] - sum_dy - xhat * sum_dy_xhat));
          }
        } else {
          for (int64_t i = 0; i < S; ++i) q[i] = static_cast<T>(g[i] * wc * inv);
        }
      }
    }
  });
}

#define NIDIM_INSTANTIATE(T)                                                                   \
  template void batch_norm_forward_cpu<T>(T*, T*, T*, const T*, const T*, const T*, T*, T*,    \
                                          int64_t, int64_t, int64_t, bool, double, double);    \
  template void batch_norm_backward_cpu<T>(T*, T*, T*, const T*, const T*, const T*, const T*, \
                                           const T*, int64_t, int64_t, int64_t, bool);
NIDIM_INSTANTIATE(float)
NIDIM_INSTANTIATE(double)
#undef NIDIM_INSTANTIATE

}  // namespace nidim
