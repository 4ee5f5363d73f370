// nidim/kernels/unpack.h: what both backends' dispatch switches (kernels/cpu/dispatch_cpu.cpp,
// kernels/cuda/dispatch_cuda.cu) need to turn a KernelCall into a typed kernel call: raw
// pointers of possibly undefined tensors, the dtype switch that picks the kernel's T, and the
// shape structs of kernels/cpu/kernels_cpu.h read off the operands.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/error.h"
#include "kernels/cpu/kernels_cpu.h"
#include "kernels/dispatch.h"

namespace nidim::unpack {

template <class T>
T* ptr(Tensor& t) {
  return t.defined() ? static_cast<T*>(t.raw()) : nullptr;
}
template <class T>
const T* cptr(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.raw()) : nullptr;
}

// Calls f(T{}) with T the floating type of `dtype`.
template <class F>
void with_float(Op op, DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32:
      return f(float{});
    case DType::f64:
      return f(double{});
    default:
      NIDIM_FAIL("{}: needs float32 or float64 tensors, got {}", op_name(op), dtype_name(dtype));
  }
}

// Calls f(T{}) for any dtype.
template <class F>
void with_any(DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32:
      return f(float{});
    case DType::f64:
      return f(double{});
    case DType::i32:
      return f(int32_t{});
    case DType::i64:
      return f(int64_t{});
    case DType::u8:
      return f(uint8_t{});
  }
}

// [R, A, I] view of `shape` around `axis` (-1: all elements).
inline void lanes(const Shape& shape, int64_t axis, int64_t& R, int64_t& A, int64_t& I) {
  if (axis < 0) {
    R = 1, A = shape.numel(), I = 1;
    return;
  }
  R = 1, I = 1;
  for (int k = 0; k < axis; ++k) R *= shape[k];
  A = shape[static_cast<int>(axis)];
  for (int k = static_cast<int>(axis) + 1; k < shape.ndim(); ++k) I *= shape[k];
}

inline Broadcast4 broadcast4(const Shape& out, const Shape& a, const Shape& b) {
  Broadcast4 s;
  auto pad = [](const Shape& x, int64_t dst[4]) {
    for (int k = 0; k < 4; ++k) dst[k] = 1;
    for (int k = 0; k < x.ndim(); ++k) dst[4 - x.ndim() + k] = x[k];
  };
  pad(out, s.out);
  pad(a, s.a);
  pad(b, s.b);
  return s;
}

inline Conv2dShape conv_shape(const Tensor& x, const Tensor& w, const Tensor& y,
                              const OpParams& p) {
  return {x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(2),
          w.size(3), p.i[0],    p.i[1],    y.size(2), y.size(3)};
}

inline Pool2dShape pool_shape(const Tensor& x, const Tensor& y, const OpParams& p) {
  return {x.size(0), x.size(1), x.size(2), x.size(3), p.i[0], p.i[1], p.i[2], y.size(2), y.size(3)};
}

// batch-norm sees x as [N, C, S].
inline void bn_dims(const Tensor& x, int64_t& N, int64_t& C, int64_t& S) {
  N = x.size(0), C = x.size(1), S = x.numel() / std::max<int64_t>(N * C, 1);
}

// nt_xent reads N, D off z [N, D]; f0 temperature, i0 tile rows.
inline NtXentShape nt_xent_shape(const Tensor& z, const OpParams& p) {
  return {z.size(0), z.size(1), p.f[0], p.i[0]};
}

[[noreturn]] inline void view_op(Op op) {
  NIDIM_FAIL("{}: is a view and has no kernel (kernels/ops.cpp handles it)", op_name(op));
}

}  // namespace nidim::unpack
