// nidim/kernels/cpu/elementwise.cpp: fills, random fills, casts, and the unary and binary
// element-wise ops with broadcasting (forward and backward).
//
// The per-element math is in kernels/math.h, shared with CUDA. Loops run in parallel over
// contiguous ranges; every element is computed independently, so the split does not matter.
// Broadcast backward reduces each gradient over its broadcast dimensions: every element of da
// is summed by one thread, in a fixed order.
#include <cmath>

#include "core/error.h"
#include "core/parallel.h"
#include "core/philox.h"
#include "kernels/cpu/kernels_cpu.h"
#include "kernels/math.h"

namespace nidim {

namespace {
constexpr int64_t grain = 1 << 15;  // elements per thread below which one thread does it all
}

template <class T>
void fill_cpu(T* x, int64_t n, T value) {
  parallel_for(n, grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) x[i] = value;
  });
}

template <class T>
void uniform_cpu(T* x, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, T low, T high) {
  const int64_t blocks = (n + 3) / 4;
  parallel_for(blocks, grain / 4, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const Philox4 r = philox_block(seed, stream, offset / 4 + static_cast<uint64_t>(blk));
      for (int64_t j = 0; j < 4 && blk * 4 + j < n; ++j)
        x[blk * 4 + j] = low + (high - low) * static_cast<T>(philox_uniform(r.v[j]));
    }
  });
}

template <class T>
void normal_cpu(T* x, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, T mean,
                T stddev) {
  const int64_t blocks = (n + 3) / 4;
  const T two_pi = static_cast<T>(2.0 * M_PI);
  parallel_for(blocks, grain / 4, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const Philox4 r = philox_block(seed, stream, offset / 4 + static_cast<uint64_t>(blk));
      for (int pair = 0; pair < 2; ++pair) {
        const T radius =
            std::sqrt(T(-2) * std::log(static_cast<T>(philox_uniform_pos(r.v[2 * pair]))));
        const T angle = two_pi * static_cast<T>(philox_uniform(r.v[2 * pair + 1]));
        const int64_t e = blk * 4 + 2 * pair;
        if (e < n) x[e] = mean + stddev * radius * std::cos(angle);
        if (e + 1 < n) x[e + 1] = mean + stddev * radius * std::sin(angle);
      }
    }
  });
}

template <class TO, class TI>
void cast_cpu(TO* y, const TI* x, int64_t n) {
  parallel_for(n, grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = static_cast<TO>(x[i]);
  });
}

// ---- unary -------------------------------------------------------------------------------------

namespace {

template <Op OP, class T>
void unary_forward_loop(T* y, const T* x, int64_t n, T a) {
  parallel_for(n, grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = unary_forward_op<OP>(x[i], a);
  });
}

template <Op OP, class T>
void unary_backward_loop(T* dx, const T* dy, const T* x, const T* y, int64_t n, T a) {
  parallel_for(n, grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dx[i] = unary_backward_op<OP>(dy[i], x[i], y[i], a);
  });
}

}  // namespace

template <class T>
void unary_forward_cpu(Op op, T* y, const T* x, int64_t n, T a) {
  with_unary_op(op, "unary_forward_cpu",
                [&](auto o) { unary_forward_loop<decltype(o)::value>(y, x, n, a); });
}

template <class T>
void unary_backward_cpu(Op op, T* dx, const T* dy, const T* x, const T* y, int64_t n, T a) {
  with_unary_op(op, "unary_backward_cpu",
                [&](auto o) { unary_backward_loop<decltype(o)::value>(dx, dy, x, y, n, a); });
}

// ---- binary with broadcasting --------------------------------------------------------------------

namespace {

// Row-major strides of a broadcast operand inside the output's index space (0 where broadcast).
void broadcast_strides(const int64_t dims[4], const int64_t out[4], int64_t strides[4]) {
  int64_t s = 1;
  for (int k = 3; k >= 0; --k) {
    strides[k] = (dims[k] == 1 && out[k] != 1) ? 0 : s;
    s *= dims[k];
  }
}

template <Op OP, class T>
void binary_forward_loop(T* c, const T* a, const T* b, const Broadcast4& s) {
  const int64_t n = s.out[0] * s.out[1] * s.out[2] * s.out[3];
  const int64_t na = s.a[0] * s.a[1] * s.a[2] * s.a[3];
  const int64_t nb = s.b[0] * s.b[1] * s.b[2] * s.b[3];
  if (na == n && nb == n) {  // same shapes
    parallel_for(n, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) c[i] = binary_forward_op<OP>(a[i], b[i]);
    });
    return;
  }
  if (na == n && nb == 1) {  // tensor and scalar
    const T bv = b[0];
    parallel_for(n, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) c[i] = binary_forward_op<OP>(a[i], bv);
    });
    return;
  }
  // General case: rows of the last dimension, each with its own offsets into a and b.
  int64_t sa[4], sb[4];
  broadcast_strides(s.a, s.out, sa);
  broadcast_strides(s.b, s.out, sb);
  const int64_t inner = s.out[3];
  const int64_t rows = n / std::max<int64_t>(inner, 1);
  parallel_for(rows, std::max<int64_t>(1, grain / std::max<int64_t>(inner, 1)),
               [&](int64_t lo, int64_t hi) {
                 for (int64_t r = lo; r < hi; ++r) {
                   const int64_t i0 = r / (s.out[1] * s.out[2]), i1 = (r / s.out[2]) % s.out[1],
                                 i2 = r % s.out[2];
                   const T* pa = a + i0 * sa[0] + i1 * sa[1] + i2 * sa[2];
                   const T* pb = b + i0 * sb[0] + i1 * sb[1] + i2 * sb[2];
                   T* pc = c + r * inner;
                   for (int64_t j = 0; j < inner; ++j)
                     pc[j] = binary_forward_op<OP>(pa[j * sa[3]], pb[j * sb[3]]);
                 }
               });
}

// grad[i] for every element i of an operand with dimensions `dims` (1 or out[k]): the sum, over
// every output element that read it, of term(output index, a index, b index).
template <class T, class Term>
void reduce_to_operand(T* grad, const int64_t dims[4], const Broadcast4& s, Term term) {
  int64_t sa[4], sb[4], so[4];
  broadcast_strides(s.a, s.out, sa);
  broadcast_strides(s.b, s.out, sb);
  so[3] = 1;
  for (int k = 2; k >= 0; --k) so[k] = so[k + 1] * s.out[k + 1];
  const int64_t n = dims[0] * dims[1] * dims[2] * dims[3];
  // Ranges of output coordinates that map onto one element of this operand.
  int64_t span[4];
  for (int k = 0; k < 4; ++k) span[k] = (dims[k] == 1) ? s.out[k] : 1;
  const int64_t per_element = span[0] * span[1] * span[2] * span[3];
  parallel_for(n, std::max<int64_t>(1, grain / per_element), [&](int64_t lo, int64_t hi) {
    for (int64_t e = lo; e < hi; ++e) {
      int64_t coord[4];
      int64_t rest = e;
      for (int k = 3; k >= 0; --k) {
        coord[k] = rest % dims[k];
        rest /= dims[k];
      }
      double acc = 0;
      for (int64_t q0 = 0; q0 < span[0]; ++q0)
        for (int64_t q1 = 0; q1 < span[1]; ++q1)
          for (int64_t q2 = 0; q2 < span[2]; ++q2)
            for (int64_t q3 = 0; q3 < span[3]; ++q3) {
              const int64_t o[4] = {coord[0] + q0, coord[1] + q1, coord[2] + q2, coord[3] + q3};
              const int64_t oi = o[0] * so[0] + o[1] * so[1] + o[2] * so[2] + o[3] * so[3];
              const int64_t ai = o[0] * sa[0] + o[1] * sa[1] + o[2] * sa[2] + o[3] * sa[3];
              const int64_t bi = o[0] * sb[0] + o[1] * sb[1] + o[2] * sb[2] + o[3] * sb[3];
              acc += term(oi, ai, bi);
            }
      grad[e] = static_cast<T>(acc);
    }
  });
}

template <Op OP, class T>
void binary_backward_loop(T* da, T* db, const T* dc, const T* a, const T* b, const Broadcast4& s) {
  const int64_t n = s.out[0] * s.out[1] * s.out[2] * s.out[3];
  const int64_t na = s.a[0] * s.a[1] * s.a[2] * s.a[3];
  const int64_t nb = s.b[0] * s.b[1] * s.b[2] * s.b[3];
  if (na == n && nb == n) {
    parallel_for(n, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        if (da) da[i] = binary_backward_a<OP>(dc[i], a[i], b[i]);
        if (db) db[i] = binary_backward_b<OP>(dc[i], a[i], b[i]);
      }
    });
    return;
  }
  if (da) {
    if (na == n && nb == 1) {
      const T bv = b[0];
      parallel_for(n, grain, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) da[i] = binary_backward_a<OP>(dc[i], a[i], bv);
      });
    } else {
      reduce_to_operand(da, s.a, s, [&](int64_t oi, int64_t ai, int64_t bi) {
        return static_cast<double>(binary_backward_a<OP>(dc[oi], a[ai], b[bi]));
      });
    }
  }
  if (db) {
    if (nb == 1 && na == n) {  // scalar b: one deterministic sum over all elements
      const T bv = b[0];
      const double total = deterministic_sum(n, [&](int64_t i) {
        return static_cast<double>(binary_backward_b<OP>(dc[i], a[i], bv));
      });
      db[0] = static_cast<T>(total);
    } else {
      reduce_to_operand(db, s.b, s, [&](int64_t oi, int64_t ai, int64_t bi) {
        return static_cast<double>(binary_backward_b<OP>(dc[oi], a[ai], b[bi]));
      });
    }
  }
}

}  // namespace

template <class T>
void binary_forward_cpu(Op op, T* c, const T* a, const T* b, const Broadcast4& s) {
  with_binary_op(op, "binary_forward_cpu",
                 [&](auto o) { binary_forward_loop<decltype(o)::value>(c, a, b, s); });
}

template <class T>
void binary_backward_cpu(Op op, T* da, T* db, const T* dc, const T* a, const T* b,
                         const Broadcast4& s) {
  with_binary_op(op, "binary_backward_cpu",
                 [&](auto o) { binary_backward_loop<decltype(o)::value>(da, db, dc, a, b, s); });
}

#define NIDIM_INSTANTIATE(T)                                                             \
  template void fill_cpu<T>(T*, int64_t, T);                                             \
  template void uniform_cpu<T>(T*, int64_t, uint64_t, uint64_t, uint64_t, T, T);         \
  template void normal_cpu<T>(T*, int64_t, uint64_t, uint64_t, uint64_t, T, T);          \
  template void unary_forward_cpu<T>(Op, T*, const T*, int64_t, T);                      \
  template void unary_backward_cpu<T>(Op, T*, const T*, const T*, const T*, int64_t, T); \
  template void binary_forward_cpu<T>(Op, T*, const T*, const T*, const Broadcast4&);    \
  template void binary_backward_cpu<T>(Op, T*, T*, const T*, const T*, const T*, const Broadcast4&);
NIDIM_INSTANTIATE(float)
NIDIM_INSTANTIATE(double)
#undef NIDIM_INSTANTIATE

template void fill_cpu<int32_t>(int32_t*, int64_t, int32_t);
template void fill_cpu<int64_t>(int64_t*, int64_t, int64_t);
template void fill_cpu<uint8_t>(uint8_t*, int64_t, uint8_t);

#define NIDIM_INSTANTIATE_CAST(TO)                                   \
  template void cast_cpu<TO, float>(TO*, const float*, int64_t);     \
  template void cast_cpu<TO, double>(TO*, const double*, int64_t);   \
  template void cast_cpu<TO, int32_t>(TO*, const int32_t*, int64_t); \
  template void cast_cpu<TO, int64_t>(TO*, const int64_t*, int64_t); \
  template void cast_cpu<TO, uint8_t>(TO*, const uint8_t*, int64_t);
NIDIM_INSTANTIATE_CAST(float)
NIDIM_INSTANTIATE_CAST(double)
NIDIM_INSTANTIATE_CAST(int32_t)
NIDIM_INSTANTIATE_CAST(int64_t)
NIDIM_INSTANTIATE_CAST(uint8_t)
#undef NIDIM_INSTANTIATE_CAST

}  // namespace nidim
