// nidim/nn/module.cpp: see module.h.
#include "nn/module.h"

#include <set>

#include "core/error.h"

namespace nidim {

Tensor Module::forward(const Tensor&) {
  NIDIM_FAIL("{}: this module has no single-input forward", m_type_name);
}

void Module::train(bool on) {
  m_training = on;
  for (auto& [name, child] : m_children) child->train(on);
}

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  NIDIM_CHECK(name.find('.') == std::string::npos && !name.empty(),
              "{}: parameter name '{}' must be non-empty and without dots", m_type_name, name);
  value.set_requires_grad(true);
  m_parameters.emplace_back(name, value);
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  NIDIM_CHECK(name.find('.') == std::string::npos && !name.empty(),
              "{}: buffer name '{}' must be non-empty and without dots", m_type_name, name);
  m_buffers.emplace_back(name, value);
  return value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  NIDIM_CHECK(m != nullptr, "{}: child '{}' is null", m_type_name, name);
  NIDIM_CHECK(name.find('.') == std::string::npos && !name.empty(),
              "{}: child name '{}' must be non-empty and without dots", m_type_name, name);
  for (auto& [existing, child] : m_children)
    NIDIM_CHECK(existing != name, "{}: a child named '{}' exists already", m_type_name, name);
  m_children.emplace_back(name, std::move(m));
}

void Module::collect(const std::string& prefix, bool params, bool buffers,
                     NamedTensors& out) const {
  if (params)
    for (const auto& [name, t] : m_parameters) out.emplace_back(prefix + name, t);
  if (buffers)
    for (const auto& [name, t] : m_buffers) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : m_children)
    child->collect(prefix + name + ".", params, buffers, out);
}

NamedTensors Module::named_parameters(const std::string& prefix) const {
  NamedTensors out;
  collect(prefix.empty() ? "" : prefix + ".", true, false, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers(const std::string& prefix) const {
  NamedTensors out;
  collect(prefix.empty() ? "" : prefix + ".", false, true, out);
  return out;
}

NamedTensors Module::state_dict(const std::string& prefix) const {
  NamedTensors out;
  collect(prefix.empty() ? "" : prefix + ".", true, true, out);
  return out;
}

void Module::load_state_dict(const NamedTensors& state, bool strict) {
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, t] : state) {
    NIDIM_CHECK(given.emplace(name, &t).second, "load_state_dict: key '{}' appears twice", name);
  }
  std::set<std::string> used;
  for (auto& [name, target] : state_dict()) {
    auto it = given.find(name);
    if (it == given.end()) {
      NIDIM_CHECK(!strict, "load_state_dict: missing key '{}' ({} {})", name,
                  dtype_name(target.dtype()), target.shape());
      continue;
    }
    const Tensor& src = *it->second;
    NIDIM_CHECK(src.shape() == target.shape(),
                "load_state_dict: '{}' has shape {} in the file, the module expects {}", name,
                src.shape(), target.shape());
    NIDIM_CHECK(src.dtype() == target.dtype(),
                "load_state_dict: '{}' is {} in the file, the module expects {}", name,
                dtype_name(src.dtype()), dtype_name(target.dtype()));
    Tensor dst = target;
    copy_bytes(dst.raw(), dst.device(), src.raw(), src.device(), src.nbytes());
    used.insert(name);
  }
  if (strict) {
    for (const auto& [name, t] : state)
      NIDIM_CHECK(used.count(name), "load_state_dict: unexpected key '{}' ({} {}) for a {}", name,
                  dtype_name(t.dtype()), t.shape(), m_type_name);
  }
}

void Module::zero_grad() {
  for (Tensor& p : parameters()) p.zero_grad();
}

void Module::to(Device device) {
  for (auto& [name, t] : state_dict()) {
    Tensor handle = t;
    if (is_floating(handle.dtype())) handle.move_to(device);
  }
}

Device Module::device() const {
  for (const auto& [name, t] : state_dict())
    if (is_floating(t.dtype())) return t.device();
  return Device::cpu();
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

Sequential& Sequential::add(std::shared_ptr<Module> m) {
  return add(std::to_string(children().size()), std::move(m));
}

Sequential& Sequential::add(const std::string& name, std::shared_ptr<Module> m) {
  register_module(name, std::move(m));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& [name, child] : children()) h = child->forward(h);
  return h;
}

}  // namespace nidim
