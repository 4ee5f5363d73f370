// nidim/kernels/cpu/kernels_cpu.h: the CPU backend's kernels, the readable reference that the
// CUDA kernels are checked against.
//
// Every kernel takes raw pointers to contiguous row-major arrays and their sizes; the comment on
// each pointer gives its shape. T is float or double (double runs the gradient checks).
// Dimension letters:
//   N batch   C channels   H W height, width   O output channels   K kernel size
//   M R rows  D columns     A axis length       I inner length       S spatial (H*W)
// A reduction "over an axis" sees its input as [R, A, I]: R = product of the dimensions before
// the axis, I = product of those after it (a reduction over everything is R = I = 1).
// Dispatch (kernels/cpu/dispatch_cpu.cpp) unpacks tensors into these calls.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/op.h"

namespace nidim {

// ---- creation and conversion (elementwise.cpp) -------------------------------------------------
template <class T>
void fill_cpu(T* x /* n */, int64_t n, T value);
// Element e gets word (offset + e) of the Philox stream (seed, stream); see core/philox.h.
template <class T>
void uniform_cpu(T* x /* n */, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, T low,
                 T high);
// Words (offset + 2e', offset + 2e' + 1) of a pair of elements go through Box-Muller.
template <class T>
void normal_cpu(T* x /* n */, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, T mean,
                T stddev);
template <class TO, class TI>
void cast_cpu(TO* y /* n */, const TI* x /* n */, int64_t n);

// ---- element-wise (elementwise.cpp) ------------------------------------------------------------
template <class T>
void unary_forward_cpu(Op op, T* y /* n */, const T* x /* n */, int64_t n, T a);
template <class T>
void unary_backward_cpu(Op op, T* dx /* n */, const T* dy /* n */, const T* x /* n */,
                        const T* y /* n */, int64_t n, T a);

// Broadcasting of two operands to a 4-D output: every shape is padded on the left with ones;
// a dimension of a or b is either 1 (broadcast) or equal to the output's.
struct Broadcast4 {
  int64_t out[4];  // output dimensions
  int64_t a[4];    // a's dimensions (1 or out[k])
  int64_t b[4];    // b's dimensions
};
template <class T>
void binary_forward_cpu(Op op, T* c /* out */, const T* a /* a */, const T* b /* b */,
                        const Broadcast4& s);
// da, db may be null (gradient not wanted); each is reduced over its broadcast dimensions.
template <class T>
void binary_backward_cpu(Op op, T* da /* a */, T* db /* b */, const T* dc /* out */,
                         const T* a /* a */, const T* b /* b */, const Broadcast4& s);

// ---- matrix multiply (matmul.cpp) --------------------------------------------------------------
// c [M, N] = op(a) op(b), op(a) [M, K], op(b) [K, N]; a is stored [K, M] when trans_a.
template <class T>
void matmul_forward_cpu(T* c, const T* a, const T* b, int64_t M, int64_t N, int64_t K, bool trans_a,
                        bool trans_b);
template <class T>
void matmul_backward_cpu(T* da, T* db, const T* dc /* M, N */, const T* a, const T* b, int64_t M,
                         int64_t N, int64_t K, bool trans_a, bool trans_b);

// ---- reductions (reduce.cpp) -------------------------------------------------------------------
// y [R, I] = sum over A of x [R, A, I] (times `scale`: 1 for sum, 1/A for mean).
template <class T>
void sum_forward_cpu(T* y, const T* x, int64_t R, int64_t A, int64_t I, double scale);
// dx [R, A, I] = dy [R, I] * scale, broadcast over A.
template <class T>
void sum_backward_cpu(T* dx, const T* dy, int64_t R, int64_t A, int64_t I, double scale);
// y [R, I] = max over A; index [R, I] is the first position of the maximum.
template <class T>
void max_forward_cpu(T* y, int64_t* index, const T* x, int64_t R, int64_t A, int64_t I);
template <class T>
void max_backward_cpu(T* dx /* R, A, I */, const T* dy /* R, I */, const int64_t* index, int64_t R,
                      int64_t A, int64_t I);
// y [R, I] = log sum_A exp x, stabilized by the maximum.
template <class T>
void logsumexp_forward_cpu(T* y, const T* x, int64_t R, int64_t A, int64_t I);
template <class T>
void logsumexp_backward_cpu(T* dx, const T* dy, const T* x, const T* y, int64_t R, int64_t A,
                            int64_t I);
// y [R, A, I] = softmax (or log_softmax) over A.
template <class T>
void softmax_forward_cpu(T* y, const T* x, int64_t R, int64_t A, int64_t I, bool log);
template <class T>
void softmax_backward_cpu(T* dx, const T* dy, const T* y, int64_t R, int64_t A, int64_t I,
                          bool log);
// loss = mean_n (logsumexp(logits[n]) - logits[n, label[n]]); prob [N, C] = softmax(logits).
// Throws when a label is outside [0, C).
template <class T>
void cross_entropy_forward_cpu(T* loss /* 1 */, T* prob /* N, C */, const T* logits /* N, C */,
                               const int32_t* label /* N */, int64_t N, int64_t C);
template <class T>
void cross_entropy_backward_cpu(T* dlogits /* N, C */, T dloss, const T* prob /* N, C */,
                                const int32_t* label /* N */, int64_t N, int64_t C);
// loss = mean (a - b)^2 over n elements.
template <class T>
void mse_forward_cpu(T* loss, const T* a, const T* b, int64_t n);
template <class T>
void mse_backward_cpu(T* da, T* db, T dloss, const T* a, const T* b, int64_t n);

// ---- SimCLR's NT-Xent loss (ntxent.cpp) ---------------------------------------------------------
// z [N, D]: N = 2B rows, two views of B images (rows i and pos(i) = (i + B) mod N are a positive
// pair). Rows are L2-normalized inside, as F.normalize does (zn_i = z_i / max(|z_i|, 1e-12)),
// s_ij = zn_i . zn_j / tau, and
//   loss = (1/N) sum_i [ lse_i - s_{i,pos(i)} ],   lse_i = log sum_{j != i} exp(s_ij).
// Rows are taken in tiles of t rows: only a [t, N] block of similarities exists at a time.
constexpr double nt_xent_norm_eps = 1e-12;  // F.normalize's default eps
struct NtXentShape {
  int64_t N, D;        // rows (2B) and embedding width
  double temperature;  // tau > 0
  int64_t tile_rows;   // rows per tile; 0: nt_xent_tile_rows chooses
};
// Rows per tile: s.tile_rows if given, else as many as keep a [t, N] tile near `values` values
// (the CPU uses 2^19, 2 MiB of float: cache-sized; CUDA 2^23, 32 MiB: large GEMMs), in [1, N].
inline int64_t nt_xent_tile_rows(const NtXentShape& s, int64_t values) {
  if (s.tile_rows > 0) return std::min(s.tile_rows, s.N);
  return std::clamp<int64_t>(values / std::max<int64_t>(s.N, 1), 1, s.N);
}
// The loss and, per row, lse [N] (all the backward keeps besides z).
template <class T>
void nt_xent_forward_cpu(T* loss /* 1 */, T* lse /* N */, const T* z /* N, D */,
                         const NtXentShape& s);
// dz [N, D] = dloss * d loss / dz, recomputing each tile's similarities. Overwrites.
template <class T>
void nt_xent_backward_cpu(T* dz /* N, D */, T dloss, const T* z /* N, D */, const T* lse /* N */,
                          const NtXentShape& s);

// ---- images (conv.cpp, pool.cpp, batchnorm.cpp) ------------------------------------------------
struct Conv2dShape {
  int64_t N, C, H, W;  // input
  int64_t O, KH, KW;   // weight [O, C, KH, KW]
  int64_t stride, padding;
  int64_t OH, OW;  // output
};
// y [N, O, OH, OW] = conv(x [N, C, H, W], w [O, C, KH, KW]) + bias [O] (bias may be null).
template <class T>
void conv2d_forward_cpu(T* y, const T* x, const T* w, const T* bias, const Conv2dShape& s);
// Any of dx, dw, dbias may be null. dw and dbias are overwritten (not accumulated).
template <class T>
void conv2d_backward_cpu(T* dx, T* dw, T* dbias, const T* dy, const T* x, const T* w,
                         const Conv2dShape& s);

struct Pool2dShape {
  int64_t N, C, H, W;
  int64_t kernel, stride, padding;
  int64_t OH, OW;
};
// Average counts the padding (PyTorch's count_include_pad=True).
template <class T>
void avg_pool2d_forward_cpu(T* y, const T* x, const Pool2dShape& s);
template <class T>
void avg_pool2d_backward_cpu(T* dx, const T* dy, const Pool2dShape& s);
// index [N, C, OH, OW]: position h * W + w of the maximum inside its input plane.
template <class T>
void max_pool2d_forward_cpu(T* y, int32_t* index, const T* x, const Pool2dShape& s);
template <class T>
void max_pool2d_backward_cpu(T* dx, const T* dy, const int32_t* index, const Pool2dShape& s);

// x [N, C, S]. Training: statistics of the batch; the running statistics (if given) move by
// momentum towards the batch mean and the unbiased batch variance. Evaluation: the running
// statistics. mean and invstd [C] receive what was used (for the backward pass).
template <class T>
void batch_norm_forward_cpu(T* y, T* mean, T* invstd, const T* x, const T* w, const T* b,
                            T* running_mean, T* running_var, int64_t N, int64_t C, int64_t S,
                            bool training, double momentum, double eps);
template <class T>
void batch_norm_backward_cpu(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w,
                             const T* mean, const T* invstd, int64_t N, int64_t C, int64_t S,
                             bool training);

// ---- layout (layout.cpp) -----------------------------------------------------------------------
template <class T>
void transpose_cpu(T* y /* D, M */, const T* x /* M, D */, int64_t M, int64_t D);
// Copies part k of a concatenation: y viewed as [R, A_total, I], x_k as [R, A_k, I] placed at
// position `at` along A. split_cpu is the reverse (the concat's backward).
template <class T>
void concat_part_cpu(T* y, const T* x, int64_t R, int64_t A_total, int64_t A_k, int64_t I,
                     int64_t at);
template <class T>
void split_part_cpu(T* dx, const T* dy, int64_t R, int64_t A_total, int64_t A_k, int64_t I,
                    int64_t at);

// ---- the joint MLP critic on all pairs (pairwise.cpp) ------------------------------------------
struct PairwiseShape {
  int64_t Bu, Bv, H;  // rows of u and v, hidden width
  double slope;       // leaky ReLU's negative slope
  int64_t tile_rows;  // rows of u per tile; 0: pairwise_tile_rows chooses
};
// Rows of u per tile: s.tile_rows if given, else as many whole rows as keep a [pairs, H] work
// matrix near `values` values (the CPU uses 2^19, 2 MiB of float: cache-sized; CUDA 2^23, 32 MiB:
// large GEMMs), at least 1 and at most Bu.
inline int64_t pairwise_tile_rows(const PairwiseShape& s, int64_t values) {
  if (s.tile_rows > 0) return std::min(s.tile_rows, s.Bu);
  const int64_t pairs = std::max<int64_t>(1, values / std::max<int64_t>(s.H, 1));
  return std::clamp<int64_t>(pairs / std::max<int64_t>(s.Bv, 1), 1, s.Bu);
}
// S [Bu, Bv]: S[i, j] = w3 . lrelu(W2 lrelu(u_i + v_j) + b2) + b3, with u [Bu, H], v [Bv, H],
// W2 [H, H] (PyTorch's Linear weight: out x in), b2 [H], w3 [H].
template <class T>
void pairwise_mlp_forward_cpu(T* S, const T* u, const T* v, const T* W2, const T* b2, const T* w3,
                              T b3, const PairwiseShape& s);
// Gradients of sum(S * dS); any output may be null. Overwrites (does not accumulate).
template <class T>
void pairwise_mlp_backward_cpu(T* du, T* dv, T* dW2, T* db2, T* dw3, T* db3, const T* dS,
                               const T* u, const T* v, const T* W2, const T* b2, const T* w3, T b3,
                               const PairwiseShape& s);
// loss = mean_i (logsumexp_j S_ij - S_ii) for square S (Bu = Bv), and, where the pointers are
// not null, its gradients (dloss = 1), computed tile by tile with the scores.
template <class T>
void pairwise_mlp_infonce_cpu(T* loss, T* du, T* dv, T* dW2, T* db2, T* dw3, T* db3, const T* u,
                              const T* v, const T* W2, const T* b2, const T* w3, T b3,
                              const PairwiseShape& s);

// ---- optimizer updates (optim.cpp) -------------------------------------------------------------
// PyTorch's SGD: g = scale * (grad + wd * p); buf = first ? g : momentum * buf + (1 - dampening) * g;
// g = nesterov ? g + momentum * buf : buf; p -= lr * g. buf may be null when momentum is 0.
template <class T>
void sgd_step_cpu(T* p, const T* grad, T* buf, int64_t n, double lr, double momentum,
                  double dampening, double weight_decay, double scale, bool nesterov, bool first);
// PyTorch's Adam/AdamW (single-tensor form), step counted from 1.
template <class T>
void adam_step_cpu(T* p, const T* grad, T* m, T* v, int64_t n, double lr, double beta1,
                   double beta2, double eps, double weight_decay, int64_t step, bool decoupled);

}  // namespace nidim
