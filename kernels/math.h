// nidim/kernels/math.h: per-element math shared by the CPU and CUDA backends.
//
// Each element-wise op is a pair of inline templates, its forward value and its backward
// (the input gradient from the output gradient), marked NIDIM_HD so that
// kernels/cpu/elementwise.cpp and kernels/cuda/elementwise.cu compile the same definition.
// Templates over the Op (not a runtime switch per element) let the compiler vectorize the loops.
// Conventions at kinks follow PyTorch: relu'(0) = 0, abs'(0) = 0, leaky_relu'(0) = slope.
#pragma once

#include <cmath>
#include <type_traits>

#include "core/error.h"
#include "core/hostdevice.h"
#include "core/op.h"

namespace nidim {

// Math functions that resolve to libm on the host and to CUDA's intrinsics on the device.
#if defined(__CUDA_ARCH__)
template <class T>
__device__ inline T m_exp(T x) {
  return ::exp(x);
}
template <class T>
__device__ inline T m_log(T x) {
  return ::log(x);
}
template <class T>
__device__ inline T m_sqrt(T x) {
  return ::sqrt(x);
}
template <class T>
__device__ inline T m_pow(T x, T y) {
  return ::pow(x, y);
}
template <class T>
__device__ inline T m_tanh(T x) {
  return ::tanh(x);
}
template <class T>
__device__ inline T m_erf(T x) {
  return ::erf(x);
}
template <class T>
__device__ inline T m_abs(T x) {
  return ::fabs(x);
}
#else
template <class T>
inline T m_exp(T x) {
  return std::exp(x);
}
template <class T>
inline T m_log(T x) {
  return std::log(x);
}
template <class T>
inline T m_sqrt(T x) {
  return std::sqrt(x);
}
template <class T>
inline T m_pow(T x, T y) {
  return std::pow(x, y);
}
template <class T>
inline T m_tanh(T x) {
  return std::tanh(x);
}
template <class T>
inline T m_erf(T x) {
  return std::erf(x);
}
template <class T>
inline T m_abs(T x) {
  return std::fabs(x);
}
#endif

// 2/sqrt(pi), the derivative of erf at 0.
constexpr double two_over_sqrt_pi = 1.1283791670955126;

// y = f(x); `a` is the op's scalar: the exponent of pow, the negative slope of leaky_relu.
template <Op OP, class T>
NIDIM_HD inline T unary_forward_op(T x, T a) {
  if constexpr (OP == Op::neg)
    return -x;
  else if constexpr (OP == Op::exp)
    return m_exp(x);
  else if constexpr (OP == Op::log)
    return m_log(x);
  else if constexpr (OP == Op::sqrt)
    return m_sqrt(x);
  else if constexpr (OP == Op::pow)
    return m_pow(x, a);
  else if constexpr (OP == Op::abs)
    return m_abs(x);
  else if constexpr (OP == Op::tanh)
    return m_tanh(x);
  else if constexpr (OP == Op::sigmoid)
    return T(1) / (T(1) + m_exp(-x));
  else if constexpr (OP == Op::erf)
    return m_erf(x);
  else if constexpr (OP == Op::relu)
    return x > T(0) ? x : T(0);
  else if constexpr (OP == Op::leaky_relu)
    return x > T(0) ? x : a * x;
  else
    static_assert(OP == Op::neg, "not a unary element-wise op");
}

// dx = dy * f'(x), written with y = f(x) where that is cheaper.
template <Op OP, class T>
NIDIM_HD inline T unary_backward_op(T dy, T x, T y, T a) {
  if constexpr (OP == Op::neg)
    return -dy;
  else if constexpr (OP == Op::exp)
    return dy * y;
  else if constexpr (OP == Op::log)
    return dy / x;
  else if constexpr (OP == Op::sqrt)
    return dy / (T(2) * y);
  else if constexpr (OP == Op::pow)
    return dy * a * m_pow(x, a - T(1));
  else if constexpr (OP == Op::abs)
    return x > T(0) ? dy : (x < T(0) ? -dy : T(0));
  else if constexpr (OP == Op::tanh)
    return dy * (T(1) - y * y);
  else if constexpr (OP == Op::sigmoid)
    return dy * y * (T(1) - y);
  else if constexpr (OP == Op::erf)
    return dy * T(two_over_sqrt_pi) * m_exp(-x * x);
  else if constexpr (OP == Op::relu)
    return x > T(0) ? dy : T(0);
  else if constexpr (OP == Op::leaky_relu)
    return x > T(0) ? dy : a * dy;
  else
    static_assert(OP == Op::neg, "not a unary element-wise op");
}

// Whether unary_backward_op reads x. The others depend on y alone (relu: x > 0 exactly where
// y > 0), so autograd keeps only y for them and passes it in x's place (kernels/ops.cpp).
constexpr bool unary_backward_reads_x(Op op) {
  return op == Op::log || op == Op::pow || op == Op::abs || op == Op::erf || op == Op::leaky_relu;
}

template <Op OP, class T>
NIDIM_HD inline T binary_forward_op(T a, T b) {
  if constexpr (OP == Op::add)
    return a + b;
  else if constexpr (OP == Op::sub)
    return a - b;
  else if constexpr (OP == Op::mul)
    return a * b;
  else if constexpr (OP == Op::div)
    return a / b;
  else
    static_assert(OP == Op::add, "not a binary element-wise op");
}

// Partial derivatives: dc * dc/da and dc * dc/db.
template <Op OP, class T>
NIDIM_HD inline T binary_backward_a(T dc, T a, T b) {
  (void)a;
  if constexpr (OP == Op::add || OP == Op::sub)
    return dc;
  else if constexpr (OP == Op::mul)
    return dc * b;
  else if constexpr (OP == Op::div)
    return dc / b;
  else
    static_assert(OP == Op::add, "not a binary element-wise op");
}
template <Op OP, class T>
NIDIM_HD inline T binary_backward_b(T dc, T a, T b) {
  if constexpr (OP == Op::add)
    return dc;
  else if constexpr (OP == Op::sub)
    return -dc;
  else if constexpr (OP == Op::mul)
    return dc * a;
  else if constexpr (OP == Op::div)
    return -dc * a / (b * b);
  else
    static_assert(OP == Op::add, "not a binary element-wise op");
}

// The element-wise ops of core/op.h that have a pair of templates above.
#define NIDIM_UNARY_CASES(MACRO)                                                      \
  MACRO(neg)                                                                          \
  MACRO(exp)                                                                          \
  MACRO(log)                                                                          \
  MACRO(sqrt) MACRO(pow) MACRO(abs) MACRO(tanh) MACRO(sigmoid) MACRO(erf) MACRO(relu) \
      MACRO(leaky_relu)
#define NIDIM_BINARY_CASES(MACRO) MACRO(add) MACRO(sub) MACRO(mul) MACRO(div)

// The one switch from a runtime Op to the compile-time one that the element loops and kernels are
// templates over: f(std::integral_constant<Op, op>{}), once per call, not per element. `who`
// names the caller in the error for an op outside the list.
template <class F>
void with_unary_op(Op op, const char* who, F&& f) {
  switch (op) {
#define NIDIM_CASE(name) \
  case Op::name:         \
    return f(std::integral_constant<Op, Op::name>{});
    NIDIM_UNARY_CASES(NIDIM_CASE)
#undef NIDIM_CASE
    default:
      NIDIM_FAIL("{}: {} is not a unary op", who, op_name(op));
  }
}

template <class F>
void with_binary_op(Op op, const char* who, F&& f) {
  switch (op) {
#define NIDIM_CASE(name) \
  case Op::name:         \
    return f(std::integral_constant<Op, Op::name>{});
    NIDIM_BINARY_CASES(NIDIM_CASE)
#undef NIDIM_CASE
    default:
      NIDIM_FAIL("{}: {} is not a binary op", who, op_name(op));
  }
}

}  // namespace nidim
