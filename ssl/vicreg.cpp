// nidim/ssl/vicreg.cpp: VICReg (Bardes, Ponce, LeCun, 2022) with noise injection,
// --method vicreg.
//
// Projector Linear(F, 2048) - BN - ReLU - Linear(2048, 2048) - BN - ReLU - Linear(2048, d) with
// d = 2048 (train_dim's default for the method); loss 25 * invariance + 25 * variance +
// 1 * covariance (--vicreg-weights), the terms as vicreg_terms (contrastive.h) computes them on
// the two views' noisy embeddings. VICReg has no mutual-information estimate: its epoch lines
// log the three terms, and no certificate.
#include "kernels/ops.h"
#include "ssl/contrastive.h"

namespace nidim {

Tensor vicreg_off_diagonal(int64_t d, Device device) {
  std::vector<float> mask(static_cast<size_t>(d * d), 1.0f);
  for (int64_t i = 0; i < d; ++i) mask[static_cast<size_t>(i * d + i)] = 0.0f;
  return Tensor::from_host(mask.data(), {d, d}, DType::f32, device);
}

VicregTerms vicreg_terms(const Tensor& a, const Tensor& b, const Tensor& mask) {
  NIDIM_CHECK(a.ndim() == 2 && a.shape() == b.shape() && a.size(0) >= 2,
              "vicreg_terms: views must be [B, d] of the same shape with B >= 2, got {} and {}",
              a.shape().str(), b.shape().str());
  const int64_t n = a.size(0), d = a.size(1);
  const Tensor off_diagonal = mask.defined() ? mask : vicreg_off_diagonal(d, a.device());
  NIDIM_CHECK(off_diagonal.shape() == Shape({d, d}),
              "vicreg_terms: the off-diagonal mask is {}, the embedding has d = {}",
              off_diagonal.shape().str(), d);
  VicregTerms t;
  t.invariance = mse_loss(a, b);
  Tensor variance, covariance;
  for (const Tensor* x : {&a, &b}) {
    Tensor centred = *x - mean(*x, 0, /*keepdim=*/true);
    Tensor var = sum(centred * centred, 0) / static_cast<double>(n - 1);
    Tensor hinge = mean(relu(1.0 - sqrt(var + 1e-4)));
    Tensor cov = matmul(centred, centred, /*trans_a=*/true) / static_cast<double>(n - 1);
    Tensor off = cov * off_diagonal;
    Tensor c = sum(off * off) / static_cast<double>(d);
    variance = variance.defined() ? variance + hinge : hinge;
    covariance = covariance.defined() ? covariance + c : c;
  }
  t.variance = variance * 0.5;
  t.covariance = covariance;
  return t;
}

namespace {

class VicregObjective : public SslObjective {
 public:
  VicregObjective(const ObjectiveSetup& setup, Generator& init)
      : SslObjective(setup, init,
                     {setup.config.projector_hidden, setup.config.projector_hidden}) {}

 protected:
  std::pair<Tensor, StepScalars> method_loss(const Tensor& a, const Tensor& b) override {
    // The mask is d x d (16 MiB at d = 2048): made once, not copied to the device every step.
    if (!m_off_diagonal.defined()) m_off_diagonal = vicreg_off_diagonal(a.size(1), a.device());
    const VicregTerms t = vicreg_terms(a, b, m_off_diagonal);
    Tensor loss = t.invariance * m_config.vicreg_invariance +
                  t.variance * m_config.vicreg_variance +
                  t.covariance * m_config.vicreg_covariance;
    return {loss,
            {{"invariance", t.invariance.item_async()},
             {"variance", t.variance.item_async()},
             {"covariance", t.covariance.item_async()}}};
  }

  void method_log(const std::map<std::string, double>& means,
                  nlohmann::json& line) const override {
    for (const char* k : {"invariance", "variance", "covariance"}) line[k] = means.at(k);
    line["certificate_not_applicable"] =
        "VICReg has no mutual-information estimate (its loss is no InfoMax bound)";
  }

  std::string method_progress(const std::map<std::string, double>& step) const override {
    return fmt::format("inv {:.4f}  var {:.4f}  cov {:.4f}", step.at("invariance"),
                       step.at("variance"), step.at("covariance"));
  }

 private:
  Tensor m_off_diagonal;
};

}  // namespace

std::unique_ptr<Objective> make_vicreg_objective(const ObjectiveSetup& setup, Generator& init) {
  return std::make_unique<VicregObjective>(setup, init);
}

}  // namespace nidim
