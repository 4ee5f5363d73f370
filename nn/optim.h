// nidim/nn/optim.h: optimizers with PyTorch's semantics (torch.optim.SGD, Adam, AdamW) and LARS
// as used by SimCLR and VICReg.
//
// An optimizer holds parameter handles; step() updates every parameter that has a gradient
// (parameters without one are skipped, as in PyTorch) with a fused in-place kernel
// (kernels/ops.h: sgd_step, adam_step). Optimizer state (moments, step counts) is exposed as
// named tensors so that checkpoints can save and restore it: state() / load_state().
// One parameter group per optimizer: models with several learning rates use several optimizers.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/module.h"

namespace nidim {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> params);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  double lr() const { return m_lr; }
  void set_lr(double lr) { m_lr = lr; }
  const std::vector<Tensor>& params() const { return m_params; }
  // Named state tensors ("<i>.exp_avg", "<i>.step", ...), i = parameter index; empty slots are
  // omitted. load_state() expects what state() gave (same parameters, same kinds).
  virtual NamedTensors state() const = 0;
  virtual void load_state(const NamedTensors& state) = 0;

 protected:
  std::vector<Tensor> m_params;
  double m_lr = 0;
};

struct SgdOptions {
  double lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SgdOptions& options);
  void step() override;
  NamedTensors state() const override;
  void load_state(const NamedTensors& state) override;

 private:
  SgdOptions m_options;
  std::vector<Tensor> m_momentum;  // undefined until the parameter's first step
};

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled = false;  // AdamW's weight decay
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& options);
  void step() override;
  NamedTensors state() const override;
  void load_state(const NamedTensors& state) override;

 private:
  AdamOptions m_options;
  std::vector<Tensor> m_exp_avg, m_exp_avg_sq;
  std::vector<int64_t> m_steps;
};

// AdamW: Adam with decoupled weight decay, PyTorch's default weight_decay = 0.01.
inline AdamOptions adamw_options(double lr = 1e-3, double weight_decay = 1e-2) {
  AdamOptions o;
  o.lr = lr;
  o.weight_decay = weight_decay;
  o.decoupled = true;
  return o;
}

// How the trust ratio is formed (see LARS below).
enum class LarsStyle { vicreg, solo_learn };

struct LarsOptions {
  double lr = 0.1, momentum = 0.9, weight_decay = 1e-6;
  LarsStyle style = LarsStyle::vicreg;
  double eta = 0.001;  // trust coefficient
  // Biases and batch-norm parameters (1-D tensors) get neither weight decay nor the trust ratio.
  bool exclude_1d = true;
  // vicreg: the trust ratio never exceeds 1. solo_learn: the layer's rate eta*|p|/(...) never
  // exceeds the global rate (q = min(q / lr, 1): LARC's clipping).
  bool clip = false;
};

// Per parameter, style vicreg: g = grad + wd * p; q = eta * |p| / |g| (1 when either norm is 0;
// min(q, 1) when clipping); mu = momentum * mu + q * g; p -= lr * mu. This is the LARS of the
// VICReg and Barlow Twins reference code (You et al., 2017, with momentum).
// Style solo_learn (solo-learn's and Lightning Bolts' LARS, which SimCLR/VICReg CIFAR recipes
// train with): when |p| > 0 and |grad| > 0, q = eta * |p| / (|grad| + wd * |p| + 1e-8)
// (min(q / lr, 1) when clipping) and g = q * (grad + wd * p); otherwise g = grad, without weight
// decay. Then the same momentum update. Excluded 1-D tensors get g = grad in both styles.
class LARS : public Optimizer {
 public:
  LARS(std::vector<Tensor> params, const LarsOptions& options);
  void step() override;
  NamedTensors state() const override;
  void load_state(const NamedTensors& state) override;

 private:
  LarsOptions m_options;
  std::vector<Tensor> m_momentum;
};

}  // namespace nidim
