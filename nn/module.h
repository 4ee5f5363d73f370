// nidim/nn/module.h: Module, the base of every layer and model, and Sequential.
//
// A module owns named parameters (tensors that require gradients), named buffers (state that is
// saved but not trained, such as batch-norm's running statistics) and named child modules.
// Names compose with dots as in PyTorch's state_dict ("encoder.conv1.weight",
// "encoder.bn1.running_mean"), and the order is PyTorch's: a module's own parameters, then its
// own buffers, then each child in registration order. Parameters are held by handle: layers keep
// a Tensor member that is the same tensor as the registered one, and load_state_dict copies
// values into the existing storage so every handle sees them.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace nidim {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  explicit Module(std::string type_name) : m_type_name(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // One input, one output; modules with other signatures add their own methods.
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }

  const std::string& type_name() const { return m_type_name; }
  // Training mode (batch statistics, noise) or evaluation mode, for this module and its children.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return m_training; }

  NamedTensors named_parameters(const std::string& prefix = "") const;
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers(const std::string& prefix = "") const;
  // Parameters and buffers, in PyTorch's state_dict order.
  NamedTensors state_dict(const std::string& prefix = "") const;
  // Copies values into the module's tensors. Strict: every key of the module must be present and
  // nothing else; shapes and dtypes must match. Errors name the key and the shapes.
  void load_state_dict(const NamedTensors& state, bool strict = true);
  void zero_grad();
  int64_t parameter_count() const;
  // Moves floating parameters and buffers to `device`, in place (handles stay valid). Integer
  // buffers (batch-norm's num_batches_tracked counter) stay on the host.
  void to(Device device);
  Device device() const;  // of the first floating parameter or buffer (cpu if none)
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return m_children;
  }

 protected:
  Tensor register_parameter(const std::string& name, Tensor value);
  Tensor register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  void collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const;

  std::string m_type_name;
  bool m_training = true;
  NamedTensors m_parameters;
  NamedTensors m_buffers;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> m_children;
};

// Runs its children in order. Children are named "0", "1", ... unless a name is given.
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  Sequential& add(std::shared_ptr<Module> m);
  Sequential& add(const std::string& name, std::shared_ptr<Module> m);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return children().size(); }
};

}  // namespace nidim
