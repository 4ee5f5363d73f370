// nidim/ssl/dim.h: noise-injected Deep InfoMax (METHOD.md §1-§5): the model, its configuration
// and the training run behind tools/train_dim.
//
// One training step, for a batch of samples and their augmented views x, x':
//   y = n(g(x)), y' = n(g(x'))            shared encoder g, normalization n (training mode)
//   y~ = channel(y), y~' = channel(y')    fresh noise from the run's Philox stream
//   loss = -I_hat(y~; y~')                the bound on the critic's scores of all B x B pairs
// then one Adam step for the encoder and one for the critic. The epoch's mean I_hat gives the
// certificate KL <= d*C - I_hat (ssl/channel.h).
//
// A run lives in a directory:
//   config.json              every setting (written at the start; a resumed run reads it)
//   log.jsonl                one JSON object per epoch ({"type": "epoch", ...}) and per
//                            evaluation ({"type": "eval", ...}); docs/TRAINING.md lists the keys
//   model.safetensors        encoder, normalization and critic, PyTorch key names
//   checkpoint/              checkpoint.safetensors (model, optimizer moments, and in its
//                            metadata the position, RNG state and bound state) and state.json
//   embeddings_{train,test}.npy, labels_{train,test}.npy
//                            eval-mode, noise-free embeddings in the prior's coordinates
//   .lock                    held (flock) by the process working in the directory
// Every file is written to a temporary name and renamed. A run resumed from its checkpoint
// (same thread count) continues with the same bits as if it had not stopped. One process at a
// time works in a run directory: a second one (another run with the same --out, a --resume of a
// run still going) is refused.
#pragma once

#include <chrono>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "nn/optim.h"
#include "ssl/channel.h"
#include "ssl/critic.h"
#include "ssl/datasets.h"
#include "ssl/encoders.h"

namespace nidim {

struct DimConfig {
  DatasetRequest data;
  double augment_sigma = 0.2;       // x' = x + N(0, sigma^2) per pixel (METHOD.md §1)
  std::string encoder = "convnet";  // convnet | mlp
  LayerOrder layer_order = LayerOrder::paper;
  std::vector<int64_t> mlp_hidden = {256, 256};
  int64_t dim = 2;
  ChannelSpec channel;
  std::string critic = "mlp";  // mlp | dot | cosine | gaussian
  int64_t critic_hidden = 256;
  double temperature = 0.1;     // dot / cosine
  int64_t head_dim = 0;         // dot / cosine projection heads (0: none)
  double kernel_bandwidth = 0;  // gaussian critic; 0: sqrt(2) times one view's noise scale
  bool kernel_offset = true;    // gaussian critic with NWJ: learn its "+ const" (runs before: no)
  BoundKind bound = BoundKind::infonce;
  double dv_ema = 0.01;
  int64_t batch = 1024;
  int64_t epochs = 10;
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

  static constexpr int max_threads = 4096, max_loader_workers = 256;

  void validate() const;  // throws naming the flag
  // C = d * C_1, the channel's capacity for the whole embedding, in nats (METHOD.md §3, §4).
  double capacity() const { return channel.capacity_per_dim() * static_cast<double>(dim); }
  // The Gaussian-kernel critic's s: --kernel-bandwidth, or (0) sqrt(2) x one view's noise scale.
  double kernel_bandwidth_used() const;
  // Whether the Gaussian-kernel critic learns its "+ const" (critic.offset): with NWJ only, in
  // runs made since it exists.
  bool kernel_offset_used() const;
  // Whether the critic learns anything (--critic-lr): the joint MLP, dot/cosine with projection
  // heads, the kernel critic's constant.
  bool critic_has_parameters() const;
  nlohmann::json to_json() const;
  static DimConfig from_json(const nlohmann::json& j);
};

// encoder g, normalization n and critic T, named "encoder", "normalization", "critic".
class DimModel : public Module {
 public:
  DimModel(const DimConfig& config, int64_t channels, int64_t height, int64_t width,
           Generator& gen);
  // y = n(g(x)): [N, C, H, W] -> [N, d]; the caller sets train/eval mode.
  Tensor embed(const Tensor& x);
  Critic& critic() { return *m_critic; }
  Sequential& encoder() { return *m_encoder; }

 private:
  std::shared_ptr<Sequential> m_encoder;
  std::shared_ptr<Normalization> m_normalization;
  std::shared_ptr<Critic> m_critic;
};

struct StepInfo {
  int64_t epoch = 0, epochs = 0;  // 1-based epoch
  int64_t step = 0, steps_per_epoch = 0, global_step = 0;
  double loss = 0, mi_estimate = 0, capacity = 0, kl_bound = 0;
  double images_per_second = 0, eta_seconds = 0;
};

struct TrainHooks {
  std::function<void(const StepInfo&)> on_step;       // after every step (one step late: see stop)
  std::function<void(const nlohmann::json&)> on_log;  // every line written to log.jsonl
  std::function<void(const std::string&)> on_note;    // warnings and notices, one line each
  std::function<void(const std::string& phase, int64_t done, int64_t total)>
      on_progress;  // evaluation
  // Checked after each step is queued: the run finishes that step, checkpoints and returns. Steps
  // are reported one late (on_step for step k comes after step k+1 is queued), so a stop set in
  // on_step ends the run one step after the reported one.
  const std::atomic<bool>* stop = nullptr;
};

enum class RunOutcome { finished, interrupted };

class DimTrainer {
 public:
  // A new run in run_dir, created with any missing parents once the data and model are ready.
  // Refuses a directory that holds a run or other files. With unique_name, run_dir is a base
  // name: the run takes the first of run_dir, run_dir-2, run_dir-3, ... that does not exist (two
  // runs started in the same second get different ones).
  DimTrainer(const DimConfig& config, const std::string& run_dir, bool unique_name = false);
  // Resumes the run in run_dir from its checkpoint (from the beginning if it stopped before its
  // first); epochs > 0 replaces the configured number, which may not be below the epochs begun; a
  // non-empty data_dir says where the run's data set is now (it moved).
  static std::unique_ptr<DimTrainer> resume(const std::string& run_dir, int64_t epochs = 0,
                                            const std::string& data_dir = "");
  ~DimTrainer();

  RunOutcome run(const TrainHooks& hooks);
  const DimConfig& config() const { return m_config; }
  DimModel& model() { return *m_model; }
  const std::string& run_dir() const { return m_dir; }
  // Every epoch trained and the last evaluation written: run() has nothing left to do.
  bool complete() const;
  // Epoch (0-based) and batch the next step will run.
  int64_t epoch() const { return m_epoch; }
  int64_t next_batch() const { return m_next_batch; }
  // After run() returned `interrupted`: where, in words ("at epoch 3, batch 17", "during the
  // evaluation after epoch 2", ...).
  const std::string& stopped_at() const { return m_stopped_at; }

 private:
  enum class Start { fresh, fresh_unique, resume };
  DimTrainer(const DimConfig& config, const std::string& run_dir, Start start);
  // A queued step whose loss and estimate are read later: the run loop reads step k's after it
  // has queued step k+1, so on a GPU the host never waits between steps.
  struct PendingStep {
    PendingItem loss, estimate;
    int64_t batch = 0, global_step = 0, images = 0;  // the batch's index, the global step it is
  };
  PendingStep step(const Batch& batch);
  // Reads a queued step's values, refuses non-finite ones, adds them to the epoch's sums and
  // reports the step; `last` is when the previous step was finished.
  void finish_step(const PendingStep& p, const TrainHooks& hooks,
                   std::chrono::steady_clock::time_point& last);
  void evaluate(const TrainHooks& hooks);
  // Removes kept evaluations that are no longer in the protocol window; returns the (new)
  // directory evaluations/epoch_E/ for this epoch's when it is in the window, else "".
  std::string protocol_directory();
  Tensor embed_all(const ImageDataset& data, const std::string& phase, const TrainHooks& hooks);
  void save_checkpoint();
  void load_checkpoint();
  void append_log(const nlohmann::json& line, const TrainHooks& hooks);
  std::string path(const std::string& name) const;
  // A run that this process started and whose loss turned non-finite before its first
  // checkpoint holds nothing worth keeping, and its config.json would block the same --out:
  // removes what the run wrote (its files, checkpoint/, evaluations/), then, if the run made the
  // directory, its lock and the directory when nothing else is in it. Returns what it did, in
  // words.
  std::string discard_unsaved_run();

  DimConfig m_config;
  std::string m_dir;
  DirectoryLock m_lock;  // the run directory's, while this trainer exists
  std::shared_ptr<const ImageDataset> m_train, m_test;
  std::unique_ptr<DimModel> m_model;
  std::unique_ptr<Adam> m_encoder_opt, m_critic_opt;
  std::unique_ptr<Loader> m_loader;
  Device m_device;
  Generator m_noise;
  MiBound m_bound;
  std::vector<nlohmann::json> m_log;
  std::vector<std::string> m_resume_notes;  // said once the run starts
  std::string m_stopped_at;
  enum class Made { resumed, in_existing_directory, new_directory } m_made = Made::resumed;
  std::string m_made_top;  // new_directory: the outermost folder made for it (--out a/b, new a)
  int64_t m_epoch = 0, m_next_batch = 0, m_global_step = 0, m_last_eval_epoch = 0;
  // When this process last wrote an epoch line (or started running): an epoch line's
  // wall_seconds is the time since, so it counts the previous epoch's checkpoint and evaluation.
  std::chrono::steady_clock::time_point m_epoch_mark;
  // Sums over the current epoch's steps so far (kept in checkpoints).
  double m_epoch_loss = 0, m_epoch_mi = 0, m_epoch_seconds = 0;
  int64_t m_epoch_steps = 0, m_epoch_images = 0;
};

}  // namespace nidim
