// nidim/tests/test_inputs.h: seeded inputs for the op tables of the gradient checks
// (tests/kernels/test_gradcheck.cpp) and the CUDA parity tests (tests/cuda/test_parity.cpp),
// shaped to keep each op away from its kinks.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/random.h"
#include "kernels/ops.h"

namespace nidim::test {

// normal: N(0, 1); positive: 0.5 + |N(0, 1)| (log, sqrt, pow, div); away_from_zero: at least 0.1
// from 0 (relu, leaky_relu, abs); distinct: a seeded permutation of -n/2 .. n/2 in steps of 0.01
// (max, max_pool2d), plus distinct_jitter * tanh(N(0, 1)); labels10: integers 0..9.
enum class Values { normal, positive, away_from_zero, distinct, labels10 };

// A float64 tensor of `shape` with values of the kind asked, drawn from `gen`.
inline Tensor make_values(const Shape& shape, Values values, Generator& gen,
                          double distinct_jitter = 0) {
  Tensor x = randn(shape, gen, 0, 1, DType::f64);
  double* v = x.data<double>();
  const int64_t n = x.numel();
  switch (values) {
    case Values::normal:
      break;
    case Values::positive:
      for (int64_t i = 0; i < n; ++i) v[i] = 0.5 + std::fabs(v[i]);
      break;
    case Values::away_from_zero:
      for (int64_t i = 0; i < n; ++i) v[i] = v[i] >= 0 ? v[i] + 0.1 : v[i] - 0.1;
      break;
    case Values::distinct: {
      std::vector<int64_t> order(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
      for (int64_t i = n - 1; i > 0; --i)
        std::swap(order[static_cast<size_t>(i)],
                  order[gen.uniform_int(static_cast<uint64_t>(i + 1))]);
      for (int64_t i = 0; i < n; ++i)
        v[i] = 0.01 * static_cast<double>(order[static_cast<size_t>(i)] - n / 2) +
               distinct_jitter * std::tanh(v[i]);
      break;
    }
    case Values::labels10:
      for (int64_t i = 0; i < n; ++i) v[i] = static_cast<double>(gen.uniform_int(10));
      break;
  }
  return x;
}

}  // namespace nidim::test
