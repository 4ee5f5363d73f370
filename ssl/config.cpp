// nidim/ssl/config.cpp: see config.h.
#include "ssl/config.h"

#include <algorithm>
#include <cmath>

#include "core/cuda_runtime.h"
#include "core/error.h"
#include "core/json.h"
#include "ssl/contrastive.h"

namespace nidim {

using json = nlohmann::json;

std::vector<std::string> method_names() {
  return {"dim", "simclr", "vicreg"};
}

void RunConfig::validate() const {
  const std::vector<std::string> methods = method_names();
  NIDIM_CHECK(std::find(methods.begin(), methods.end(), method) != methods.end(),
              "--method '{}': expected dim, simclr or vicreg", method);
  if (noise) channel.validate();
  NIDIM_CHECK(dim >= 1, "--dim must be >= 1, got {}", dim);
  NIDIM_CHECK(batch >= 2, "--batch must be >= 2 (InfoNCE contrasts pairs), got {}", batch);
  NIDIM_CHECK(epochs >= 1 && epochs <= 1000000000, "--epochs must be in [1, 10^9], got {}", epochs);
  NIDIM_CHECK(lr > 0 && critic_lr > 0 && std::isfinite(lr) && std::isfinite(critic_lr),
              "learning rates must be finite and > 0, got --lr {} --critic-lr {}", lr, critic_lr);
  NIDIM_CHECK(augment_sigma >= 0 && std::isfinite(augment_sigma),
              "--augment-sigma must be finite and >= 0, got {}", augment_sigma);
  NIDIM_CHECK(encoder == "convnet" || encoder == "mlp" || encoder == "resnet18",
              "--encoder '{}': expected convnet or mlp (or resnet18, the SSL methods' backbone)",
              encoder);
  NIDIM_CHECK(!(encoder == "resnet18" && method == "dim"),
              "--encoder resnet18 is the SSL methods' backbone (--method simclr or vicreg); DIM's "
              "encoders are convnet and mlp");
  NIDIM_CHECK(resnet_stem == "cifar" || resnet_stem == "imagenet",
              "--resnet-stem '{}': expected cifar or imagenet", resnet_stem);
  NIDIM_CHECK(feature_dim >= 1 && feature_dim <= (int64_t(1) << 24),
              "--feature-dim must be in [1, 2^24], got {}", feature_dim);
  NIDIM_CHECK(projector_hidden >= 1 && projector_hidden <= (int64_t(1) << 24),
              "--projector-hidden must be in [1, 2^24], got {}", projector_hidden);
  NIDIM_CHECK(weight_decay >= 0 && std::isfinite(weight_decay),
              "--weight-decay must be finite and >= 0, got {}", weight_decay);
  NIDIM_CHECK(lars_eta > 0 && std::isfinite(lars_eta), "--lars-eta must be finite and > 0, got {}",
              lars_eta);
  NIDIM_CHECK(warmup_epochs >= 0 && warmup_epochs <= 1000000000,
              "--warmup-epochs must be in [0, 10^9], got {}", warmup_epochs);
  NIDIM_CHECK(probe_lr > 0 && std::isfinite(probe_lr), "--probe-lr must be finite and > 0, got {}",
              probe_lr);
  NIDIM_CHECK(augment.empty() || augment == "simclr" || augment == "vicreg",
              "--augment '{}': expected simclr or vicreg", augment);
  NIDIM_CHECK(!ssl() || !augment.empty(), "--method {}: the views' recipe (--augment) is missing",
              method);
  for (double w : {vicreg_invariance, vicreg_variance, vicreg_covariance})
    NIDIM_CHECK(w >= 0 && std::isfinite(w),
                "--vicreg-weights: each weight must be finite and >= 0, got {}", w);
  NIDIM_CHECK(critic == "mlp" || critic == "dot" || critic == "cosine" || critic == "gaussian",
              "--critic '{}': expected mlp, dot, cosine or gaussian", critic);
  for (int64_t w : mlp_hidden)
    NIDIM_CHECK(w >= 1 && w <= (int64_t(1) << 24),
                "--mlp-hidden: widths must be in [1, 2^24], got {}", w);
  NIDIM_CHECK(critic_hidden >= 1, "--critic-hidden must be >= 1, got {}", critic_hidden);
  NIDIM_CHECK(head_dim >= 0, "--head-dim must be >= 0 (0: no projection heads), got {}", head_dim);
  NIDIM_CHECK(temperature > 0 && std::isfinite(temperature),
              "--temperature must be finite and > 0, got {}", temperature);
  NIDIM_CHECK(kernel_bandwidth >= 0 && std::isfinite(kernel_bandwidth),
              "--kernel-bandwidth must be finite and >= 0, got {}", kernel_bandwidth);
  NIDIM_CHECK(critic != "gaussian" || noise,
              "--critic gaussian is the dual form of Gaussian matching with noise; it has no "
              "bandwidth without it (--no-noise)");
  NIDIM_CHECK(critic != "gaussian" || !uniform_base(channel.prior),
              "--critic gaussian is the dual form of Gaussian matching; use it with a "
              "gaussian-based prior");
  NIDIM_CHECK(eval_every >= 0 && checkpoint_every >= 0,
              "--eval-every and --checkpoint-every must be >= 0");
  NIDIM_CHECK(protocol_window >= 0, "--protocol-window must be >= 0 (0: keep none), got {}",
              protocol_window);
  NIDIM_CHECK(tile_rows >= 0, "--tile-rows must be >= 0 (0: automatic), got {}", tile_rows);
  NIDIM_CHECK(threads >= 0 && threads <= max_threads,
              "--threads must be in [0, {}] (0: one per core), got {}", max_threads, threads);
  NIDIM_CHECK(loader_workers >= 0 && loader_workers <= max_loader_workers,
              "--loader-workers must be in [0, {}], got {}", max_loader_workers, loader_workers);
  NIDIM_CHECK(metric_repetitions >= 1 && metric_subsample >= 8,
              "--metric-repetitions must be >= 1 and --metric-subsample >= 8");
  NIDIM_CHECK(dv_ema > 0 && dv_ema <= 1, "--dv-ema must be in (0, 1], got {}", dv_ema);
  const Device d = parse_device(device);
  if (d.is_cuda()) {
    NIDIM_CHECK(cuda_compiled(), "--device {}: this nidim was built without CUDA", device);
    NIDIM_CHECK(d.index < cuda_device_count(), "--device {}: this machine has {} CUDA device(s)",
                device, cuda_device_count());
  }
}

double RunConfig::kernel_bandwidth_used() const {
  if (!noise) return kernel_bandwidth;
  const double one_view = channel.form == NoiseForm::additive ? channel.level : channel.p();
  return kernel_bandwidth > 0 ? kernel_bandwidth : std::sqrt(2.0) * one_view;
}

bool RunConfig::kernel_offset_used() const {
  return critic == "gaussian" && kernel_offset && bound == BoundKind::nwj;
}

bool RunConfig::critic_has_parameters() const {
  if (critic == "mlp") return true;
  if (critic == "gaussian") return kernel_offset_used();
  return head_dim > 0;
}

json RunConfig::to_json() const {
  json j = {{"method", method},
           {"dataset", data.name},
          {"data_dir", data.dir},
          {"limit_train", data.limit_train},
          {"limit_test", data.limit_test},
          {"synthetic_train", data.synthetic_train},
          {"synthetic_test", data.synthetic_test},
          {"augment_sigma", augment_sigma},
          {"encoder", encoder},
          {"layer_order", layer_order == LayerOrder::paper ? "paper" : "followup"},
          {"mlp_hidden", mlp_hidden},
          {"embedding_dim", dim},
          {"prior", prior_label(channel.prior)},
          {"noise_injection", noise},
          {"noise",
           {{"form", noise_form_label(channel.form)},
            {"level", channel.level},
            {"sigma", uniform_base(channel.prior) ? json(nullptr) : json(channel.sigma())},
            {"epsilon", uniform_base(channel.prior) ? json(channel.epsilon()) : json(nullptr)},
            {"p", channel.p()}}},
          {"uniform_squash", channel.squash == UniformSquash::phi ? "phi" : "sigmoid"},
          {"capacity_per_dim", noise ? json(channel.capacity_per_dim()) : json(nullptr)},
          {"capacity", noise ? json(capacity()) : json(nullptr)},
          {"certificate_reference", noise ? json(channel.reference()) : json(nullptr)},
          {"critic", critic},
          {"critic_hidden", critic_hidden},
          {"temperature", temperature},
          {"head_dim", head_dim},
          {"kernel_bandwidth", kernel_bandwidth},
          {"kernel_bandwidth_used",  // what 0 (automatic) came to; derived, like the capacity
           critic == "gaussian" ? json(kernel_bandwidth_used()) : json(nullptr)},
          // Whether the critic has critic.offset: a run made before it existed resumes without.
          {"kernel_offset", kernel_offset_used()},
          {"bound", bound_label(bound)},
          {"dv_ema", dv_ema},
          {"batch", batch},
          {"epochs", epochs},
          {"lr", lr},
          {"critic_lr", critic_lr},
          {"seed", seed},
          {"device", device},
          {"tf32", tf32},
          {"threads", threads},
          {"flush_denormals", flush_denormals},
          {"loader_workers", loader_workers},
          {"eval_every", eval_every},
          {"protocol_window", protocol_window},
          {"checkpoint_every", checkpoint_every},
          {"tile_rows", tile_rows},
          {"eval_at_start", eval_at_start},
          {"quick_metrics", quick_metrics},
          {"metric_repetitions", metric_repetitions},
          {"metric_subsample", metric_subsample}};
  if (ssl())
    j["ssl"] = {{"augment", augment},
                {"resnet_stem", resnet_stem},
                {"feature_dim", feature_dim},
                {"projector_hidden", projector_hidden},
                {"optimizer", "lars"},
                {"scaled_lr", scaled_lr()},
                {"weight_decay", weight_decay},
                {"lars_eta", lars_eta},
                {"warmup_epochs", warmup_epochs},
                {"probe_lr", probe_lr},
                {"vicreg_weights", {vicreg_invariance, vicreg_variance, vicreg_covariance}}};
  // The views' recipe in full (derived from augment and the data set, like the capacity).
  if (ssl()) j["ssl"]["augment_spec"] = ssl_views_spec(*this).to_json();
  return j;
}

RunConfig RunConfig::from_json(const json& j, const std::string& where) {
  RunConfig c;
  c.method = json_string_or(j, "method", where, "dim");  // runs made before the methods: DIM
  c.noise = json_bool_or(j, "noise_injection", where, true);
  c.data.name = json_string(j, "dataset", where);
  c.data.dir = json_string(j, "data_dir", where);
  c.data.limit_train = json_int(j, "limit_train", where, 0);
  c.data.limit_test = json_int(j, "limit_test", where, 0);
  c.data.synthetic_train = json_int(j, "synthetic_train", where, 0);
  c.data.synthetic_test = json_int(j, "synthetic_test", where, 0);
  c.augment_sigma = json_double(j, "augment_sigma", where);
  c.encoder = json_string(j, "encoder", where);
  c.layer_order = parse_layer_order(json_string(j, "layer_order", where));
  c.mlp_hidden = json_int_array(j, "mlp_hidden", where);
  c.dim = json_int(j, "embedding_dim", where);
  c.channel.prior = parse_prior_name(json_string(j, "prior", where));
  const json& noise = json_object(j, "noise", where);
  const std::string form = json_string(noise, "form", where + ": noise");
  c.channel.form = parse_noise_form(form == "variance-preserving" ? "vp" : form);
  c.channel.level = json_double(noise, "level", where + ": noise");
  c.channel.squash = json_string(j, "uniform_squash", where) == "phi" ? UniformSquash::phi
                                                                      : UniformSquash::sigmoid;
  c.critic = json_string(j, "critic", where);
  c.critic_hidden = json_int(j, "critic_hidden", where);
  c.temperature = json_double(j, "temperature", where);
  c.head_dim = json_int(j, "head_dim", where);
  c.kernel_bandwidth = json_double(j, "kernel_bandwidth", where);
  c.kernel_offset = json_bool_or(j, "kernel_offset", where, false);  // runs made before: none
  c.bound = parse_bound(json_string(j, "bound", where));
  c.dv_ema = json_double(j, "dv_ema", where);
  c.batch = json_int(j, "batch", where);
  c.epochs = json_int(j, "epochs", where);
  c.lr = json_double(j, "lr", where);
  c.critic_lr = json_double(j, "critic_lr", where);
  c.seed = json_uint(j, "seed", where);
  c.device = json_string_or(j, "device", where, "cpu");
  c.tf32 = json_bool_or(j, "tf32", where, false);
  c.threads = static_cast<int>(json_int(j, "threads", where, 0, max_threads));
  c.flush_denormals = json_bool_or(j, "flush_denormals", where, true);
  c.loader_workers = static_cast<int>(json_int(j, "loader_workers", where, 0, max_loader_workers));
  c.eval_every = json_int(j, "eval_every", where);
  c.protocol_window = json_int_or(j, "protocol_window", where, 0);  // runs before it kept none
  c.checkpoint_every = json_int(j, "checkpoint_every", where);
  c.tile_rows = json_int(j, "tile_rows", where);
  c.eval_at_start = json_bool_or(j, "eval_at_start", where, false);
  c.quick_metrics = json_bool(j, "quick_metrics", where);
  c.metric_repetitions = json_int(j, "metric_repetitions", where);
  c.metric_subsample = json_int(j, "metric_subsample", where);
  if (c.ssl()) {
    const json& s = json_object(j, "ssl", where);
    const std::string in_ssl = where + ": ssl";
    c.augment = json_string(s, "augment", in_ssl);
    c.resnet_stem = json_string(s, "resnet_stem", in_ssl);
    c.feature_dim = json_int(s, "feature_dim", in_ssl);
    c.projector_hidden = json_int(s, "projector_hidden", in_ssl);
    c.weight_decay = json_double(s, "weight_decay", in_ssl);
    c.lars_eta = json_double(s, "lars_eta", in_ssl);
    c.warmup_epochs = json_int(s, "warmup_epochs", in_ssl);
    c.probe_lr = json_double(s, "probe_lr", in_ssl);
    const std::vector<double> w = json_double_array(s, "vicreg_weights", in_ssl);
    NIDIM_CHECK(w.size() == 3, "{}: \"vicreg_weights\" must have 3 numbers, got {}", in_ssl,
                w.size());
    c.vicreg_invariance = w[0];
    c.vicreg_variance = w[1];
    c.vicreg_covariance = w[2];
  }
  c.validate();
  return c;
}

}  // namespace nidim
