// nidim/kernels/cuda/kernels_cuda.h: the CUDA backend's launchers, one per CPU kernel of
// kernels/cpu/kernels_cpu.h, with the same name (`_cuda` for `_cpu`), argument order and shape
// comments, so that the two can be read side by side.
//
// Every pointer is device memory on the calling thread's current device (dispatch_cuda sets it);
// every launcher queues its work on that device's compute stream (core/cuda/stream.h) and returns
// without waiting. Scratch memory comes from the caching allocator. T is float or double.
// Dimension letters as in kernels_cpu.h:
//   N batch   C channels   H W height, width   O output channels   K kernel size
//   M R rows  D columns     A axis length       I inner length       S spatial (H*W)
// Differences from the CPU signatures, all because the value lives on the device:
//   cross_entropy_backward_cuda, mse_backward_cuda and nt_xent_backward_cuda take dloss as a
//   device pointer [1];
//   the pairwise launchers take b3 as a device pointer [1].
// Which source file holds which kernels: docs/PROFILING.md (kernel names start with the file's
// stem, e.g. batchnorm_stats_kernel lives in kernels/cuda/batchnorm.cu).
// This header is plain C++ (no CUDA types), so tools and tests can include it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/op.h"
#include "kernels/cpu/kernels_cpu.h"  // Broadcast4, Conv2dShape, Pool2dShape, PairwiseShape, NtXentShape

namespace nidim {

// ---- settings -------------------------------------------------------------------------------------
// TF32 tensor cores for float32 matmul (cuBLAS) and convolution (cuDNN): off by default (results
// then match float32 FMA arithmetic); the environment variable NIDIM_TF32=1 turns it on at start.
void set_tf32_cuda(bool on);
bool tf32_cuda();
// Upper bound of cuDNN's convolution workspace when it chooses an algorithm (default 256 MiB;
// environment NIDIM_CUDNN_WORKSPACE_MIB).
void set_conv_workspace_limit_cuda(size_t bytes);
size_t conv_workspace_limit_cuda();
// The convolution algorithms chosen so far on CUDA device `device` (conv.cu), as text: a header
// line naming cuDNN's version and the device, then one line per choice. cuDNN's search times the
// candidates, so two processes may choose differently and round differently; train_dim keeps this
// text in its checkpoint, a resumed run adopts it to continue with the same bits, and
// --cudnn-algorithms FILE gives it to a new run. Empty without CUDA.
std::string conv_algorithms_cuda(int device);
// Adopts choices written by conv_algorithms_cuda() for `device` when the header matches this
// process's cuDNN version and that device; returns how many, or 0 with the reason in *why.
int64_t set_conv_algorithms_cuda(const std::string& text, int device, std::string* why);

// ---- creation and conversion (elementwise.cu) ----------------------------------------------------
template <class T>
void fill_cuda(T* x /* n */, int64_t n, T value);
// Element e gets word (offset + e) of the Philox stream (seed, stream): the CPU's bits exactly.
template <class T>
void uniform_cuda(T* x /* n */, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, T low,
                  T high);
// Box-Muller on word pairs as normal_cpu; sin, cos and log are CUDA's, so values may differ from
// the CPU's in the last bits.
template <class T>
void normal_cuda(T* x /* n */, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset, T mean,
                 T stddev);
template <class TO, class TI>
void cast_cuda(TO* y /* n */, const TI* x /* n */, int64_t n);

// ---- element-wise (elementwise.cu) ---------------------------------------------------------------
template <class T>
void unary_forward_cuda(Op op, T* y /* n */, const T* x /* n */, int64_t n, T a);
template <class T>
void unary_backward_cuda(Op op, T* dx /* n */, const T* dy /* n */, const T* x /* n */,
                         const T* y /* n */, int64_t n, T a);
template <class T>
void binary_forward_cuda(Op op, T* c /* out */, const T* a /* a */, const T* b /* b */,
                         const Broadcast4& s);
// da, db may be null; each is reduced over its broadcast dimensions (sums in double, in a fixed
// order: deterministic).
template <class T>
void binary_backward_cuda(Op op, T* da /* a */, T* db /* b */, const T* dc /* out */,
                          const T* a /* a */, const T* b /* b */, const Broadcast4& s);

// ---- matrix multiply (matmul.cu, cuBLAS) -----------------------------------------------------------
// c [M, N] = op(a) op(b), op(a) [M, K], op(b) [K, N]; a is stored [K, M] when trans_a.
template <class T>
void matmul_forward_cuda(T* c, const T* a, const T* b, int64_t M, int64_t N, int64_t K,
                         bool trans_a, bool trans_b);
template <class T>
void matmul_backward_cuda(T* da, T* db, const T* dc /* M, N */, const T* a, const T* b, int64_t M,
                          int64_t N, int64_t K, bool trans_a, bool trans_b);
// Row-major GEMM on the current stream: C [M, N] = alpha op(A) op(B) + beta C, the CUDA twin of
// kernels/cpu/blas.h's gemm (leading dimensions are row strides).
template <class T>
void gemm_cuda(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
               int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc, const char* op);

// ---- reductions (reduce.cu) ------------------------------------------------------------------------
template <class T>
void sum_forward_cuda(T* y, const T* x, int64_t R, int64_t A, int64_t I, double scale);
template <class T>
void sum_backward_cuda(T* dx, const T* dy, int64_t R, int64_t A, int64_t I, double scale);
template <class T>
void max_forward_cuda(T* y, int64_t* index, const T* x, int64_t R, int64_t A, int64_t I);
template <class T>
void max_backward_cuda(T* dx /* R, A, I */, const T* dy /* R, I */, const int64_t* index, int64_t R,
                       int64_t A, int64_t I);
template <class T>
void logsumexp_forward_cuda(T* y, const T* x, int64_t R, int64_t A, int64_t I);
template <class T>
void logsumexp_backward_cuda(T* dx, const T* dy, const T* x, const T* y, int64_t R, int64_t A,
                             int64_t I);
template <class T>
void softmax_forward_cuda(T* y, const T* x, int64_t R, int64_t A, int64_t I, bool log);
template <class T>
void softmax_backward_cuda(T* dx, const T* dy, const T* y, int64_t R, int64_t A, int64_t I,
                           bool log);
// Throws when a label is outside [0, C) (this waits for the kernel: the check reads a device flag).
template <class T>
void cross_entropy_forward_cuda(T* loss /* 1 */, T* prob /* N, C */, const T* logits /* N, C */,
                                const int32_t* label /* N */, int64_t N, int64_t C);
template <class T>
void cross_entropy_backward_cuda(T* dlogits /* N, C */, const T* dloss /* 1 */,
                                 const T* prob /* N, C */, const int32_t* label /* N */, int64_t N,
                                 int64_t C);
template <class T>
void mse_forward_cuda(T* loss /* 1 */, const T* a, const T* b, int64_t n);
template <class T>
void mse_backward_cuda(T* da, T* db, const T* dloss /* 1 */, const T* a, const T* b, int64_t n);

// ---- SimCLR's NT-Xent loss (ntxent.cu) ------------------------------------------------------------
// As nt_xent_forward_cpu: tiles of whole rows, each tile's similarities by one cuBLAS GEMM into
// scratch, one block per row for its max, log-sum-exp and loss; lse [N] kept for the backward.
template <class T>
void nt_xent_forward_cuda(T* loss /* 1 */, T* lse /* N */, const T* z /* N, D */,
                          const NtXentShape& s);
// As nt_xent_backward_cpu, with dloss on the device. Overwrites dz.
template <class T>
void nt_xent_backward_cuda(T* dz /* N, D */, const T* dloss /* 1 */, const T* z /* N, D */,
                           const T* lse /* N */, const NtXentShape& s);

// ---- images (conv.cu: cuDNN; pool.cu; batchnorm.cu) ------------------------------------------------
template <class T>
void conv2d_forward_cuda(T* y, const T* x, const T* w, const T* bias, const Conv2dShape& s);
template <class T>
void conv2d_backward_cuda(T* dx, T* dw, T* dbias, const T* dy, const T* x, const T* w,
                          const Conv2dShape& s);
template <class T>
void avg_pool2d_forward_cuda(T* y, const T* x, const Pool2dShape& s);
template <class T>
void avg_pool2d_backward_cuda(T* dx, const T* dy, const Pool2dShape& s);
template <class T>
void max_pool2d_forward_cuda(T* y, int32_t* index, const T* x, const Pool2dShape& s);
template <class T>
void max_pool2d_backward_cuda(T* dx, const T* dy, const int32_t* index, const Pool2dShape& s);
template <class T>
void batch_norm_forward_cuda(T* y, T* mean, T* invstd, const T* x, const T* w, const T* b,
                             T* running_mean, T* running_var, int64_t N, int64_t C, int64_t S,
                             bool training, double momentum, double eps);
template <class T>
void batch_norm_backward_cuda(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w,
                              const T* mean, const T* invstd, int64_t N, int64_t C, int64_t S,
                              bool training);

// ---- layout (layout.cu) ------------------------------------------------------------------------------
template <class T>
void transpose_cuda(T* y /* D, M */, const T* x /* M, D */, int64_t M, int64_t D);
template <class T>
void concat_part_cuda(T* y, const T* x, int64_t R, int64_t A_total, int64_t A_k, int64_t I,
                      int64_t at);
template <class T>
void split_part_cuda(T* dx, const T* dy, int64_t R, int64_t A_total, int64_t A_k, int64_t I,
                     int64_t at);

// ---- the joint MLP critic on all pairs (pairwise.cu) ------------------------------------------------
// S [Bu, Bv] by the fused shared-memory kernel: no [pairs, H] activations are stored anywhere.
template <class T>
void pairwise_mlp_forward_cuda(T* S, const T* u, const T* v, const T* W2, const T* b2, const T* w3,
                               const T* b3, const PairwiseShape& s);
// Gradients of sum(S * dS), tile by tile (recomputing each tile's forward); any output may be
// null. Overwrites.
template <class T>
void pairwise_mlp_backward_cuda(T* du, T* dv, T* dW2, T* db2, T* dw3, T* db3, const T* dS,
                                const T* u, const T* v, const T* W2, const T* b2, const T* w3,
                                const T* b3, const PairwiseShape& s);
// loss = mean_i (logsumexp_j S_ij - S_ii) and, where the pointers are not null, its gradients
// (dloss = 1): one forward and one backward per tile, as pairwise_mlp_infonce_cpu.
template <class T>
void pairwise_mlp_infonce_cuda(T* loss, T* du, T* dv, T* dW2, T* db2, T* dw3, T* db3, const T* u,
                               const T* v, const T* W2, const T* b2, const T* w3, const T* b3,
                               const PairwiseShape& s);

// ---- optimizer updates (optim.cu) -----------------------------------------------------------------
template <class T>
void sgd_step_cuda(T* p, const T* grad, T* buf, int64_t n, double lr, double momentum,
                   double dampening, double weight_decay, double scale, bool nesterov, bool first);
template <class T>
void adam_step_cuda(T* p, const T* grad, T* m, T* v, int64_t n, double lr, double beta1,
                    double beta2, double eps, double weight_decay, int64_t step, bool decoupled);

// ---- other versions, for the kernel lab (bench/kernels) -----------------------------------------------
// Each is checked there against the CPU reference next to the production launcher above.
// Batch-norm with one block per channel (the simplest correct version; production splits each
// channel over several blocks).
template <class T>
void batch_norm_forward_one_block_cuda(T* y, T* mean, T* invstd, const T* x, const T* w, const T* b,
                                       int64_t N, int64_t C, int64_t S, double eps);
// Scores by one thread per pair (no shared memory): the reference for the tiled kernel.
template <class T>
void pairwise_mlp_forward_naive_cuda(T* S, const T* u, const T* v, const T* W2, const T* b2,
                                     const T* w3, const T* b3, const PairwiseShape& s);
// InfoNCE loss only (no gradients) from the fused scores kernel plus the fused row log-sum-exp.
template <class T>
void pairwise_mlp_infonce_loss_fused_cuda(T* loss, const T* u, const T* v, const T* W2, const T* b2,
                                          const T* w3, const T* b3, const PairwiseShape& s);

}  // namespace nidim
