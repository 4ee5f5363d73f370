// nidim/ssl/channel.h: the method's normalization n and noise channel (METHOD.md §3-§5), their
// capacity and the prior's change of variables.
//
// Targets ("priors") and how each is reached:
//   gaussian   n = batch-norm without affine parameters; channel y + sigma*eps (additive) or
//              sqrt(1 - p^2) y + p*eps (variance-preserving), eps ~ N(0, I)
//   uniform    n = Phi(BN(h)) (default) or sigmoid(h), into [0, 1]; channel y + eps*u (additive)
//              or (1 - p) y + p*u (rescaled), u ~ U[0, 1]^d
//   laplace,   trained exactly as gaussian; the exported embedding is F^-1(Phi(y)) with F the
//   logistic   standard Laplace(0, 1) or Logistic(0, 1) distribution function (§5: a
//              coordinate-wise bijection keeps the KL divergence, so the certificate carries over)
// Capacity per coordinate, in nats (an upper bound on I(y~; y') per dimension):
//   gaussian  C = (1/2) log(1 + 1/sigma^2) = -log p      with sigma = p / sqrt(1 - p^2)
//   uniform   C = log((1 + eps) / eps)     = -log p      with eps = p / (1 - p)
// Certificate: KL(P_y~ || reference) <= d*C - I(y~; y'), estimated as d*C - I_hat. References:
// N(0, (1 + sigma^2) I) (additive), N(0, I) (variance-preserving), U[0, 1 + eps]^d (uniform
// additive), U[0, 1]^d (rescaled: the additive channel divided by 1 + eps; KL is scale-invariant).
// Noise is drawn only in training, from the channel's Philox generator.
#pragma once

#include <string>

#include "core/random.h"
#include "core/tensor.h"
#include "nn/layers.h"

namespace nidim {

enum class Prior { gaussian, uniform, laplace, logistic };
enum class NoiseForm { additive, variance_preserving, rescaled };
enum class UniformSquash { phi, sigmoid };

Prior parse_prior_name(const std::string& name);  // throws naming the accepted values
const char* prior_label(Prior p);
// The distribution the normalization and channel target: uniform for uniform, else gaussian.
bool uniform_base(Prior p);

struct ChannelSpec {
  Prior prior = Prior::gaussian;
  NoiseForm form = NoiseForm::variance_preserving;
  double level = 0.0995;  // sigma (gaussian additive), eps (uniform additive), or p
  UniformSquash squash = UniformSquash::phi;

  // Checks the combination (e.g. rescaled is uniform only) and the level's range; throws
  // naming the flag values.
  void validate() const;
  double sigma() const;             // gaussian: the additive-equivalent noise scale
  double epsilon() const;           // uniform: the additive-equivalent noise width
  double p() const;                 // the variance-preserving / rescaled parameter
  double capacity_per_dim() const;  // nats
  // Uniform only: d * this is I(y~; y') when y is exactly uniform (METHOD.md §4).
  double uniform_ideal_per_dim() const;
  std::string describe() const;   // "gaussian, variance-preserving p = 0.0995 (sigma = 0.1)"
  std::string reference() const;  // the certificate's reference distribution, in words
};

const char* noise_form_label(NoiseForm f);
NoiseForm parse_noise_form(const std::string& name);

// n: h [B, d] -> y [B, d]; a batch-norm without affine parameters ("normalization.bn" in the
// state dict) for the gaussian base and Phi(BN(h)) for the uniform one, or sigmoid(h).
class Normalization : public Module {
 public:
  Normalization(int64_t dim, const ChannelSpec& spec);
  Tensor forward(const Tensor& h) override;

 private:
  ChannelSpec m_spec;
  std::shared_ptr<BatchNorm1d> m_bn;
};

// The channel: y -> y~ (training only; the caller decides when to apply it).
Tensor apply_channel(const Tensor& y, const ChannelSpec& spec, Generator& gen);

// The exported embedding in the prior's coordinates (laplace/logistic: F^-1(Phi(y))); y itself
// for gaussian and uniform. y [N, d] float32 on the CPU.
Tensor to_prior_coordinates(const Tensor& y, Prior prior);

}  // namespace nidim
