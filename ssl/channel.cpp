// nidim/ssl/channel.cpp: see channel.h.
#include "ssl/channel.h"

#include <cmath>

#include "kernels/ops.h"

namespace nidim {

Prior parse_prior_name(const std::string& name) {
  if (name == "gaussian") return Prior::gaussian;
  if (name == "uniform") return Prior::uniform;
  if (name == "laplace") return Prior::laplace;
  if (name == "logistic") return Prior::logistic;
  NIDIM_FAIL("prior '{}': expected gaussian, uniform, laplace or logistic", name);
}

const char* prior_label(Prior p) {
  switch (p) {
    case Prior::gaussian:
      return "gaussian";
    case Prior::uniform:
      return "uniform";
    case Prior::laplace:
      return "laplace";
    case Prior::logistic:
      return "logistic";
  }
  return "?";
}

bool uniform_base(Prior p) {
  return p == Prior::uniform;
}

const char* noise_form_label(NoiseForm f) {
  switch (f) {
    case NoiseForm::additive:
      return "additive";
    case NoiseForm::variance_preserving:
      return "variance-preserving";
    case NoiseForm::rescaled:
      return "rescaled";
  }
  return "?";
}

NoiseForm parse_noise_form(const std::string& name) {
  if (name == "additive") return NoiseForm::additive;
  if (name == "vp" || name == "variance-preserving") return NoiseForm::variance_preserving;
  if (name == "rescaled") return NoiseForm::rescaled;
  NIDIM_FAIL("noise form '{}': expected additive, vp (gaussian) or rescaled (uniform)", name);
}

void ChannelSpec::validate() const {
  if (uniform_base(prior)) {
    NIDIM_CHECK(
        form != NoiseForm::variance_preserving,
        "noise form variance-preserving is for gaussian-based priors; the uniform prior takes "
        "additive (epsilon) or rescaled (p)");
  } else {
    NIDIM_CHECK(form != NoiseForm::rescaled,
                "noise form rescaled is for the uniform prior; {} takes "
                "additive (sigma) or vp (p)",
                prior_label(prior));
  }
  // A level of 0 would be no channel at all: its capacity is infinite and no certificate
  // exists. That run is --no-noise, which says so in its log.
  const char* zero =
      level == 0 ? " (no noise at all is --no-noise: no channel, no capacity, no certificate)" : "";
  if (form == NoiseForm::additive)
    NIDIM_CHECK(level > 0 && std::isfinite(level), "noise level --{} {} must be finite and > 0{}",
                uniform_base(prior) ? "epsilon" : "sigma", level, zero);
  else
    NIDIM_CHECK(level > 0 && level < 1, "noise level --p {} must be in (0, 1){}", level, zero);
}

double ChannelSpec::sigma() const {
  return form == NoiseForm::additive ? level : level / std::sqrt(1 - level * level);
}

double ChannelSpec::epsilon() const {
  return form == NoiseForm::additive ? level : level / (1 - level);
}

double ChannelSpec::p() const {
  if (form != NoiseForm::additive) return level;
  return uniform_base(prior) ? level / (1 + level) : level / std::sqrt(1 + level * level);
}

double ChannelSpec::capacity_per_dim() const {
  if (uniform_base(prior)) {
    const double e = epsilon();
    return std::log((1 + e) / e);
  }
  const double s = sigma();
  return 0.5 * std::log1p(1 / (s * s));
}

double ChannelSpec::uniform_ideal_per_dim() const {
  const double e = epsilon();
  return std::log(1 / e) + e / 2;
}

std::string ChannelSpec::describe() const {
  if (uniform_base(prior))
    return form == NoiseForm::additive
               ? fmt::format("uniform, additive U[0, eps] noise, eps = {:g}", level)
               : fmt::format("uniform, rescaled (1 - p) y + p u, p = {:g} (eps = {:g})", level,
                             epsilon());
  const std::string target =
      prior == Prior::gaussian ? "gaussian" : fmt::format("{} (gaussian base)", prior_label(prior));
  return form == NoiseForm::additive
             ? fmt::format("{}, additive noise sigma = {:g} (p = {:g})", target, level, p())
             : fmt::format("{}, variance-preserving p = {:g} (sigma = {:g})", target, level,
                           sigma());
}

std::string ChannelSpec::reference() const {
  // The rescaled channel is the additive one divided by 1 + eps, so its reference is the unit cube,
  // as the variance-preserving channel's is N(0, I).
  if (uniform_base(prior))
    return form == NoiseForm::additive ? fmt::format("U[0, {:g}]^d", 1 + epsilon()) : "U[0, 1]^d";
  if (form == NoiseForm::additive) return fmt::format("N(0, {:g} I)", 1 + level * level);
  return "N(0, I)";
}

Normalization::Normalization(int64_t dim, const ChannelSpec& spec)
    : Module("Normalization"), m_spec(spec) {
  if (!(uniform_base(spec.prior) && spec.squash == UniformSquash::sigmoid))
    m_bn = register_module("bn", std::make_shared<BatchNorm1d>(dim, 1e-5, 0.1, /*affine=*/false));
}

Tensor Normalization::forward(const Tensor& h) {
  if (!uniform_base(m_spec.prior)) return m_bn->forward(h);
  if (m_spec.squash == UniformSquash::sigmoid) return sigmoid(h);
  // Phi(x) = (1 + erf(x / sqrt 2)) / 2
  return (erf(m_bn->forward(h) * M_SQRT1_2) + 1.0) * 0.5;
}

Tensor apply_channel(const Tensor& y, const ChannelSpec& s, Generator& gen) {
  const Shape shape = y.shape();
  if (uniform_base(s.prior)) {
    Tensor u = rand(shape, gen, 0, 1, y.dtype(), y.device());
    return s.form == NoiseForm::additive ? y + u * s.level : y * (1 - s.level) + u * s.level;
  }
  Tensor eps = randn(shape, gen, 0, 1, y.dtype(), y.device());
  return s.form == NoiseForm::additive ? y + eps * s.level
                                       : y * std::sqrt(1 - s.level * s.level) + eps * s.level;
}

Tensor to_prior_coordinates(const Tensor& y, Prior prior) {
  if (prior == Prior::gaussian || prior == Prior::uniform) return y;
  NIDIM_CHECK(y.dtype() == DType::f32 && y.device().is_cpu(),
              "to_prior_coordinates: want float32 on the cpu, got {}", y.str());
  Tensor out = Tensor::empty(y.shape(), DType::f32);
  const float* src = y.data<float>();
  float* dst = out.data<float>();
  for (int64_t i = 0; i < y.numel(); ++i) {
    // u = Phi(y) and its complement, each from erfc so that both tails keep their precision.
    const double x = src[i];
    const double lower = 0.5 * std::erfc(-x * M_SQRT1_2), upper = 0.5 * std::erfc(x * M_SQRT1_2);
    double z;
    if (prior == Prior::laplace)  // F^-1(u) = log(2u) below the median, -log(2(1 - u)) above
      z = x < 0 ? std::log(2 * lower) : -std::log(2 * upper);
    else  // logistic: F^-1(u) = log(u / (1 - u))
      z = std::log(lower) - std::log(upper);
    dst[i] = static_cast<float>(z);
  }
  return out;
}

}  // namespace nidim
