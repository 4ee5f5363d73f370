// nidim/kernels/cpu/reduce.cpp: reductions over one axis or all elements (sum, mean, max,
// logsumexp), softmax and log_softmax, and the two losses (cross-entropy, mean squared error).
//
// An axis reduction sees x as [R, A, I] (kernels_cpu.h). Each output lane (r, i) is computed by
// one thread in a fixed order, so results do not depend on the thread count; a reduction over
// everything uses deterministic_sum. Sums accumulate in double.
// Stability: logsumexp, softmax and cross-entropy subtract the lane's maximum before exp.
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"
#include "kernels/cpu/kernels_cpu.h"

namespace nidim {

namespace {

// Calls f(r, i) for every lane, in parallel; `work` is the cost of one lane in elements.
template <class F>
void for_each_lane(int64_t R, int64_t I, int64_t work, F&& f) {
  parallel_for(R * I, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(work, 1)),
               [&](int64_t lo, int64_t hi) {
                 for (int64_t l = lo; l < hi; ++l) f(l / I, l % I);
               });
}

}  // namespace

template <class T>
void sum_forward_cpu(T* y, const T* x, int64_t R, int64_t A, int64_t I, double scale) {
  if (R * I == 1) {
    y[0] = static_cast<T>(scale * deterministic_sum(A, [&](int64_t i) { return double(x[i]); }));
    return;
  }
  if (I == 1) {
    for_each_lane(R, 1, A, [&](int64_t r, int64_t) {
      const T* row = x + r * A;
      double s = 0;
      for (int64_t a = 0; a < A; ++a) s += row[a];
      y[r] = static_cast<T>(scale * s);
    });
    return;
  }
  // Inner lanes: walk A rows of length I, accumulating a block of lanes at a time (contiguous
  // reads instead of strided ones).
  constexpr int64_t block = 64;
  const int64_t blocks = (I + block - 1) / block;
  parallel_for(
      R * blocks, std::max<int64_t>(1, (1 << 14) / (A * block)), [&](int64_t lo, int64_t hi) {
        double acc[block];
        for (int64_t t = lo; t < hi; ++t) {
          const int64_t r = t / blocks, i0 = (t % blocks) * block, i1 = std::min(I, i0 + block);
          for (int64_t i = i0; i < i1; ++i) acc[i - i0] = 0;
          for (int64_t a = 0; a < A; ++a) {
            const T* row = x + (r * A + a) * I;
            for (int64_t i = i0; i < i1; ++i) acc[i - i0] += row[i];
          }
          for (int64_t i = i0; i < i1; ++i) y[r * I + i] = static_cast<T>(scale * acc[i - i0]);
        }
      });
}

template <class T>
void sum_backward_cpu(T* dx, const T* dy, int64_t R, int64_t A, int64_t I, double scale) {
  parallel_for(R * A, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(I, 1)),
               [&](int64_t lo, int64_t hi) {
                 for (int64_t ra = lo; ra < hi; ++ra) {
                   const int64_t r = ra / A;
                   for (int64_t i = 0; i < I; ++i)
                     dx[ra * I + i] = static_cast<T>(scale * dy[r * I + i]);
                 }
               });
}

template <class T>
void max_forward_cpu(T* y, int64_t* index, const T* x, int64_t R, int64_t A, int64_t I) {
  for_each_lane(R, I, A, [&](int64_t r, int64_t i) {
    const T* lane = x + r * A * I + i;
    int64_t best = 0;
    for (int64_t a = 1; a < A; ++a)
      if (lane[a * I] > lane[best * I] || (std::isnan(lane[a * I]) && !std::isnan(lane[best * I])))
        best = a;
    y[r * I + i] = lane[best * I];
    index[r * I + i] = best;
  });
}

template <class T>
void max_backward_cpu(T* dx, const T* dy, const int64_t* index, int64_t R, int64_t A, int64_t I) {
  for_each_lane(R, I, A, [&](int64_t r, int64_t i) {
    T* lane = dx + r * A * I + i;
    for (int64_t a = 0; a < A; ++a) lane[a * I] = T(0);
    lane[index[r * I + i] * I] = dy[r * I + i];
  });
}

template <class T>
void logsumexp_forward_cpu(T* y, const T* x, int64_t R, int64_t A, int64_t I) {
  for_each_lane(R, I, A, [&](int64_t r, int64_t i) {
    const T* lane = x + r * A * I + i;
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t a = 0; a < A; ++a) m = std::max(m, lane[a * I]);
    if (std::isinf(m)) {  // all -inf (empty sum) or some +inf
      y[r * I + i] = m;
      return;
    }
    double s = 0;
    for (int64_t a = 0; a < A; ++a) s += std::exp(static_cast<double>(lane[a * I] - m));
    y[r * I + i] = static_cast<T>(m + std::log(s));
  });
}

template <class T>
void logsumexp_backward_cpu(T* dx, const T* dy, const T* x, const T* y, int64_t R, int64_t A,
                            int64_t I) {
  for_each_lane(R, I, A, [&](int64_t r, int64_t i) {
    const int64_t base = r * A * I + i;
    const T g = dy[r * I + i], lse = y[r * I + i];
    for (int64_t a = 0; a < A; ++a) dx[base + a * I] = g * std::exp(x[base + a * I] - lse);
  });
}

template <class T>
void softmax_forward_cpu(T* y, const T* x, int64_t R, int64_t A, int64_t I, bool log) {
  for_each_lane(R, I, A, [&](int64_t r, int64_t i) {
    const int64_t base = r * A * I + i;
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t a = 0; a < A; ++a) m = std::max(m, x[base + a * I]);
    double s = 0;
    for (int64_t a = 0; a < A; ++a) s += std::exp(static_cast<double>(x[base + a * I] - m));
    if (log) {
      const T shift = static_cast<T>(m + std::log(s));
      for (int64_t a = 0; a < A; ++a) y[base + a * I] = x[base + a * I] - shift;
    } else {
      const double inv = 1.0 / s;
      for (int64_t a = 0; a < A; ++a)
        y[base + a * I] = static_cast<T>(std::exp(static_cast<double>(x[base + a * I] - m)) * inv);
    }
  });
}

template <class T>
void softmax_backward_cpu(T* dx, const T* dy, const T* y, int64_t R, int64_t A, int64_t I,
                          bool log) {
  for_each_lane(R, I, A, [&](int64_t r, int64_t i) {
    const int64_t base = r * A * I + i;
    double s = 0;
    if (log) {
      // y = log softmax: dx = dy - softmax * sum(dy)
      for (int64_t a = 0; a < A; ++a) s += dy[base + a * I];
      for (int64_t a = 0; a < A; ++a)
        dx[base + a * I] = dy[base + a * I] - static_cast<T>(std::exp(double(y[base + a * I])) * s);
    } else {
      // y = softmax: dx = y * (dy - sum(dy * y))
      for (int64_t a = 0; a < A; ++a) s += double(dy[base + a * I]) * y[base + a * I];
      for (int64_t a = 0; a < A; ++a)
        dx[base + a * I] = y[base + a * I] * (dy[base + a * I] - static_cast<T>(s));
    }
  });
}

template <class T>
void cross_entropy_forward_cpu(T* loss, T* prob, const T* logits, const int32_t* label, int64_t N,
                               int64_t C) {
  for (int64_t n = 0; n < N; ++n)
    NIDIM_CHECK(label[n] >= 0 && label[n] < C,
                "cross_entropy: label {} of row {} is outside [0, {}) for logits [{}, {}]",
                label[n], n, C, N, C);
  std::vector<double> row_loss(static_cast<size_t>(N));
  for_each_lane(N, 1, C, [&](int64_t n, int64_t) {
    const T* z = logits + n * C;
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t c = 0; c < C; ++c) m = std::max(m, z[c]);
    double s = 0;
    for (int64_t c = 0; c < C; ++c) s += std::exp(static_cast<double>(z[c] - m));
    const double lse = m + std::log(s);
    for (int64_t c = 0; c < C; ++c) prob[n * C + c] = static_cast<T>(std::exp(z[c] - lse));
    row_loss[static_cast<size_t>(n)] = lse - z[label[n]];
  });
  double total = 0;
  for (double l : row_loss) total += l;
  loss[0] = static_cast<T>(N > 0 ? total / static_cast<double>(N) : 0.0);
}

template <class T>
void cross_entropy_backward_cpu(T* dlogits, T dloss, const T* prob, const int32_t* label, int64_t N,
                                int64_t C) {
  const T scale = dloss / static_cast<T>(N);
  for_each_lane(N, 1, C, [&](int64_t n, int64_t) {
    for (int64_t c = 0; c < C; ++c)
      dlogits[n * C + c] = scale * (prob[n * C + c] - (c == label[n] ? T(1) : T(0)));
  });
}

template <class T>
void mse_forward_cpu(T* loss, const T* a, const T* b, int64_t n) {
  const double s = deterministic_sum(n, [&](int64_t i) {
    const double d = double(a[i]) - double(b[i]);
    return d * d;
  });
  loss[0] = static_cast<T>(n > 0 ? s / static_cast<double>(n) : 0.0);
}

template <class T>
void mse_backward_cpu(T* da, T* db, T dloss, const T* a, const T* b, int64_t n) {
  const T scale = T(2) * dloss / static_cast<T>(n);
  parallel_for(n, 1 << 15, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const T g = scale * (a[i] - b[i]);
      if (da) da[i] = g;
      if (db) db[i] = -g;
    }
  });
}

#define NIDIM_INSTANTIATE(T)                                                                      \
  template void sum_forward_cpu<T>(T*, const T*, int64_t, int64_t, int64_t, double);              \
  template void sum_backward_cpu<T>(T*, const T*, int64_t, int64_t, int64_t, double);             \
  template void max_forward_cpu<T>(T*, int64_t*, const T*, int64_t, int64_t, int64_t);            \
  template void max_backward_cpu<T>(T*, const T*, const int64_t*, int64_t, int64_t, int64_t);     \
  template void logsumexp_forward_cpu<T>(T*, const T*, int64_t, int64_t, int64_t);                \
  template void logsumexp_backward_cpu<T>(T*, const T*, const T*, const T*, int64_t, int64_t,     \
                                          int64_t);                                               \
  template void softmax_forward_cpu<T>(T*, const T*, int64_t, int64_t, int64_t, bool);            \
  template void softmax_backward_cpu<T>(T*, const T*, const T*, int64_t, int64_t, int64_t, bool); \
  template void cross_entropy_forward_cpu<T>(T*, T*, const T*, const int32_t*, int64_t, int64_t); \
  template void cross_entropy_backward_cpu<T>(T*, T, const T*, const int32_t*, int64_t, int64_t); \
  template void mse_forward_cpu<T>(T*, const T*, const T*, int64_t);                              \
  template void mse_backward_cpu<T>(T*, T*, T, const T*, const T*, int64_t);
NIDIM_INSTANTIATE(float)
NIDIM_INSTANTIATE(double)
#undef NIDIM_INSTANTIATE

}  // namespace nidim
