// nidim/core/shape.h: the dimensions of a tensor, at most four (N, C, H, W).
//
// A 0-dimensional shape is a scalar with one element. Dimensions are int64_t; negative axes
// count from the end, as in numpy. Every partial product of the dimensions (as numel() forms
// them, left to right) fits in int64_t: [2^32, 2^31, 0] has no elements but is refused, since
// its first two multiply past 2^63.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"

namespace nidim {

constexpr int max_dims = 4;

class Shape {
 public:
  Shape() = default;  // scalar
  Shape(std::initializer_list<int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<int64_t>& dims) {
    assign(dims.data(), dims.data() + dims.size());
  }

  int ndim() const { return m_ndim; }
  int64_t operator[](int i) const { return m_dims[i]; }
  int64_t& operator[](int i) { return m_dims[i]; }
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < m_ndim; ++i) n *= m_dims[i];
    return n;
  }
  // Size of dimension `axis`, which may be negative; throws when out of range.
  int64_t size(int axis) const { return m_dims[normalize_axis(axis)]; }
  int normalize_axis(int axis) const {
    int a = axis < 0 ? axis + m_ndim : axis;
    NIDIM_CHECK(a >= 0 && a < m_ndim, "axis {} out of range for shape {}", axis, str());
    return a;
  }
  std::vector<int64_t> dims() const { return std::vector<int64_t>(m_dims, m_dims + m_ndim); }
  bool operator==(const Shape& o) const {
    if (m_ndim != o.m_ndim) return false;
    for (int i = 0; i < m_ndim; ++i)
      if (m_dims[i] != o.m_dims[i]) return false;
    return true;
  }
  bool operator!=(const Shape& o) const { return !(*this == o); }
  // "[2, 3]"; "[]" for a scalar.
  std::string str() const { return dims_str(m_dims, m_dims + m_ndim); }

 private:
  template <class It>
  static std::string dims_str(It begin, It end) {
    std::string s = "[";
    for (It it = begin; it != end; ++it) s += (it != begin ? ", " : "") + std::to_string(*it);
    return s + "]";
  }
  template <class It>
  void assign(It begin, It end) {
    NIDIM_CHECK(end - begin <= max_dims, "a shape has at most {} dimensions, got {}", max_dims,
                end - begin);
    m_ndim = 0;
    int64_t product = 1;
    for (It it = begin; it != end; ++it) {
      NIDIM_CHECK(*it >= 0, "negative dimension {} in a shape", *it);
      NIDIM_CHECK(*it == 0 || product <= std::numeric_limits<int64_t>::max() / *it,
                  "shape {}: the product of its dimensions overflows int64", dims_str(begin, end));
      product *= *it;
      m_dims[m_ndim++] = *it;
    }
    for (int i = m_ndim; i < max_dims; ++i) m_dims[i] = 1;
  }
  int64_t m_dims[max_dims] = {1, 1, 1, 1};
  int m_ndim = 0;
};

}  // namespace nidim

template <>
struct fmt::formatter<nidim::Shape> : fmt::formatter<std::string> {
  auto format(const nidim::Shape& s, fmt::format_context& ctx) const {
    return fmt::formatter<std::string>::format(s.str(), ctx);
  }
};
