// nidim/stats/priors.cpp: see priors.h.
#include "stats/priors.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "stats/special.h"

namespace nidim::stats {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}

Prior parse_prior(const std::string& name) {
  if (name == "gaussian") return Prior::kGaussian;
  if (name == "uniform") return Prior::kUniform;
  if (name == "laplace") return Prior::kLaplace;
  if (name == "logistic") return Prior::kLogistic;
  NIDIM_FAIL("unknown prior '{}': expected gaussian, uniform, laplace or logistic", name);
}

const char* prior_name(Prior p) {
  switch (p) {
    case Prior::kGaussian:
      return "gaussian";
    case Prior::kUniform:
      return "uniform";
    case Prior::kLaplace:
      return "laplace";
    case Prior::kLogistic:
      return "logistic";
  }
  return "?";
}

double prior_pdf(Prior p, double y) {
  switch (p) {
    case Prior::kGaussian:
      return normal_pdf(y);
    case Prior::kUniform:
      return (y >= 0 && y <= 1) ? 1.0 : 0.0;
    case Prior::kLaplace:
      return 0.5 * std::exp(-std::fabs(y));
    case Prior::kLogistic: {
      const double e = std::exp(-std::fabs(y));  // symmetric; stable for large |y|
      return e / ((1 + e) * (1 + e));
    }
  }
  return 0.0;
}

double prior_cdf(Prior p, double y) {
  switch (p) {
    case Prior::kGaussian:
      return normal_cdf(y);
    case Prior::kUniform:
      return std::min(1.0, std::max(0.0, y));
    case Prior::kLaplace:
      return y < 0 ? 0.5 * std::exp(y) : 1 - 0.5 * std::exp(-y);
    case Prior::kLogistic:
      return 1 / (1 + std::exp(-y));
  }
  return 0.0;
}

double prior_quantile(Prior p, double u) {
  switch (p) {
    case Prior::kGaussian:
      return normal_ppf(u);
    case Prior::kUniform:
      return u;
    case Prior::kLaplace:
      return u < 0.5 ? std::log(2 * u) : -std::log(2 * (1 - u));
    case Prior::kLogistic:
      return std::log(u / (1 - u));
  }
  return 0.0;
}

double prior_support_lo(Prior p) {
  return p == Prior::kUniform ? 0.0 : -kInf;
}
double prior_support_hi(Prior p) {
  return p == Prior::kUniform ? 1.0 : kInf;
}

PriorCoordinates to_prior_coordinates(Prior p, const double* y, int64_t count) {
  PriorCoordinates out;
  out.u.resize(static_cast<size_t>(count));
  out.z.resize(static_cast<size_t>(count));
  int64_t outside = 0, first_outside = -1;
  for (int64_t i = 0; i < count; ++i) {
    const double v = y[i];
    NIDIM_CHECK(std::isfinite(v), "change of variables ({}): value {} at index {} is not finite",
                prior_name(p), v, i);
    // u = F(v) and the upper tail s = 1 - F(v), each computed directly.
    double u = 0.5, s = 0.5;
    switch (p) {
      case Prior::kGaussian:
        out.u[i] = normal_cdf(v);
        out.z[i] = v;
        continue;
      case Prior::kUniform:
        if (v < 0.0 || v > 1.0) {
          if (outside++ == 0) first_outside = i;
        }
        u = std::min(1.0, std::max(0.0, v));
        s = 1.0 - u;
        break;
      case Prior::kLaplace:
        u = v < 0 ? 0.5 * std::exp(v) : 1 - 0.5 * std::exp(-v);
        s = v > 0 ? 0.5 * std::exp(-v) : 1 - 0.5 * std::exp(v);
        break;
      case Prior::kLogistic:
        u = 1 / (1 + std::exp(-v));
        s = 1 / (1 + std::exp(v));
        break;
    }
    out.u[i] = u;
    if (u < kPitClamp || s < kPitClamp) {
      ++out.clamped;
      out.z[i] = u < kPitClamp ? normal_ppf(kPitClamp) : normal_isf(kPitClamp);
    } else {
      out.z[i] = u <= 0.5 ? normal_ppf(u) : normal_isf(s);
    }
  }
  NIDIM_CHECK(outside == 0,
              "prior uniform: {} values are outside [0, 1] (first {} at index {}); are the "
              "embeddings from a uniform normalization?",
              outside, y[first_outside], first_outside);
  return out;
}

std::vector<double> sample_prior(Prior p, Generator& gen, int64_t count) {
  std::vector<double> out(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    if (p == Prior::kGaussian) {
      out[i] = gen.normal();
      continue;
    }
    double u = gen.uniform();  // [0, 1)
    if (p != Prior::kUniform) {
      while (u == 0.0) u = gen.uniform();  // keep the quantile finite
    }
    out[i] = prior_quantile(p, u);
  }
  return out;
}

}  // namespace nidim::stats
