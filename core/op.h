// nidim/core/op.h: the op list. Every op that has a kernel is named here once.
//
// The compiler keeps three things in step with this enum:
//   - op_table below (a static_assert checks its size and that entry i describes Op i);
//   - each backend's dispatch switch (kernels/cpu/dispatch_cpu.cpp, kernels/cuda/dispatch_cuda.cu)
//     has no default case and is compiled with -Werror=switch, so a new op does not build until
//     every backend handles it;
//   - tests/kernels/test_gradcheck.cpp fails at run time when a differentiable op has no gradient
//     check.
// The operand order of each op (KernelCall::in / out) is documented in kernels/dispatch.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nidim {

enum class Op : uint8_t {
  // creation and conversion (no gradient)
  fill,
  uniform,
  normal,
  cast,
  // linear algebra
  matmul,
  // binary element-wise, with broadcasting
  add,
  sub,
  mul,
  div,
  // unary element-wise
  neg,
  exp,
  log,
  sqrt,
  pow,
  abs,
  tanh,
  sigmoid,
  erf,
  relu,
  leaky_relu,
  // reductions over all elements or one axis
  sum,
  mean,
  max,
  logsumexp,
  // normalized exponentials and losses
  softmax,
  log_softmax,
  cross_entropy,
  mse,
  nt_xent,  // SimCLR's contrastive loss, fused with its gradient (kernels/cpu/ntxent.cpp)
  // images
  conv2d,
  avg_pool2d,
  max_pool2d,
  batch_norm,
  // shape and layout
  reshape,
  transpose,
  slice,
  concat,
  // the method's critic (kernels/pairwise.h)
  pairwise_mlp,
  pairwise_mlp_infonce,
  // optimizer updates, in place (no gradient)
  sgd_step,
  adam_step,
  count
};

constexpr size_t op_count = static_cast<size_t>(Op::count);

struct OpInfo {
  Op op;
  const char* name;
  bool differentiable;
};

constexpr OpInfo op_table[] = {
    {Op::fill, "fill", false},
    {Op::uniform, "uniform", false},
    {Op::normal, "normal", false},
    {Op::cast, "cast", false},
    {Op::matmul, "matmul", true},
    {Op::add, "add", true},
    {Op::sub, "sub", true},
    {Op::mul, "mul", true},
    {Op::div, "div", true},
    {Op::neg, "neg", true},
    {Op::exp, "exp", true},
    {Op::log, "log", true},
    {Op::sqrt, "sqrt", true},
    {Op::pow, "pow", true},
    {Op::abs, "abs", true},
    {Op::tanh, "tanh", true},
    {Op::sigmoid, "sigmoid", true},
    {Op::erf, "erf", true},
    {Op::relu, "relu", true},
    {Op::leaky_relu, "leaky_relu", true},
    {Op::sum, "sum", true},
    {Op::mean, "mean", true},
    {Op::max, "max", true},
    {Op::logsumexp, "logsumexp", true},
    {Op::softmax, "softmax", true},
    {Op::log_softmax, "log_softmax", true},
    {Op::cross_entropy, "cross_entropy", true},
    {Op::mse, "mse", true},
    {Op::nt_xent, "nt_xent", true},
    {Op::conv2d, "conv2d", true},
    {Op::avg_pool2d, "avg_pool2d", true},
    {Op::max_pool2d, "max_pool2d", true},
    {Op::batch_norm, "batch_norm", true},
    {Op::reshape, "reshape", true},
    {Op::transpose, "transpose", true},
    {Op::slice, "slice", true},
    {Op::concat, "concat", true},
    {Op::pairwise_mlp, "pairwise_mlp", true},
    {Op::pairwise_mlp_infonce, "pairwise_mlp_infonce", true},
    {Op::sgd_step, "sgd_step", false},
    {Op::adam_step, "adam_step", false},
};

constexpr bool op_table_in_order() {
  for (size_t i = 0; i < sizeof(op_table) / sizeof(op_table[0]); ++i)
    if (static_cast<size_t>(op_table[i].op) != i) return false;
  return true;
}
static_assert(sizeof(op_table) / sizeof(op_table[0]) == op_count,
              "op_table must have one entry per Op");
static_assert(op_table_in_order(), "op_table entry i must describe Op i");

constexpr const char* op_name(Op op) {
  return op_table[static_cast<size_t>(op)].name;
}
constexpr bool op_differentiable(Op op) {
  return op_table[static_cast<size_t>(op)].differentiable;
}

}  // namespace nidim
