// nidim/kernels/cpu/pairwise.cpp: the joint MLP critic on every pair of a batch, tile by tile,
// and its fusion with the InfoNCE bound (METHOD.md §1-§2).
//
// For rows i of u [Bu, H] and v [Bv, H] (the critic's first layer, already split:
// u_i = W_a a_i + c, v_j = W_b b_j), the score of pair (i, j) is
//   h1 = lrelu(u_i + v_j)            [H]
//   h2 = lrelu(W2 h1 + b2)           [H]
//   S[i, j] = w3 . h2 + b3
// Materializing h1 and h2 for all pairs would take Bu*Bv*H values each (1 GiB per layer at
// B = 1024, H = 256, float32). Instead rows i are taken in tiles of T rows: a tile holds
// P = T*Bv pairs, and its four work matrices [P, H] (h1, h2, dz, dh1) are all the memory the
// critic needs, so memory is O(T * Bv * H) whatever the batch size.
//
// Per tile (forward):   h1 <- lrelu(u_i + v_j); h2 <- h1 W2^T (GEMM); h2 <- lrelu(h2 + b2);
//                       s <- h2 w3 + b3 (GEMV)
// Per tile (backward, given dS for the tile's rows):
//   dz  = dS * w3 * lrelu'(h2)          db2 += dz^T 1, dw3 += h2^T dS (GEMVs), db3 += sum dS
//   dW2 += dz^T h1 (GEMM)               dh1 = dz W2 (GEMM) * lrelu'(h1)
//   du_i += sum_j dh1                   dv_j += sum_i dh1
// lrelu keeps the sign of its input (slope >= 0), so lrelu'(x) is read off the output: 1 where
// the output is > 0, slope otherwise (PyTorch's convention at 0).
// pairwise_mlp_backward recomputes each tile's forward (one extra forward) because dS of a
// general bound (DV, NWJ) is known only after every score is. InfoNCE's dS for a row needs only
// that row's scores, so the fused kernel runs the backward of each tile right after its forward
// and keeps the gradients for dloss = 1: one forward and one backward in total, no recompute.
// Tiles run in order and each accumulates into the gradients in a fixed order: results are
// reproducible for a fixed thread count (BLAS does the within-tile parallel work).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/kernels_cpu.h"
#include "kernels/cpu/scratch.h"

namespace nidim {

namespace {

template <class T>
inline T lrelu(T x, T slope) {
  return x > T(0) ? x : slope * x;
}
template <class T>
inline T lrelu_grad_from_output(T y, T slope) {
  return y > T(0) ? T(1) : slope;
}

// About 2^19 values (2 MiB of float) per work matrix.
int64_t tile_rows(const PairwiseShape& s) {
  return pairwise_tile_rows(s, int64_t(1) << 19);
}

template <class T>
struct Weights {
  const T *u, *v, *W2, *b2, *w3;
  T b3;
};

// Forward of rows [i0, i0 + T): h1, h2 [P, H] and scores s [T, Bv].
template <class T>
void tile_forward(T* h1, T* h2, T* s, int64_t i0, int64_t rows, const Weights<T>& w,
                  const PairwiseShape& sh) {
  const int64_t H = sh.H, Bv = sh.Bv, P = rows * Bv;
  const T slope = static_cast<T>(sh.slope);
  parallel_for(P, 64, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const T* ui = w.u + (i0 + r / Bv) * H;
      const T* vj = w.v + (r % Bv) * H;
      T* out = h1 + r * H;
      for (int64_t k = 0; k < H; ++k) out[k] = lrelu(ui[k] + vj[k], slope);
    }
  });
  gemm(false, true, P, H, H, T(1), h1, H, w.W2, H, T(0), h2, H);
  parallel_for(P, 64, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      T* z = h2 + r * H;
      for (int64_t k = 0; k < H; ++k) z[k] = lrelu(z[k] + w.b2[k], slope);
    }
  });
  for (int64_t r = 0; r < P; ++r) s[r] = w.b3;
  gemm(false, false, P, 1, H, T(1), h2, H, w.w3, 1, T(1), s, 1);  // s += h2 w3
}

template <class T>
struct Grads {
  T *du, *dv, *dW2, *db2, *dw3, *db3;
};

// Backward of rows [i0, i0 + T) given ds [T, Bv]; accumulates into g (which starts at zero).
template <class T>
void tile_backward(const T* ds, const T* ones, T* h1, const T* h2, T* dz, T* dh1, int64_t i0,
                   int64_t rows, const Weights<T>& w, const Grads<T>& g, const PairwiseShape& sh) {
  const int64_t H = sh.H, Bv = sh.Bv, P = rows * Bv;
  const T slope = static_cast<T>(sh.slope);
  parallel_for(P, 64, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const T d = ds[r];
      const T* y = h2 + r * H;
      T* out = dz + r * H;
      for (int64_t k = 0; k < H; ++k) out[k] = d * w.w3[k] * lrelu_grad_from_output(y[k], slope);
    }
  });
  if (g.db3) {
    double acc = 0;
    for (int64_t r = 0; r < P; ++r) acc += ds[r];
    g.db3[0] += static_cast<T>(acc);
  }
  if (g.dw3) gemm(true, false, H, 1, P, T(1), h2, H, ds, 1, T(1), g.dw3, 1);    // dw3 += h2^T ds
  if (g.db2) gemm(true, false, H, 1, P, T(1), dz, H, ones, 1, T(1), g.db2, 1);  // db2 += dz^T 1
  if (g.dW2) gemm(true, false, H, H, P, T(1), dz, H, h1, H, T(1), g.dW2, H);    // dW2 += dz^T h1
  if (!g.du && !g.dv) return;
  gemm(false, false, P, H, H, T(1), dz, H, w.W2, H, T(0), dh1, H);  // dh1 = dz W2
  parallel_for(P, 64, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r)
      for (int64_t k = 0; k < H; ++k)
        dh1[r * H + k] *= lrelu_grad_from_output(h1[r * H + k], slope);
  });
  if (g.du) {  // du_i += sum over j of the tile's row i
    parallel_for(rows, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) {
        T* out = g.du + (i0 + t) * H;
        for (int64_t j = 0; j < Bv; ++j) {
          const T* src = dh1 + (t * Bv + j) * H;
          for (int64_t k = 0; k < H; ++k) out[k] += src[k];
        }
      }
    });
  }
  if (g.dv) {  // dv_j += sum over the tile's rows i
    parallel_for(Bv, 16, [&](int64_t lo, int64_t hi) {
      for (int64_t j = lo; j < hi; ++j) {
        T* out = g.dv + j * H;
        for (int64_t t = 0; t < rows; ++t) {
          const T* src = dh1 + (t * Bv + j) * H;
          for (int64_t k = 0; k < H; ++k) out[k] += src[k];
        }
      }
    });
  }
}

template <class T>
void zero_grads(const Grads<T>& g, const PairwiseShape& s) {
  if (g.du) std::fill(g.du, g.du + s.Bu * s.H, T(0));
  if (g.dv) std::fill(g.dv, g.dv + s.Bv * s.H, T(0));
  if (g.dW2) std::fill(g.dW2, g.dW2 + s.H * s.H, T(0));
  if (g.db2) std::fill(g.db2, g.db2 + s.H, T(0));
  if (g.dw3) std::fill(g.dw3, g.dw3 + s.H, T(0));
  if (g.db3) g.db3[0] = T(0);
}

}  // namespace

template <class T>
void pairwise_mlp_forward_cpu(T* S, const T* u, const T* v, const T* W2, const T* b2, const T* w3,
                              T b3, const PairwiseShape& s) {
  const int64_t rows = tile_rows(s), P = rows * s.Bv;
  T* h1 = scratch<T>(0, P * s.H);
  T* h2 = scratch<T>(1, P * s.H);
  const Weights<T> w{u, v, W2, b2, w3, b3};
  for (int64_t i0 = 0; i0 < s.Bu; i0 += rows) {
    const int64_t t = std::min(rows, s.Bu - i0);
    tile_forward(h1, h2, S + i0 * s.Bv, i0, t, w, s);
  }
}

template <class T>
void pairwise_mlp_backward_cpu(T* du, T* dv, T* dW2, T* db2, T* dw3, T* db3, const T* dS,
                               const T* u, const T* v, const T* W2, const T* b2, const T* w3, T b3,
                               const PairwiseShape& s) {
  const int64_t rows = tile_rows(s), P = rows * s.Bv;
  T* h1 = scratch<T>(0, P * s.H);
  T* h2 = scratch<T>(1, P * s.H);
  T* dz = scratch<T>(2, P * s.H);
  T* dh1 = scratch<T>(3, P * s.H);
  std::vector<T> scores(static_cast<size_t>(P)), ones(static_cast<size_t>(P), T(1));
  const Weights<T> w{u, v, W2, b2, w3, b3};
  const Grads<T> g{du, dv, dW2, db2, dw3, db3};
  zero_grads(g, s);
  for (int64_t i0 = 0; i0 < s.Bu; i0 += rows) {
    const int64_t t = std::min(rows, s.Bu - i0);
    tile_forward(h1, h2, scores.data(), i0, t, w, s);
    tile_backward(dS + i0 * s.Bv, ones.data(), h1, h2, dz, dh1, i0, t, w, g, s);
  }
}

template <class T>
void pairwise_mlp_infonce_cpu(T* loss, T* du, T* dv, T* dW2, T* db2, T* dw3, T* db3, const T* u,
                              const T* v, const T* W2, const T* b2, const T* w3, T b3,
                              const PairwiseShape& s) {
  const int64_t B = s.Bu, rows = tile_rows(s), P = rows * s.Bv;
  T* h1 = scratch<T>(0, P * s.H);
  T* h2 = scratch<T>(1, P * s.H);
  T* dz = scratch<T>(2, P * s.H);
  T* dh1 = scratch<T>(3, P * s.H);
  std::vector<T> scores(static_cast<size_t>(P)), ds(static_cast<size_t>(P)),
      ones(static_cast<size_t>(P), T(1));
  const Weights<T> w{u, v, W2, b2, w3, b3};
  const Grads<T> g{du, dv, dW2, db2, dw3, db3};
  const bool grads = du || dv || dW2 || db2 || dw3 || db3;
  zero_grads(g, s);
  double total = 0;  // sum over rows of logsumexp_j S_ij - S_ii
  for (int64_t i0 = 0; i0 < B; i0 += rows) {
    const int64_t t = std::min(rows, B - i0);
    tile_forward(h1, h2, scores.data(), i0, t, w, s);
    for (int64_t r = 0; r < t; ++r) {
      const T* row = scores.data() + r * B;
      const T m = *std::max_element(row, row + B);
      double sum = 0;
      for (int64_t j = 0; j < B; ++j) sum += std::exp(static_cast<double>(row[j] - m));
      const double lse = m + std::log(sum);
      total += lse - row[i0 + r];
      if (grads) {  // d/dS_ij of (1/B) (lse_i - S_ii) = (softmax_ij - [i == j]) / B
        T* d = ds.data() + r * B;
        for (int64_t j = 0; j < B; ++j)
          d[j] = static_cast<T>((std::exp(row[j] - lse) - (j == i0 + r ? 1.0 : 0.0)) /
                                static_cast<double>(B));
      }
    }
    if (grads) tile_backward(ds.data(), ones.data(), h1, h2, dz, dh1, i0, t, w, g, s);
  }
  loss[0] = static_cast<T>(total / static_cast<double>(B));
}

#define NIDIM_INSTANTIATE(T)                                                                       \
  template void pairwise_mlp_forward_cpu<T>(T*, const T*, const T*, const T*, const T*, const T*,  \
                                            T, const PairwiseShape&);                              \
  template void pairwise_mlp_backward_cpu<T>(T*, T*, T*, T*, T*, T*, const T*, const T*, const T*, \
                                             const T*, const T*, const T*, T,                      \
                                             const PairwiseShape&);                                \
  template void pairwise_mlp_infonce_cpu<T>(T*, T*, T*, T*, T*, T*, T*, const T*, const T*,        \
                                            const T*, const T*, const T*, T,                       \
                                            const PairwiseShape&);
NIDIM_INSTANTIATE(float)
NIDIM_INSTANTIATE(double)
#undef NIDIM_INSTANTIATE

}  // namespace nidim
