// nidim/kernels/dispatch.h: the boundary between the op front end (kernels/ops.cpp) and the
// backends.
//
// A KernelCall names an op, a pass and its tensors; dispatch() checks that all tensors live on
// one device and hands the call to that backend's switch (dispatch_cpu or dispatch_cuda), which
// unpacks it into the typed kernel functions (`conv2d_forward_cpu`, `conv2d_forward_cuda`...).
// The caller allocates every result. Operands per op (F = forward, B = backward):
//
//   op               F in            F out                B in                    B out      params
//   fill             -               x                    -                       -          f0 value
//   uniform          -               x                    -                       -          i0 seed, i1 stream, i2 offset; f0 low, f1 high
//   normal           -               x                    -                       -          i0 seed, i1 stream, i2 offset; f0 mean, f1 std
//   cast             x               y (other dtype)      -                       -
//   matmul           a, b            c                    dc, a, b                da, db     i0 transpose a, i1 transpose b
//   add sub mul div  a, b            c (broadcast shape)  dc, a, b                da, db
//   neg ... leaky    x               y                    dy, x, y                dx         f0 exponent (pow) or slope (leaky_relu)
//   sum mean         x               y                    dy                      dx         i0 axis, or -1 for all elements
//   max              x               y, index (i64)       dy, index               dx         i0 axis
//   logsumexp        x               y                    dy, x, y                dx         i0 axis
//   softmax          x               y                    dy, y                   dx         i0 axis
//   log_softmax      x               y                    dy, y                   dx         i0 axis
//   cross_entropy    logits, label   loss [], prob        dloss, prob, label      dlogits
//   mse              a, b            loss []              dloss, a, b             da, db
//   nt_xent          z [2B, D]       loss [], lse [2B]    dloss, z, lse           dz         f0 temperature; i0 tile rows (0: auto)
//   conv2d           x, w, bias?     y                    dy, x, w                dx, dw, dbias   i0 stride, i1 padding
//   avg_pool2d       x               y                    dy                      dx         i0 kernel, i1 stride, i2 padding
//   max_pool2d       x               y, index (i32)       dy, index               dx         i0 kernel, i1 stride, i2 padding
//   batch_norm       x, w?, b?,      y, mean, invstd      dy, x, w?, mean,        dx, dw, db i0 training; f0 momentum, f1 eps
//                    run_mean?, run_var?                  invstd
//   transpose        x [M, N]        y [N, M]             -                       -
//   concat           x0 ... xk       y                    dy                      dx0 ... dxk  i0 axis
//   pairwise_mlp     u, v, W2, b2,   S [Bu, Bv]           dS, u, v, W2, b2,       du, dv, dW2, db2, dw3, db3   i0 tile rows (0: auto); f0 slope
//                    w3, b3                               w3, b3
//   pairwise_mlp_    u, v, W2, b2,   loss [], du, dv,     - (the forward leaves the gradients for dloss = 1;
//   infonce          w3, b3          dW2, db2, dw3, db3     ops scale them, no kernel)            i0 tile rows; f0 slope
//   sgd_step         p, g, buf?      - (p, buf in place)  -                       -          f0 lr, f1 momentum, f2 dampening, f3 weight decay, f4 gradient scale; i0 nesterov, i1 first step
//   adam_step        p, g, m, v      - (in place)         -                       -          f0 lr, f1 beta1, f2 beta2, f3 eps, f4 weight decay; i0 step, i1 decoupled decay (AdamW)
//
// reshape and slice are views (no kernel; their backward reuses reshape and concat); a backend
// gets them only by mistake and says so. An undefined tensor ("?") means absent; an undefined
// backward result means that gradient is not wanted.
#pragma once

#include <cstdint>
#include <vector>

#include "core/op.h"
#include "core/tensor.h"

namespace nidim {

enum class Pass : uint8_t { forward, backward };

struct OpParams {
  int64_t i[6] = {0, 0, 0, 0, 0, 0};
  double f[6] = {0, 0, 0, 0, 0, 0};
};

struct KernelCall {
  Op op;
  Pass pass = Pass::forward;
  std::vector<Tensor> in;
  std::vector<Tensor> out;
  OpParams p;
};

// Runs `call` on the device of its tensors.
void dispatch(KernelCall& call);

// The backends' switches.
void dispatch_cpu(KernelCall& call);
void dispatch_cuda(KernelCall& call);

}  // namespace nidim
