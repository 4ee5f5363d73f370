// nidim/ssl/objective.h: what one method trains, as seen by the training run (ssl/run.h).
//
// The run owns everything that is the same for every method: the run directory, config.json,
// log.jsonl, checkpoints and bit-exact resume, evaluations, Ctrl-C and progress. An objective
// owns the method's model and optimizers and says what a step computes and what is logged:
//   model()       every module, named as in model.safetensors ("encoder.", "projector.", ...)
//   optimizers()  each with a name; the checkpoint stores its state under "optim.<name>."
//   step()        one training step on a batch of two views: forward, backward, updates; returns
//                 the step's scalars ("loss" first) without waiting for a GPU
//   epoch_log()   the epoch line's method keys, from the means of the step scalars
//   embed()       the exported, noise-free embedding (and the backbone's features, if any)
// A method is one file that implements this class and one name in make_objective
// (ssl/objective.cpp). Objectives print nothing; notes go back to the run as strings.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/random.h"
#include "core/tensor.h"
#include "data/augment.h"
#include "data/loader.h"
#include "nn/module.h"
#include "nn/optim.h"
#include "ssl/config.h"

namespace nidim {

using StepScalars = std::vector<std::pair<std::string, PendingItem>>;

// What an objective is built from: the run's settings, the images' shape, the schedule's length.
struct ObjectiveSetup {
  const RunConfig& config;
  int64_t channels = 1, height = 1, width = 1;
  int64_t steps_per_epoch = 1;
  Device device;
  int64_t classes = 0;  // labels lie in [0, classes) (the online probe's outputs)
};

class Objective {
 public:
  virtual ~Objective() = default;

  virtual Module& model() = 0;
  virtual std::vector<std::pair<std::string, Optimizer*>> optimizers() = 0;
  // The two views of each training sample (the loader makes them).
  virtual std::shared_ptr<const TwoViews> views() const = 0;
  // What evaluation images get before embed() (the recipe's per-channel normalization, which the
  // training views end with); null: nothing.
  virtual std::shared_ptr<const Augmentation> eval_transform() const { return nullptr; }

  // One step. `global_step` counts from 1 (the learning-rate schedules read it); `noise` is the
  // run's Philox stream for the channel. The first scalar is the loss.
  virtual StepScalars step(const Batch& batch, int64_t global_step, Generator& noise) = 0;
  // Adds the method's keys to an epoch line, from the means over the epoch's steps of the
  // scalars step() returned (by name).
  virtual void epoch_log(const std::map<std::string, double>& means,
                         nlohmann::json& line) const = 0;
  // The progress line's method part ("MI 2.31  C 4.61  KL<= 2.30").
  virtual std::string progress(const std::map<std::string, double>& step) const = 0;
  // Notes said when a run starts (the channel, warnings).
  virtual std::vector<std::string> start_notes() const { return {}; }
  // Added to the error when a step's loss or scalar is not finite (a cure, or "").
  virtual std::string nonfinite_hint(int64_t global_step) const;

  // Evaluation mode, no noise: x [N, C, H, W] -> the embedding [N, d] in the normalization's
  // coordinates (the run maps it to the prior's) and, for methods with a backbone, its
  // features [N, F] (undefined otherwise).
  virtual std::pair<Tensor, Tensor> embed(const Tensor& x) = 0;
  virtual int64_t embedding_dim() const = 0;
  virtual int64_t feature_dim() const { return 0; }
  // At an evaluation, after the embeddings: keys for the eval line from the train and test
  // features (host [N, F]) and labels (the online probe's accuracy). Default: none.
  virtual void evaluate(const Tensor& train_features, const std::vector<int32_t>& train_labels,
                        const Tensor& test_features, const std::vector<int32_t>& test_labels,
                        nlohmann::json& line);

  // Extra state the checkpoint keeps (top-level keys of its state JSON), e.g. DV's moving
  // average; load_state reads what save_state wrote.
  virtual void save_state(nlohmann::json& state) const;
  virtual void load_state(const nlohmann::json& state);
};

// The objective of config.method; throws naming the method when there is none.
std::unique_ptr<Objective> make_objective(const ObjectiveSetup& setup, Generator& init);

// For objectives whose loss is an InfoMax bound (DIM, SimCLR): the epoch line's mi_estimate and,
// with noise, the capacity and the certificate C - I (certificate_not_applicable without).
void log_certificate(const RunConfig& config, double mi_estimate, nlohmann::json& line);
// The progress line's "MI 2.310  C 4.610  KL<= 2.300" (MI alone without noise).
std::string certificate_progress(const RunConfig& config, double mi_estimate);

// Linear warm-up over `warmup` steps from 0, then half a cosine to 0 at `total` steps (solo-learn's
// warmup_cosine with zero start and end): the factor of the base rate at 1-based `step`.
double warmup_cosine(int64_t step, int64_t warmup, int64_t total);

}  // namespace nidim
