// nidim/ssl/run.h: one training run, whatever the method (ssl/objective.h): the run's life,
// written once.
//
// A run lives in a directory:
//   config.json              every setting (written at the start; a resumed run reads it)
//   log.jsonl                one JSON object per epoch ({"type": "epoch", ...}) and per
//                            evaluation ({"type": "eval", ...}); docs/TRAINING.md lists the keys
//   model.safetensors        the method's model (encoder, normalization, critic or projector,
//                            ...), PyTorch key names
//   checkpoint/              checkpoint.safetensors (model, optimizer states, and in its
//                            metadata the position, RNG state and the method's state) and
//                            state.json
//   embeddings_{train,test}.npy, labels_{train,test}.npy
//                            eval-mode, noise-free embeddings in the prior's coordinates
//   features_{train,test}.npy  methods with a backbone (SimCLR, VICReg): its features, for the
//                            linear probe (eval_dm --probe)
//   evaluations/epoch_E/     the evaluations the authors' protocol averages (METHOD.md §6)
//   .lock                    held (flock) by the process working in the directory
// Every file is written to a temporary name and renamed. A run resumed from its checkpoint
// (same thread count) continues with the same bits as if it had not stopped. One process at a
// time works in a run directory: a second one (another run with the same --out, a --resume of a
// run still going) is refused.
//
// A step is queued and its scalars are read one step later, so on a GPU the host never waits
// between steps. Evaluations embed both sets in eval mode without noise; the quick metrics (kNN
// accuracy, bootstrapped normality p-values) go into the eval line.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "ssl/config.h"
#include "ssl/objective.h"

namespace nidim {

struct StepInfo {
  int64_t epoch = 0, epochs = 0;  // 1-based epoch
  int64_t step = 0, steps_per_epoch = 0, global_step = 0;
  double loss = 0;
  // The step's scalars by name (DIM: "loss", "mi"); detail is the method's part of a progress
  // line ("MI 2.31  C 4.61  KL<= 2.30").
  std::map<std::string, double> scalars;
  std::string detail;
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

class TrainingRun {
 public:
  // A new run in run_dir, created with any missing parents once the data and model are ready.
  // Refuses a directory that holds a run or other files. With unique_name, run_dir is a base
  // name: the run takes the first of run_dir, run_dir-2, run_dir-3, ... that does not exist (two
  // runs started in the same second get different ones).
  TrainingRun(const RunConfig& config, const std::string& run_dir, bool unique_name = false);
  // Resumes the run in run_dir from its checkpoint (from the beginning if it stopped before its
  // first); epochs > 0 replaces the configured number, which may not be below the epochs begun; a
  // non-empty data_dir says where the run's data set is now (it moved).
  static std::unique_ptr<TrainingRun> resume(const std::string& run_dir, int64_t epochs = 0,
                                            const std::string& data_dir = "");
  ~TrainingRun();

  RunOutcome run(const TrainHooks& hooks);
  const RunConfig& config() const { return m_config; }
  Objective& objective() { return *m_objective; }
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
  TrainingRun(const RunConfig& config, const std::string& run_dir, Start start);
  // A queued step whose loss and estimate are read later: the run loop reads step k's after it
  // has queued step k+1, so on a GPU the host never waits between steps.
  struct PendingStep {
    StepScalars scalars;
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
  // Eval-mode embeddings (and features, when the method has a backbone) of a whole data set.
  std::pair<Tensor, Tensor> embed_all(const ImageDataset& data, const std::string& phase,
                                      const TrainHooks& hooks);
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

  RunConfig m_config;
  std::string m_dir;
  DirectoryLock m_lock;  // the run directory's, while this trainer exists
  std::shared_ptr<const ImageDataset> m_train, m_test;
  std::unique_ptr<Objective> m_objective;
  std::unique_ptr<Loader> m_loader;
  Device m_device;
  Generator m_noise;
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
  std::map<std::string, double> m_epoch_sums;  // of each step scalar, by name
  double m_epoch_seconds = 0;
  int64_t m_epoch_steps = 0, m_epoch_images = 0;
};

// The name DIM's code and tests have always used.
using DimTrainer = TrainingRun;

}  // namespace nidim
