// nidim/ssl/simclr.cpp: SimCLR (Chen et al., 2020) with noise injection, --method simclr.
//
// Projector Linear(F, 2048) - BN - ReLU - Linear(2048, d) with d = 256 (train_dim's default for
// the method); loss NT-Xent with cosine similarity at temperature 0.2 (--temperature) over the
// 2B noisy embeddings. The NT-Xent is an InfoNCE bound with 2B - 1 candidates per row, so
// log(2B - 1) - loss estimates I(y~; y~') and C - that estimate is the certificate, as in DIM.
#include <cmath>

#include "kernels/ops.h"
#include "ssl/contrastive.h"

namespace nidim {

Tensor nt_xent_loss(const Tensor& a, const Tensor& b, double temperature) {
  NIDIM_CHECK(a.ndim() == 2 && a.shape() == b.shape() && a.size(0) >= 2,
              "nt_xent_loss: views must be [B, d] of the same shape with B >= 2, got {} and {}",
              a.shape().str(), b.shape().str());
  // The fused op: rows normalized inside (cosine), similarities tile by tile, no [2B, 2B] tensor
  // kept for the backward (kernels/cpu/ntxent.cpp, kernels/cuda/ntxent.cu).
  return nt_xent(concat({a, b}, 0), temperature);
}

namespace {

class SimclrObjective : public SslObjective {
 public:
  SimclrObjective(const ObjectiveSetup& setup, Generator& init)
      : SslObjective(setup, init, {setup.config.projector_hidden}) {}

 protected:
  std::pair<Tensor, StepScalars> method_loss(const Tensor& a, const Tensor& b) override {
    Tensor loss = nt_xent_loss(a, b, m_config.temperature);
    const double log_candidates = std::log(2.0 * static_cast<double>(a.size(0)) - 1.0);
    Tensor mi = log_candidates - loss.detach();
    return {loss, {{"mi", mi.item_async()}}};
  }

  void method_log(const std::map<std::string, double>& means,
                  nlohmann::json& line) const override {
    line["log_candidates"] = std::log(2.0 * static_cast<double>(m_config.batch) - 1.0);
    log_certificate(m_config, means.at("mi"), line);
  }

  std::string method_progress(const std::map<std::string, double>& step) const override {
    return certificate_progress(m_config, step.at("mi"));
  }
};

}  // namespace

std::unique_ptr<Objective> make_simclr_objective(const ObjectiveSetup& setup, Generator& init) {
  return std::make_unique<SimclrObjective>(setup, init);
}

}  // namespace nidim
