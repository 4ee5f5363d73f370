// nidim/stats/priors.h: the target distributions an encoder is matched to, and the change of
// variables that brings each to N(0, 1) coordinates for the Gaussian tests (METHOD.md sections
// 4-5, 6).
//
// Priors, per coordinate, independent across coordinates:
//   gaussian  N(0, 1)
//   uniform   U[0, 1]
//   laplace   Laplace(0, 1): density e^{-|y|} / 2
//   logistic  Logistic(0, 1): density e^{-y} / (1 + e^{-y})^2
// For each, u = F(y) is uniform and z = Phi^{-1}(u) is standard normal when y follows the
// prior (the probability integral transform). z is computed from whichever tail keeps the
// precision (Phi^{-1}(F(y)) below the median, -Phi^{-1}(1 - F(y)) above).
//
// Uniform embeddings that are exactly 0 or 1 (float32 saturates where Phi(h) > 1 - 2^-25) would
// map to -inf or +inf; u is clamped to [2^-24, 1 - 2^-24] before Phi^{-1} (|z| <= 5.29) and the
// clamped values are counted. Left out: scale parameters (all priors are standard).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/random.h"

namespace nidim::stats {

enum class Prior { kGaussian, kUniform, kLaplace, kLogistic };

// "gaussian" | "uniform" | "laplace" | "logistic"; anything else throws nidim::Error naming
// the accepted values.
Prior parse_prior(const std::string& name);
const char* prior_name(Prior p);

double prior_pdf(Prior p, double y);
double prior_cdf(Prior p, double y);
double prior_quantile(Prior p, double u);
// The support's ends (-inf/inf, or 0/1 for uniform).
double prior_support_lo(Prior p);
double prior_support_hi(Prior p);

// The smallest distance from 0 and 1 that a uniform u keeps before Phi^{-1}.
constexpr double kPitClamp = 1.0 / 16777216.0;  // 2^-24

struct PriorCoordinates {
  std::vector<double> u;  // F(y), in [0, 1] (uniform: y clipped to [0, 1])
  std::vector<double> z;  // Phi^{-1}(F(y)), finite
  int64_t clamped = 0;    // values of u within kPitClamp of 0 or 1 (z is then +-5.29)
};

// The change of variables for `count` values of y (any layout; element-wise). For the uniform
// prior, values outside [0, 1] throw nidim::Error (they cannot come from a uniform
// normalization and suggest the wrong --prior); NaN or Inf throw as well.
PriorCoordinates to_prior_coordinates(Prior p, const double* y, int64_t count);

// `count` independent draws from the prior, by inversion of Generator::uniform (gaussian:
// Generator::normal).
std::vector<double> sample_prior(Prior p, Generator& gen, int64_t count);

}  // namespace nidim::stats
