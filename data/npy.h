// nidim/data/npy.h: numpy's .npy array files, read and written.
//
// Format (numpy's NEP 1, "A simple file format for NumPy arrays"): the magic "\x93NUMPY", a
// major and minor version byte, the header length (2 bytes little-endian in version 1.0, 4 bytes
// in 2.0 and 3.0), then an ASCII Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// padded with spaces and ending in '\n' so that the data starts at a multiple of 64 bytes,
// then the raw elements.
//
// Supported: versions 1.0, 2.0 (and 3.0, whose layout is that of 2.0 with a UTF-8 header);
// dtypes float32, float64, int32, int64, uint8 ('<f4' '<f8' '<i4' '<i8' '|u1'); C order; little
// endian (and Fortran order when at most one dimension exceeds 1: the same bytes). Left out, each
// rejected with an error naming the file: Fortran order, big-endian
// data, other dtypes (bool, float16, structured, object), pickled arrays.
// write_npy writes version 1.0 unless the header needs more than 65535 bytes (then 2.0), like
// numpy, always through write_file_atomic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace nidim {

struct NpyArray {
  DType dtype = DType::f32;    // f32, f64, i32, i64, u8
  std::vector<int64_t> shape;  // any rank (0-d too)
  std::vector<uint8_t> data;   // C order, little-endian, numel * dtype_size bytes
  int64_t numel() const;
};

// Throws nidim::Error naming the path and the problem.
NpyArray read_npy(const std::string& path);
// Parses the bytes of a whole .npy file; `name` is used in error messages.
NpyArray parse_npy(const uint8_t* bytes, size_t size, const std::string& name);

// Writes atomically. `data` holds numel(shape) elements of `dtype`, C order.
void write_npy(const std::string& path, const void* data, DType dtype,
               const std::vector<int64_t>& shape);
// `t` must be on the CPU.
void write_npy(const std::string& path, const Tensor& t);

// A CPU tensor with the array's shape and dtype; at most 4 dimensions, else an error naming
// the shape.
Tensor npy_to_tensor(const NpyArray& a);

// The header bytes (magic through the '\n') that write_npy puts before the data. `major` is 1 or
// 2 (0 chooses as write_npy does). Exposed for tests.
std::string npy_header(DType dtype, const std::vector<int64_t>& shape, int major = 0);

}  // namespace nidim
