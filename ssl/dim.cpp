// nidim/ssl/dim.cpp: see dim.h.
#include "ssl/dim.h"

#include <cmath>

#include "core/json.h"
#include "core/nvtx.h"
#include "kernels/ops.h"

namespace nidim {

// ---- model ------------------------------------------------------------------------------------------

DimModel::DimModel(const RunConfig& c, int64_t channels, int64_t height, int64_t width,
                   Generator& gen)
    : Module("DimModel") {
  m_encoder = c.encoder == "convnet"
                  ? convnet_encoder(channels, height, width, c.dim, c.layer_order, gen)
                  : mlp_encoder(channels * height * width, c.mlp_hidden, c.dim, gen);
  register_module("encoder", m_encoder);
  m_normalization =
      register_module("normalization", std::make_shared<Normalization>(c.dim, c.channel));
  std::shared_ptr<Critic> critic;
  if (c.critic == "mlp") {
    critic = std::make_shared<JointMlpCritic>(c.dim, c.critic_hidden, gen, 0.01, c.tile_rows);
  } else if (c.critic == "gaussian") {
    critic =
        std::make_shared<GaussianKernelCritic>(c.kernel_bandwidth_used(), c.kernel_offset_used());
  } else {
    critic = std::make_shared<SeparableCritic>(
        c.dim, c.critic == "dot" ? Similarity::dot : Similarity::cosine, c.temperature, c.head_dim,
        gen);
  }
  m_critic = register_module("critic", critic);
}

Tensor DimModel::embed(const Tensor& x) {
  return m_normalization->forward(m_encoder->forward(x));
}

// ---- objective --------------------------------------------------------------------------------

namespace {

class DimObjective : public Objective {
 public:
  DimObjective(const ObjectiveSetup& s, Generator& init)
      : m_config(s.config), m_bound(s.config.bound, s.config.dv_ema), m_device(s.device) {
    m_model = std::make_unique<DimModel>(m_config, s.channels, s.height, s.width, init);
    m_model->to(m_device);  // before the optimizers, whose moments are made like the parameters
    AdamOptions enc;
    enc.lr = m_config.lr;
    AdamOptions crit;
    crit.lr = m_config.critic_lr;
    m_encoder_opt = std::make_unique<Adam>(m_model->encoder().parameters(), enc);
    std::vector<Tensor> critic_params = m_model->critic().parameters();
    if (!critic_params.empty()) m_critic_opt = std::make_unique<Adam>(critic_params, crit);
    // Colour images get SimCLR's augmentations, grey ones METHOD.md's (x, x + N(0, s^2)).
    m_views = s.channels == 3
                  ? std::make_shared<const TwoViews>(simclr_augment())
                  : std::make_shared<const TwoViews>(
                        nullptr, noise_augment(static_cast<float>(m_config.augment_sigma)));
  }

  Module& model() override { return *m_model; }
  std::vector<std::pair<std::string, Optimizer*>> optimizers() override {
    std::vector<std::pair<std::string, Optimizer*>> out = {{"encoder", m_encoder_opt.get()}};
    if (m_critic_opt) out.emplace_back("critic", m_critic_opt.get());
    return out;
  }
  std::shared_ptr<const TwoViews> views() const override { return m_views; }

  StepScalars step(const Batch& batch, int64_t, Generator& noise) override {
    m_model->train();
    Tensor a, b;
    {
      NIDIM_NVTX_RANGE("embed");
      a = m_model->embed(batch.images.to(m_device));
      b = m_model->embed(batch.images2.to(m_device));
      if (m_config.noise) {
        a = apply_channel(a, m_config.channel, noise);
        b = apply_channel(b, m_config.channel, noise);
      }
    }
    MiBound::Result r;
    {
      NIDIM_NVTX_RANGE("bound");
      r = m_bound.compute(m_model->critic(), a, b);
    }
    StepScalars out = {{"loss", r.loss.item_async()}, {"mi", r.estimate.item_async()}};
    m_encoder_opt->zero_grad();
    if (m_critic_opt) m_critic_opt->zero_grad();
    {
      NIDIM_NVTX_RANGE("backward");
      r.loss.backward(/*check_finite=*/false);  // the run checks the loss without a wait here
    }
    {
      NIDIM_NVTX_RANGE("optimizer");
      m_encoder_opt->step();
      if (m_critic_opt) m_critic_opt->step();
    }
    return out;
  }

  void epoch_log(const std::map<std::string, double>& means, nlohmann::json& line) const override {
    line["loss"] = means.at("loss");
    line["log_batch"] = std::log(static_cast<double>(m_config.batch));
    line["bound"] = bound_label(m_config.bound);
    log_certificate(m_config, means.at("mi"), line);
  }

  std::string progress(const std::map<std::string, double>& step) const override {
    return certificate_progress(m_config, step.at("mi"));
  }

  std::vector<std::string> start_notes() const override {
    const double log_b = std::log(static_cast<double>(m_config.batch));
    if (!m_config.noise)
      return {"no noise injected (--no-noise): plain DIM; no capacity, no certificate"};
    const double capacity = m_config.capacity();
    std::vector<std::string> notes = {fmt::format(
        "channel: {}; capacity {:.4f} nats ({:.4f} per dimension); certificate reference {}",
        m_config.channel.describe(), capacity, m_config.channel.capacity_per_dim(),
        m_config.channel.reference())};
    if (m_config.bound == BoundKind::infonce && log_b <= capacity)
      notes.push_back(fmt::format(
          "warning: InfoNCE cannot exceed log B = {:.3f} nats, which is not above the "
          "capacity {:.3f}: "
          "the KL bound cannot get below {:.3f}; use a larger --batch or more noise",
          log_b, capacity, capacity - log_b));
    return notes;
  }

  std::string nonfinite_hint(int64_t global_step) const override {
    std::string hint;
    if (m_config.bound == BoundKind::nwj) {
      hint = "with --bound nwj a critic score above ~89 overflows exp(score - 1) in float32: ";
      hint += m_config.critic == "dot" || m_config.critic == "cosine"
                  ? "a larger --temperature, or --bound infonce"
                  : "--bound infonce or dv";
    }
    if (global_step > 1)
      hint += fmt::format("{}a smaller --lr{}?", hint.empty() ? "" : "; or ",
                          m_config.critic_has_parameters() ? " or --critic-lr" : "");
    return hint;
  }

  std::pair<Tensor, Tensor> embed(const Tensor& x) override { return {m_model->embed(x), {}}; }
  int64_t embedding_dim() const override { return m_config.dim; }

  void save_state(nlohmann::json& state) const override {
    const double m = m_bound.log_moving_average();
    state["dv_log_moving_average"] = std::isnan(m) ? nlohmann::json(nullptr) : nlohmann::json(m);
  }
  void load_state(const nlohmann::json& state) override {
    const std::string key = "dv_log_moving_average";
    if (!state.contains(key) || !state[key].is_null())  // null: no average yet (NaN)
      m_bound.set_log_moving_average(json_double(state, key, "nidim_state"));
  }

 private:
  const RunConfig& m_config;
  MiBound m_bound;
  Device m_device;
  std::unique_ptr<DimModel> m_model;
  std::unique_ptr<Adam> m_encoder_opt, m_critic_opt;
  std::shared_ptr<const TwoViews> m_views;
};

}  // namespace

std::unique_ptr<Objective> make_dim_objective(const ObjectiveSetup& setup, Generator& init) {
  return std::make_unique<DimObjective>(setup, init);
}

}  // namespace nidim
