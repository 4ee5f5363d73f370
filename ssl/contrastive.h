// nidim/ssl/contrastive.h: the SSL methods with noise injection (the paper's Table 1): what
// SimCLR and VICReg share, and their constructors.
//
// One step, for the two augmented views x1, x2 of a batch of B samples:
//   h = g(x)                     the backbone (ResNet-18: 512 features; "backbone." in the
//                                state dict, torchvision's names under it)
//   z = projector(h)             the method's projector ("projector.0.weight", ...), d outputs
//   y = n(z), y~ = channel(y)    with noise (the default): the prior's normalization (ssl/channel.h:
//                                affine-free batch-norm for the gaussian prior, the squash for the
//                                uniform one) and the channel, exactly as DIM; --no-noise: y~ = z
//                                (the plain method)
//   loss = method_loss(y~1, y~2) SimCLR's NT-Xent or VICReg's three terms
// plus the online linear probe (solo-learn's): "classifier", a Linear on the detached features
// of both views, trained alongside by its own SGD; it never changes the backbone (its input is
// detached). The backbone and projector are trained by LARS (solo-learn's, with lr clipping;
// biases and batch-norm parameters excluded from the trust ratio and weight decay) at
// lr * batch / 256, with a linear warm-up and a cosine decay per step; the probe's SGD follows
// the same schedule from --probe-lr. The exported embedding is y (eval mode, no noise), or z
// with --no-noise; features_{train,test}.npy hold h.
// Step scalars: "loss" (the method's, without the probe's), "probe_loss", "probe_top1" (on the
// step's two views), and the method's own (SimCLR "mi": log(2B - 1) - loss, the InfoNCE bound
// of the NT-Xent; VICReg "invariance", "variance", "covariance", unweighted).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "data/ssl_augment.h"
#include "nn/layers.h"
#include "nn/optim.h"
#include "ssl/channel.h"
#include "ssl/objective.h"

namespace nidim {

// backbone, projector, normalization (with noise only) and classifier, under those names.
class SslModel : public Module {
 public:
  SslModel(std::shared_ptr<Module> backbone, std::shared_ptr<Module> projector,
           std::shared_ptr<Normalization> normalization, std::shared_ptr<Linear> classifier);
  Module& backbone() { return *m_backbone; }
  Module& projector() { return *m_projector; }
  Normalization* normalization() { return m_normalization.get(); }
  Linear& classifier() { return *m_classifier; }

 private:
  std::shared_ptr<Module> m_backbone, m_projector;
  std::shared_ptr<Normalization> m_normalization;
  std::shared_ptr<Linear> m_classifier;
};

// The shared part of the SSL objectives; a method supplies its projector and its loss.
class SslObjective : public Objective {
 public:
  Module& model() override { return *m_model; }
  std::vector<std::pair<std::string, Optimizer*>> optimizers() override;
  std::shared_ptr<const TwoViews> views() const override { return m_views; }
  std::shared_ptr<const Augmentation> eval_transform() const override { return m_eval_transform; }
  StepScalars step(const Batch& batch, int64_t global_step, Generator& noise) override;
  void epoch_log(const std::map<std::string, double>& means, nlohmann::json& line) const override;
  std::string progress(const std::map<std::string, double>& step) const override;
  std::vector<std::string> start_notes() const override;
  std::pair<Tensor, Tensor> embed(const Tensor& x) override;
  int64_t embedding_dim() const override { return m_config.dim; }
  int64_t feature_dim() const override { return m_feature_dim; }
  void evaluate(const Tensor& train_features, const std::vector<int32_t>& train_labels,
                const Tensor& test_features, const std::vector<int32_t>& test_labels,
                nlohmann::json& line) override;
  SslModel& ssl_model() { return *m_model; }
  // The learning-rate factor of the schedule at 1-based `global_step`.
  double schedule(int64_t global_step) const;

 protected:
  // Draws, in this order, the backbone, the projector mlp_projector({features, hidden..., d})
  // and the classifier from `init`, and moves them to the device.
  SslObjective(const ObjectiveSetup& setup, Generator& init,
               const std::vector<int64_t>& projector_hidden);
  // The method's loss on the two views' (noisy) embeddings [B, d], and its scalars (named).
  virtual std::pair<Tensor, StepScalars> method_loss(const Tensor& a, const Tensor& b) = 0;
  // The method's keys in epoch lines and progress lines.
  virtual void method_log(const std::map<std::string, double>& means,
                          nlohmann::json& line) const = 0;
  virtual std::string method_progress(const std::map<std::string, double>& step) const = 0;
  const RunConfig& m_config;

 private:
  int64_t m_steps_per_epoch = 1;
  Device m_device;
  int64_t m_feature_dim = 0;
  std::unique_ptr<SslModel> m_model;
  std::unique_ptr<LARS> m_lars;
  std::unique_ptr<SGD> m_probe_sgd;
  std::shared_ptr<const TwoViews> m_views;
  std::shared_ptr<const Augmentation> m_eval_transform;
};

// The views' recipe of a run: --augment's preset (simclr_spec / vicreg_spec) with the data set's
// per-channel mean and std; the synthetic set gets the same numbers without normalization.
SslAugmentSpec ssl_views_spec(const RunConfig& config);

// The backbone of --encoder: resnet18 (512 features), convnet or mlp (--feature-dim), for
// images [C, H, W].
std::shared_ptr<Module> ssl_backbone(const RunConfig& config, int64_t channels, int64_t height,
                                     int64_t width, Generator& gen, int64_t* features);
// Linear - BatchNorm1d - ReLU - ... - Linear, numbered as a PyTorch nn.Sequential ("0", "1",
// ...): widths {in, hidden..., out}; batch-norm and ReLU after every layer but the last.
std::shared_ptr<Sequential> mlp_projector(const std::vector<int64_t>& widths, Generator& gen);

// The two methods (ssl/simclr.cpp, ssl/vicreg.cpp).
std::unique_ptr<Objective> make_simclr_objective(const ObjectiveSetup& setup, Generator& init);
std::unique_ptr<Objective> make_vicreg_objective(const ObjectiveSetup& setup, Generator& init);

// The losses, on embeddings of the two views a, b [B, d] (exposed for tests):
// SimCLR's NT-Xent over the 2B rows [a; b] with cosine similarity / temperature; row i's positive
// is its other view, the other 2B - 2 rows are its negatives; mean over the 2B rows.
Tensor nt_xent_loss(const Tensor& a, const Tensor& b, double temperature);
struct VicregTerms {
  Tensor invariance, variance, covariance;  // scalars, unweighted
};
// VICReg (Bardes et al., 2022, Algorithm 1): invariance = mean (a - b)^2; variance = (mean
// relu(1 - std(a)) + mean relu(1 - std(b))) / 2 with std = sqrt(var + 1e-4) over the batch
// (unbiased); covariance = (sum of off-diagonal cov(a)^2 + the same for b) / d, cov unbiased.
// off_diagonal [d, d]: 1 off the diagonal, 0 on it (vicreg_off_diagonal); undefined: made here.
VicregTerms vicreg_terms(const Tensor& a, const Tensor& b, const Tensor& off_diagonal = Tensor());
Tensor vicreg_off_diagonal(int64_t d, Device device);

}  // namespace nidim
