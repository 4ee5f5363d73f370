// nidim/core/autograd.cpp: see autograd.h.
#include "core/autograd.h"

#include <unordered_map>
#include <unordered_set>

namespace nidim {

namespace {
thread_local bool t_grad_enabled = true;
}

bool grad_enabled() {
  return t_grad_enabled;
}

NoGradGuard::NoGradGuard() : m_previous(t_grad_enabled) {
  t_grad_enabled = false;
}
NoGradGuard::~NoGradGuard() {
  t_grad_enabled = m_previous;
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  for (const Tensor& t : inputs)
    if (t.requires_grad()) return true;
  return false;
}

void record(Tensor& out, Op op, std::vector<Tensor> inputs, Node::BackwardFn fn) {
  if (!grad_enabled() || !any_requires_grad(inputs)) return;
  // The node needs its inputs' identity (grad_fn, requires_grad, shape), not their data: leaves
  // that take a gradient are kept whole (it accumulates into them), every other input becomes a
  // data-less edge, so an activation lives only as long as a backward function that reads it
  // (ResNet-18 at batch 256: 2.1 -> 1.4 GB of live tensors; bench/README.md).
  for (Tensor& t : inputs)
    if (t.defined() && !(t.is_leaf() && t.requires_grad())) t = t.graph_edge();
  out.set_grad_fn(std::make_shared<Node>(op, std::move(inputs), std::move(fn)));
}

std::vector<Tensor> Node::apply(const Tensor& dout) {
  NIDIM_CHECK(m_backward,
              "backward through {} a second time: the graph was freed by the first "
              "backward()",
              op_name(m_op));
  std::vector<bool> needed(m_inputs.size());
  for (size_t i = 0; i < m_inputs.size(); ++i) needed[i] = m_inputs[i].requires_grad();
  GradSlots slots(std::move(needed));
  m_backward(dout, slots);
  std::vector<Tensor>& grads = slots.grads();
  for (size_t i = 0; i < m_inputs.size(); ++i) {
    if (!slots.needs(i)) continue;
    NIDIM_CHECK(grads[i].defined(), "{} backward: no gradient for input {}", op_name(m_op), i);
    NIDIM_CHECK(grads[i].shape() == m_inputs[i].shape(),
                "{} backward: gradient for input {} has shape {}, the input has {}", op_name(m_op),
                i, grads[i].shape(), m_inputs[i].shape());
  }
  return std::move(grads);
}

void Node::release() {
  m_inputs.clear();
  m_backward = nullptr;
}

std::vector<std::shared_ptr<Node>> topological_order(const std::shared_ptr<Node>& root) {
  // Iterative depth-first search; a node is emitted after all of its inputs' nodes, so the
  // reversed post-order puts every consumer before its producers.
  std::vector<std::shared_ptr<Node>> post;
  std::unordered_set<const Node*> seen;
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack;
  stack.push_back({root, 0});
  seen.insert(root.get());
  while (!stack.empty()) {
    Node* node = stack.back().first.get();
    size_t& next = stack.back().second;
    if (next < node->inputs().size()) {
      const std::shared_ptr<Node>& child = node->inputs()[next++].grad_fn();
      if (child && seen.insert(child.get()).second) stack.push_back({child, 0});
    } else {
      post.push_back(std::move(stack.back().first));
      stack.pop_back();
    }
  }
  return std::vector<std::shared_ptr<Node>>(post.rbegin(), post.rend());
}

}  // namespace nidim
