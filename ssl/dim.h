// nidim/ssl/dim.h: noise-injected Deep InfoMax (METHOD.md §1-§5): the model and the objective
// that the training run (ssl/run.h) trains with --method dim.
//
// One training step, for a batch of samples and their augmented views x, x':
//   y = n(g(x)), y' = n(g(x'))            shared encoder g, normalization n (training mode)
//   y~ = channel(y), y~' = channel(y')    fresh noise from the run's Philox stream (none with
//                                         --no-noise)
//   loss = -I_hat(y~; y~')                the bound on the critic's scores of all B x B pairs
// then one Adam step for the encoder and one for the critic. The epoch's mean I_hat gives the
// certificate KL <= d*C - I_hat (ssl/channel.h). Step scalars: "loss", "mi" (I_hat).
// This header also brings the run (ssl/run.h) and its settings (ssl/config.h), which DIM's code
// has always reached through it.
#pragma once

#include <memory>

#include "nn/optim.h"
#include "ssl/channel.h"
#include "ssl/config.h"
#include "ssl/critic.h"
#include "ssl/encoders.h"
#include "ssl/objective.h"
#include "ssl/run.h"

namespace nidim {

// encoder g, normalization n and critic T, named "encoder", "normalization", "critic".
class DimModel : public Module {
 public:
  DimModel(const RunConfig& config, int64_t channels, int64_t height, int64_t width,
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

// --method dim.
std::unique_ptr<Objective> make_dim_objective(const ObjectiveSetup& setup, Generator& init);

}  // namespace nidim
