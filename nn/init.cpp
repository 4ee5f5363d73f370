// nidim/nn/init.cpp: see init.h.
#include "nn/init.h"

#include <cmath>

#include "kernels/ops.h"

namespace nidim {

int64_t fan_in(const Shape& s) {
  NIDIM_CHECK(s.ndim() >= 2, "fan_in: a weight has at least 2 dimensions, got {}", s);
  int64_t f = s[1];
  for (int k = 2; k < s.ndim(); ++k) f *= s[k];
  return f;
}

int64_t fan_out(const Shape& s) {
  NIDIM_CHECK(s.ndim() >= 2, "fan_out: a weight has at least 2 dimensions, got {}", s);
  int64_t f = s[0];
  for (int k = 2; k < s.ndim(); ++k) f *= s[k];
  return f;
}

Tensor kaiming_normal_fan_out(const Shape& shape, Generator& gen) {
  const double stddev = std::sqrt(2.0 / static_cast<double>(std::max<int64_t>(fan_out(shape), 1)));
  return randn(shape, gen, 0, stddev);
}

Tensor kaiming_uniform(const Shape& shape, double a, Generator& gen) {
  const double gain = std::sqrt(2.0 / (1.0 + a * a));
  const double bound =
      gain * std::sqrt(3.0 / static_cast<double>(std::max<int64_t>(fan_in(shape), 1)));
  return rand(shape, gen, -bound, bound);
}

Tensor bias_uniform(const Shape& shape, int64_t fan_in, Generator& gen) {
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  return rand(shape, gen, -bound, bound);
}

}  // namespace nidim
