// nidim/nn/optim.cpp: see optim.h.
#include "nn/optim.h"

#include <cmath>
#include <map>

#include "core/autograd.h"
#include "kernels/ops.h"

namespace nidim {

namespace {

std::map<std::string, Tensor> by_name(const NamedTensors& state) {
  std::map<std::string, Tensor> m;
  for (const auto& [name, t] : state) m[name] = t;
  return m;
}

// Copies a saved state tensor into a fresh one shaped like the parameter (checked).
Tensor restore_like(const std::map<std::string, Tensor>& m, const std::string& key,
                    const Tensor& param) {
  auto it = m.find(key);
  if (it == m.end()) return Tensor();
  NIDIM_CHECK(it->second.shape() == param.shape() && it->second.dtype() == param.dtype(),
              "optimizer state '{}' is {}, the parameter is {}", key, it->second.str(),
              param.str());
  return it->second.to(param.device());
}

int64_t restore_step(const std::map<std::string, Tensor>& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) return 0;
  NIDIM_CHECK(it->second.dtype() == DType::i64 && it->second.numel() == 1,
              "optimizer state '{}' must be one int64, got {}", key, it->second.str());
  return it->second.to_vector<int64_t>()[0];
}

Tensor step_tensor(int64_t step) {
  return Tensor::from_vector<int64_t>({step}, Shape());
}

double l2_norm(const Tensor& x) {
  return std::sqrt(sum(x * x).item());
}

}  // namespace

Optimizer::Optimizer(std::vector<Tensor> params) : m_params(std::move(params)) {
  for (size_t i = 0; i < m_params.size(); ++i)
    NIDIM_CHECK(m_params[i].defined() && m_params[i].is_leaf() && m_params[i].requires_grad(),
                "optimizer: parameter {} ({}) must be a leaf that requires a gradient", i,
                m_params[i].str());
}

void Optimizer::zero_grad() {
  for (Tensor& p : m_params) p.zero_grad();
}

// ---- SGD ----------------------------------------------------------------------------------------

SGD::SGD(std::vector<Tensor> params, const SgdOptions& o)
    : Optimizer(std::move(params)), m_options(o), m_momentum(m_params.size()) {
  NIDIM_CHECK(o.lr >= 0 && o.momentum >= 0 && o.weight_decay >= 0,
              "SGD: lr {}, momentum {} and weight_decay {} must be >= 0", o.lr, o.momentum,
              o.weight_decay);
  NIDIM_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
              "SGD: Nesterov momentum requires a momentum and zero dampening");
  m_lr = o.lr;
}

void SGD::step() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < m_params.size(); ++i) {
    Tensor& p = m_params[i];
    if (!p.grad().defined()) continue;
    SgdStep s;
    s.lr = m_lr;
    s.momentum = m_options.momentum;
    s.dampening = m_options.dampening;
    s.weight_decay = m_options.weight_decay;
    s.nesterov = m_options.nesterov;
    s.first = !m_momentum[i].defined();
    if (m_options.momentum != 0 && s.first) m_momentum[i] = zeros_like(p);
    sgd_step(p, p.grad(), m_momentum[i], s);
  }
}

NamedTensors SGD::state() const {
  NamedTensors out;
  for (size_t i = 0; i < m_params.size(); ++i)
    if (m_momentum[i].defined())
      out.emplace_back(std::to_string(i) + ".momentum_buffer", m_momentum[i]);
  return out;
}

void SGD::load_state(const NamedTensors& state) {
  const auto m = by_name(state);
  for (size_t i = 0; i < m_params.size(); ++i)
    m_momentum[i] = restore_like(m, std::to_string(i) + ".momentum_buffer", m_params[i]);
}

// ---- Adam -----------------------------------------------------------------------------------------

Adam::Adam(std::vector<Tensor> params, const AdamOptions& o)
    : Optimizer(std::move(params)),
      m_options(o),
      m_exp_avg(m_params.size()),
      m_exp_avg_sq(m_params.size()),
      m_steps(m_params.size(), 0) {
  NIDIM_CHECK(o.lr >= 0 && o.eps >= 0 && o.weight_decay >= 0,
              "Adam: lr {}, eps {}, weight_decay "
              "{} must be >= 0",
              o.lr, o.eps, o.weight_decay);
  NIDIM_CHECK(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1,
              "Adam: betas ({}, {}) must be in [0, 1)", o.beta1, o.beta2);
  m_lr = o.lr;
}

void Adam::step() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < m_params.size(); ++i) {
    Tensor& p = m_params[i];
    if (!p.grad().defined()) continue;
    if (!m_exp_avg[i].defined()) {
      m_exp_avg[i] = zeros_like(p);
      m_exp_avg_sq[i] = zeros_like(p);
    }
    AdamStep s;
    s.lr = m_lr;
    s.beta1 = m_options.beta1;
    s.beta2 = m_options.beta2;
    s.eps = m_options.eps;
    s.weight_decay = m_options.weight_decay;
    s.decoupled = m_options.decoupled;
    s.step = ++m_steps[i];
    adam_step(p, p.grad(), m_exp_avg[i], m_exp_avg_sq[i], s);
  }
}

NamedTensors Adam::state() const {
  NamedTensors out;
  for (size_t i = 0; i < m_params.size(); ++i) {
    if (!m_exp_avg[i].defined()) continue;
    const std::string k = std::to_string(i);
    out.emplace_back(k + ".exp_avg", m_exp_avg[i]);
    out.emplace_back(k + ".exp_avg_sq", m_exp_avg_sq[i]);
    out.emplace_back(k + ".step", step_tensor(m_steps[i]));
  }
  return out;
}

void Adam::load_state(const NamedTensors& state) {
  const auto m = by_name(state);
  for (size_t i = 0; i < m_params.size(); ++i) {
    const std::string k = std::to_string(i);
    m_exp_avg[i] = restore_like(m, k + ".exp_avg", m_params[i]);
    m_exp_avg_sq[i] = restore_like(m, k + ".exp_avg_sq", m_params[i]);
    m_steps[i] = restore_step(m, k + ".step");
    NIDIM_CHECK(m_exp_avg[i].defined() == m_exp_avg_sq[i].defined() &&
                    m_exp_avg[i].defined() == (m_steps[i] > 0),
                "Adam state of parameter {} is incomplete", i);
  }
}

// ---- LARS -------------------------------------------------------------------------------------------

LARS::LARS(std::vector<Tensor> params, const LarsOptions& o)
    : Optimizer(std::move(params)), m_options(o), m_momentum(m_params.size()) {
  NIDIM_CHECK(o.lr >= 0 && o.momentum >= 0 && o.weight_decay >= 0 && o.eta > 0,
              "LARS: lr {}, momentum {}, weight_decay {} must be >= 0 and eta {} > 0", o.lr,
              o.momentum, o.weight_decay, o.eta);
  m_lr = o.lr;
}

void LARS::step() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < m_params.size(); ++i) {
    Tensor& p = m_params[i];
    if (!p.grad().defined()) continue;
    const bool adapt = !(m_options.exclude_1d && p.ndim() == 1);
    SgdStep s;
    s.lr = m_lr;
    s.momentum = m_options.momentum;
    s.weight_decay = adapt ? m_options.weight_decay : 0.0;
    s.first = false;  // the buffer starts at zero: mu = momentum * 0 + g on the first step
    if (adapt && m_options.style == LarsStyle::solo_learn) {
      const double param_norm = l2_norm(p), grad_norm = l2_norm(p.grad());
      if (param_norm > 0 && grad_norm > 0) {
        double q = m_options.eta * param_norm /
                   (grad_norm + param_norm * m_options.weight_decay + 1e-8);
        if (m_options.clip) q = m_lr > 0 ? std::min(q / m_lr, 1.0) : 1.0;
        s.grad_scale = q;
      } else {
        s.weight_decay = 0;
      }
    } else if (adapt) {
      const double param_norm = l2_norm(p);
      const double update_norm =
          l2_norm(s.weight_decay != 0 ? p.grad() + p * s.weight_decay : p.grad());
      double q =
          (param_norm > 0 && update_norm > 0) ? m_options.eta * param_norm / update_norm : 1.0;
      if (m_options.clip) q = std::min(q, 1.0);
      s.grad_scale = q;
    }
    if (!m_momentum[i].defined()) m_momentum[i] = zeros_like(p);
    sgd_step(p, p.grad(), m_momentum[i], s);
  }
}

NamedTensors LARS::state() const {
  NamedTensors out;
  for (size_t i = 0; i < m_params.size(); ++i)
    if (m_momentum[i].defined()) out.emplace_back(std::to_string(i) + ".mu", m_momentum[i]);
  return out;
}

void LARS::load_state(const NamedTensors& state) {
  const auto m = by_name(state);
  for (size_t i = 0; i < m_params.size(); ++i)
    m_momentum[i] = restore_like(m, std::to_string(i) + ".mu", m_params[i]);
}

}  // namespace nidim
