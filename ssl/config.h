// nidim/ssl/config.h: the settings of one training run (train_dim's flags, config.json), for
// every method: DIM (METHOD.md §1-§5), SimCLR and VICReg with noise injection.
//
// One struct for all methods, so that a run directory has one config.json whatever it trains and
// an old DIM run (written before the methods existed) reads as it was: keys added since are read
// with the value such runs had (method "dim", noise injected, ...). Which settings a method uses
// is said by the method's objective (ssl/objective.h) and train_dim refuses flags a run would not
// use. Fields that only the SSL methods read are grouped at the end.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ssl/channel.h"
#include "ssl/critic.h"
#include "ssl/datasets.h"
#include "ssl/encoders.h"

namespace nidim {

struct RunConfig {
  std::string method = "dim";  // dim | simclr | vicreg (ssl/objective.h lists them)
  DatasetRequest data;
  double augment_sigma = 0.2;       // DIM on grey images: x' = x + N(0, sigma^2) per pixel
  std::string encoder = "convnet";  // convnet | mlp | resnet18
  LayerOrder layer_order = LayerOrder::paper;
  std::vector<int64_t> mlp_hidden = {256, 256};
  int64_t dim = 2;  // the embedding's size d (DIM: the encoder's output; SSL: the projector's)
  // false (--no-noise): no channel; the capacity and the certificate do not apply.
  bool noise = true;
  ChannelSpec channel;
  std::string critic = "mlp";  // mlp | dot | cosine | gaussian
  int64_t critic_hidden = 256;
  double temperature = 0.1;     // dot / cosine critic; SimCLR's NT-Xent (train_dim: 0.2 there)
  int64_t head_dim = 0;         // dot / cosine projection heads (0: none)
  double kernel_bandwidth = 0;  // gaussian critic; 0: sqrt(2) times one view's noise scale
  bool kernel_offset = true;    // gaussian critic with NWJ: learn its "+ const" (runs before: no)
  BoundKind bound = BoundKind::infonce;
  double dv_ema = 0.01;
  int64_t batch = 1024;
  int64_t epochs = 10;
  // DIM: Adam's learning rates. SSL methods: lr is the base rate per 256 samples (LARS uses
  // lr * batch / 256); critic_lr is unused.
  double lr = 1e-3, critic_lr = 1e-3;
  uint64_t seed = 0;
  std::string device = "cpu";   // cpu | cuda | cuda:N
  bool tf32 = false;            // CUDA matmuls on TF32 tensor cores (kernels/cuda/kernels_cuda.h)
  int threads = 0;              // 0: all cores
  bool flush_denormals = true;  // FTZ/DAZ for the run's threads (core/fpenv.h)
  int loader_workers = 1;
  int64_t eval_every = 50;  // epochs between evaluations (0: at the end only; METHOD.md §6)
  // Evaluations in the last this many epochs keep their embeddings in RUN/evaluations/epoch_E/
  // for eval_dm's mean +- std (METHOD.md §6: the last 101 epochs); 0: none are kept.
  int64_t protocol_window = 101;
  int64_t checkpoint_every = 0;  // steps between checkpoints inside an epoch (0: epoch ends only)
  int64_t tile_rows = 0;         // joint critic's tile (0: automatic)
  bool eval_at_start = false;    // also evaluate the untrained model (logged as epoch 0)
  bool quick_metrics = true;     // kNN accuracy and bootstrapped normality p-values at evaluations
  int64_t metric_repetitions = 256;
  int64_t metric_subsample = 64;

  // ---- SSL methods (simclr, vicreg): solo-learn's CIFAR recipes ----
  std::string resnet_stem = "cifar";  // resnet18: cifar (3x3, no max-pool) | imagenet
  int64_t feature_dim = 512;          // convnet / mlp backbones' output (resnet18: 512)
  int64_t projector_hidden = 2048;
  double weight_decay = 1e-4;  // LARS; biases and batch-norm parameters get none
  double lars_eta = 0.02;      // LARS trust coefficient (with solo-learn's lr clipping)
  int64_t warmup_epochs = 10;  // linear warm-up, then cosine to zero, per step
  double probe_lr = 0.1;       // the online linear probe's SGD
  std::string augment = "";    // the views' recipe: simclr | vicreg ("" in DIM runs)
  double vicreg_invariance = 25, vicreg_variance = 25, vicreg_covariance = 1;

  static constexpr int max_threads = 4096, max_loader_workers = 256;

  bool ssl() const { return method != "dim"; }
  void validate() const;  // throws naming the flag
  // C = d * C_1, the channel's capacity for the whole embedding, in nats (METHOD.md §3, §4);
  // only with noise.
  double capacity() const { return channel.capacity_per_dim() * static_cast<double>(dim); }
  // The Gaussian-kernel critic's s: --kernel-bandwidth, or (0) sqrt(2) x one view's noise scale.
  double kernel_bandwidth_used() const;
  // Whether the Gaussian-kernel critic learns its "+ const" (critic.offset): with NWJ only, in
  // runs made since it exists.
  bool kernel_offset_used() const;
  // Whether the critic learns anything (--critic-lr): the joint MLP, dot/cosine with projection
  // heads, the kernel critic's constant.
  bool critic_has_parameters() const;
  // SSL methods: the rate LARS starts from after the warm-up, lr * batch / 256.
  double scaled_lr() const { return lr * static_cast<double>(batch) / 256.0; }
  nlohmann::json to_json() const;
  // Reads what to_json wrote; `where` (the file) starts every error, which names the key and the
  // value: a missing key, a wrong type, an integer that is not one (3.7, 1e300) or out of range.
  static RunConfig from_json(const nlohmann::json& j, const std::string& where = "config.json");
};

// The name DIM's code and tests have always used.
using DimConfig = RunConfig;

// The methods train_dim knows, in --help's order: dim, simclr, vicreg.
std::vector<std::string> method_names();

}  // namespace nidim
