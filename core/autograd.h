// nidim/core/autograd.h: the define-by-run graph.
//
// Every op that runs while grad mode is on and has an input that requires a gradient records a
// Node on its output: the op, its inputs (the graph's edges) and a backward function that maps
// the output's gradient to the inputs' gradients. An edge to an input that is not a parameter
// carries no data (Tensor::graph_edge): the tensors a backward pass reads are kept by its
// function alone, so activations nothing reads are freed during the forward pass. backward() (kernels/autograd.cpp, because it
// adds gradients with kernels) walks the nodes in reverse topological order, accumulates
// gradients into leaves, and frees each node's inputs and saved tensors as it goes: a graph is
// used once, as in PyTorch.
// Not recorded: in-place updates (optimizers, running statistics), which run under NoGradGuard.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "core/op.h"
#include "core/tensor.h"

namespace nidim {

// The gradients a backward function fills: one slot per input; fill only those that needs(i).
class GradSlots {
 public:
  explicit GradSlots(std::vector<bool> needed)
      : m_needed(std::move(needed)), m_grads(m_needed.size()) {}
  bool needs(size_t i) const { return m_needed[i]; }
  void set(size_t i, Tensor g) { m_grads[i] = std::move(g); }
  std::vector<Tensor>& grads() { return m_grads; }

 private:
  std::vector<bool> m_needed;
  std::vector<Tensor> m_grads;
};

class Node {
 public:
  using BackwardFn = std::function<void(const Tensor& dout, GradSlots& grads)>;
  Node(Op op, std::vector<Tensor> inputs, BackwardFn fn)
      : m_op(op), m_inputs(std::move(inputs)), m_backward(std::move(fn)) {}

  Op op() const { return m_op; }
  const std::vector<Tensor>& inputs() const { return m_inputs; }
  bool released() const { return !m_backward; }
  // Runs the backward function; checks that every needed gradient came back with its input's
  // shape.
  std::vector<Tensor> apply(const Tensor& dout);
  // Drops inputs and saved tensors (called once the node's gradient has been propagated).
  void release();

 private:
  Op m_op;
  std::vector<Tensor> m_inputs;
  BackwardFn m_backward;
};

// Grad mode is per thread and on by default.
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool m_previous;
};

// Does an op with these inputs need a node?
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Attaches a node for `op` to `out` when grad mode is on and some input requires a gradient.
void record(Tensor& out, Op op, std::vector<Tensor> inputs, Node::BackwardFn fn);

// Nodes reachable from `root`, each after all nodes that consume its output (the order in which
// backward visits them). The list owns the nodes, so releasing one node's inputs during the walk
// does not destroy nodes still to be visited.
std::vector<std::shared_ptr<Node>> topological_order(const std::shared_ptr<Node>& root);

}  // namespace nidim
