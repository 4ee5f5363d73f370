// nidim/ssl/contrastive.cpp: see contrastive.h. What SimCLR and VICReg share.
#include "ssl/contrastive.h"

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/nvtx.h"
#include "kernels/ops.h"
#include "data/ssl_augment.h"
#include "ssl/encoders.h"

namespace nidim {

SslAugmentSpec ssl_views_spec(const RunConfig& c) {
  const bool known = c.data.name == "cifar10" || c.data.name == "cifar100" ||
                     c.data.name == "mnist" || c.data.name == "fashion-mnist";
  if (known) return c.augment == "vicreg" ? vicreg_spec(c.data.name) : simclr_spec(c.data.name);
  // The synthetic set (tests) has no published statistics: the recipe without normalization.
  SslAugmentSpec spec;  // SimCLR's numbers
  if (c.augment == "vicreg") {
    spec.crop_scale_min = 0.2f;  // what vicreg_spec changes
    spec.solarize_p = 0.1f;
  }
  return spec;
}

SslModel::SslModel(std::shared_ptr<Module> backbone, std::shared_ptr<Module> projector,
                   std::shared_ptr<Normalization> normalization, std::shared_ptr<Linear> classifier)
    : Module("SslModel"),
      m_backbone(std::move(backbone)),
      m_projector(std::move(projector)),
      m_normalization(std::move(normalization)),
      m_classifier(std::move(classifier)) {
  register_module("backbone", m_backbone);
  register_module("projector", m_projector);
  if (m_normalization) register_module("normalization", m_normalization);
  register_module("classifier", m_classifier);
}

std::shared_ptr<Module> ssl_backbone(const RunConfig& c, int64_t channels, int64_t height,
                                     int64_t width, Generator& gen, int64_t* features) {
  if (c.encoder == "resnet18") {
    *features = 512;
    return resnet18_encoder(channels, parse_resnet_stem(c.resnet_stem), gen);
  }
  *features = c.feature_dim;
  if (c.encoder == "convnet")
    return convnet_encoder(channels, height, width, c.feature_dim, c.layer_order, gen);
  return mlp_encoder(channels * height * width, c.mlp_hidden, c.feature_dim, gen);
}

std::shared_ptr<Sequential> mlp_projector(const std::vector<int64_t>& widths, Generator& gen) {
  NIDIM_CHECK(widths.size() >= 2, "projector: needs at least an input and an output width");
  auto net = std::make_shared<Sequential>();
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    net->add(std::make_shared<Linear>(widths[i], widths[i + 1], true, gen));
    if (i + 2 < widths.size())
      net->add(std::make_shared<BatchNorm1d>(widths[i + 1])).add(std::make_shared<ReLU>());
  }
  return net;
}

SslObjective::SslObjective(const ObjectiveSetup& setup, Generator& init,
                           const std::vector<int64_t>& projector_hidden)
    : m_config(setup.config), m_steps_per_epoch(setup.steps_per_epoch), m_device(setup.device) {
  NIDIM_CHECK(setup.classes >= 1, "the online probe needs labelled data (got {} classes)",
              setup.classes);
  auto backbone =
      ssl_backbone(m_config, setup.channels, setup.height, setup.width, init, &m_feature_dim);
  std::vector<int64_t> widths = {m_feature_dim};
  widths.insert(widths.end(), projector_hidden.begin(), projector_hidden.end());
  widths.push_back(m_config.dim);
  auto projector = mlp_projector(widths, init);
  auto classifier = std::make_shared<Linear>(m_feature_dim, setup.classes, true, init);
  m_model = std::make_unique<SslModel>(
      backbone, projector,
      m_config.noise ? std::make_shared<Normalization>(m_config.dim, m_config.channel) : nullptr,
      classifier);
  m_model->to(m_device);  // before the optimizers, whose state is made like the parameters
  std::vector<Tensor> trained = m_model->backbone().parameters();
  for (const Tensor& t : m_model->projector().parameters()) trained.push_back(t);
  LarsOptions lo;
  lo.lr = m_config.scaled_lr();
  lo.momentum = 0.9;
  lo.weight_decay = m_config.weight_decay;
  lo.eta = m_config.lars_eta;
  lo.exclude_1d = true;
  lo.style = LarsStyle::solo_learn;
  lo.clip = true;  // solo-learn's clip_lars_lr
  m_lars = std::make_unique<LARS>(trained, lo);
  SgdOptions so;
  so.lr = m_config.probe_lr;
  so.momentum = 0.9;
  m_probe_sgd = std::make_unique<SGD>(m_model->classifier().parameters(), so);
  const SslAugmentSpec spec = ssl_views_spec(m_config);
  m_views = ssl_two_views(spec);
  m_eval_transform = ssl_eval_transform(spec);
}

std::vector<std::pair<std::string, Optimizer*>> SslObjective::optimizers() {
  return {{"lars", m_lars.get()}, {"probe", m_probe_sgd.get()}};
}

double SslObjective::schedule(int64_t global_step) const {
  const int64_t total = m_config.epochs * m_steps_per_epoch;
  return warmup_cosine(global_step, m_config.warmup_epochs * m_steps_per_epoch, total);
}

StepScalars SslObjective::step(const Batch& batch, int64_t global_step, Generator& noise) {
  m_model->train();
  const double f = schedule(global_step);
  m_lars->set_lr(m_config.scaled_lr() * f);
  m_probe_sgd->set_lr(m_config.probe_lr * f);
  Tensor x1 = batch.images.to(m_device), x2 = batch.images2.to(m_device);
  Tensor h1, h2, a, b;
  {
    NIDIM_NVTX_RANGE("embed");
    h1 = m_model->backbone()(x1);
    h2 = m_model->backbone()(x2);
    a = m_model->projector()(h1);
    b = m_model->projector()(h2);
    if (m_config.noise) {
      a = apply_channel((*m_model->normalization())(a), m_config.channel, noise);
      b = apply_channel((*m_model->normalization())(b), m_config.channel, noise);
    }
  }
  auto [loss, scalars] = method_loss(a, b);
  // The online probe: both views' features, detached, so its loss reaches the classifier only.
  Tensor features = concat({h1.detach(), h2.detach()}, 0);
  Tensor labels = batch.labels.to(m_device);
  labels = concat({labels, labels}, 0);
  Tensor logits = m_model->classifier()(features);
  Tensor probe_loss = cross_entropy(logits, labels);
  // Top-1 on the device without a readback: the arg-max and the label are whole numbers, so
  // relu(1 - |pred - label|) is exactly 1 when they agree and 0 otherwise.
  Tensor predicted = cast(max_with_index(logits, 1).second, DType::f32);
  Tensor top1 = mean(relu(1.0 - abs(predicted - cast(labels, DType::f32))));
  StepScalars out = {{"loss", loss.item_async()}};
  for (auto& s : scalars) out.push_back(std::move(s));
  out.emplace_back("probe_loss", probe_loss.item_async());
  out.emplace_back("probe_top1", top1.item_async());
  m_lars->zero_grad();
  m_probe_sgd->zero_grad();
  {
    NIDIM_NVTX_RANGE("backward");
    (loss + probe_loss).backward(/*check_finite=*/false);  // the run checks the scalars
  }
  {
    NIDIM_NVTX_RANGE("optimizer");
    m_lars->step();
    m_probe_sgd->step();
  }
  return out;
}

void SslObjective::epoch_log(const std::map<std::string, double>& means,
                             nlohmann::json& line) const {
  line["loss"] = means.at("loss");
  line["probe_loss"] = means.at("probe_loss");
  line["probe_train_top1"] = means.at("probe_top1");  // on the augmented views, as trained
  line["lr"] = m_lars->lr();
  method_log(means, line);
}

std::string SslObjective::progress(const std::map<std::string, double>& step) const {
  return fmt::format("{}  probe {:.3f}", method_progress(step), step.at("probe_top1"));
}

std::vector<std::string> SslObjective::start_notes() const {
  std::vector<std::string> notes;
  if (m_config.noise)
    notes.push_back(fmt::format(
        "channel: {}; capacity {:.4f} nats ({:.4f} per dimension) for the {}-d embedding; "
        "certificate reference {}",
        m_config.channel.describe(), m_config.capacity(), m_config.channel.capacity_per_dim(),
        m_config.dim, m_config.channel.reference()));
  else
    notes.push_back(fmt::format("no noise injected (--no-noise): plain {}", m_config.method));
  // SimCLR's estimate is an InfoNCE bound with 2B - 1 candidates: it never exceeds log(2B - 1).
  const double ceiling = std::log(2.0 * static_cast<double>(m_config.batch) - 1.0);
  if (m_config.method == "simclr" && m_config.noise && ceiling <= m_config.capacity())
    notes.push_back(fmt::format(
        "warning: the NT-Xent estimate cannot exceed log(2B - 1) = {:.3f} nats, not above the "
        "capacity {:.3f} of the {}-d embedding: the certificate C - I cannot get below {:.3f} "
        "(more noise, a smaller --dim or a larger --batch narrow the gap)",
        ceiling, m_config.capacity(), m_config.dim, m_config.capacity() - ceiling));
  notes.push_back(fmt::format(
      "{} backbone ({} features), LARS lr {} (= {} x batch {} / 256), {} warm-up epoch(s) then "
      "cosine; online probe SGD lr {}",
      m_config.encoder, m_feature_dim, m_config.scaled_lr(), m_config.lr, m_config.batch,
      m_config.warmup_epochs, m_config.probe_lr));
  return notes;
}

std::pair<Tensor, Tensor> SslObjective::embed(const Tensor& x) {
  Tensor h = m_model->backbone()(x);
  Tensor z = m_model->projector()(h);
  if (m_config.noise) z = (*m_model->normalization())(z);
  return {z, h};
}

void SslObjective::evaluate(const Tensor& train_features, const std::vector<int32_t>& train_labels,
                            const Tensor& test_features, const std::vector<int32_t>& test_labels,
                            nlohmann::json& line) {
  NoGradGuard no_grad;
  auto top1 = [&](const Tensor& features, const std::vector<int32_t>& labels) {
    int64_t correct = 0;
    const int64_t n = features.shape()[0], chunk = 4096;
    for (int64_t start = 0; start < n; start += chunk) {
      const int64_t m = std::min(chunk, n - start);
      Tensor logits = m_model->classifier()(features.rows(start, start + m).to(m_device));
      const std::vector<int64_t> predicted =
          max_with_index(logits, 1).second.to(Device::cpu()).to_vector<int64_t>();
      for (int64_t i = 0; i < m; ++i) correct += predicted[i] == labels[start + i];
    }
    return static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(n, 1));
  };
  line["probe_train_top1"] = top1(train_features, train_labels);
  line["probe_test_top1"] = top1(test_features, test_labels);
}

}  // namespace nidim
