// nidim/core/dtype.h: element types of a tensor.
//
// float32 is the training type; float64 runs the same CPU kernels for gradient checks and
// statistics; int32/int64/uint8 hold labels, indices and pixels (int64 also appears in PyTorch
// checkpoints as batch-norm's num_batches_tracked). No float16/bfloat16 yet.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nidim {

enum class DType : uint8_t { f32, f64, i32, i64, u8 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32:
      return 4;
    case DType::f64:
      return 8;
    case DType::i32:
      return 4;
    case DType::i64:
      return 8;
    case DType::u8:
      return 1;
  }
  return 0;
}

// Names as numpy and PyTorch print them ("float32").
constexpr const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32:
      return "float32";
    case DType::f64:
      return "float64";
    case DType::i32:
      return "int32";
    case DType::i64:
      return "int64";
    case DType::u8:
      return "uint8";
  }
  return "?";
}

constexpr bool is_floating(DType t) {
  return t == DType::f32 || t == DType::f64;
}

template <class T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::f32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::f64;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr DType value = DType::i32;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr DType value = DType::i64;
};
template <>
struct DTypeOf<uint8_t> {
  static constexpr DType value = DType::u8;
};
template <class T>
constexpr DType dtype_of = DTypeOf<T>::value;

}  // namespace nidim
