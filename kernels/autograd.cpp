// nidim/kernels/autograd.cpp: Tensor::backward(), the driver of reverse-mode differentiation.
// It lives here rather than in core/ because adding gradients needs kernels (core/autograd.h
// holds the graph itself).
//
// The walk: seed the root with ones, visit nodes in reverse topological order, give each node
// the sum of the gradients flowing into its output, and pass what it returns to its inputs: into
// the next nodes, or accumulated into leaves' grad(). Each node is released once visited, so
// the graph's memory goes as the walk proceeds and a second backward() through it is an error.
#include <cmath>
#include <unordered_map>

#include "core/autograd.h"
#include "kernels/ops.h"

namespace nidim {

namespace {

void accumulate_leaf(const Tensor& leaf, const Tensor& g) {
  Tensor target = leaf;  // shares the leaf's impl
  if (!leaf.grad().defined()) {
    // A gradient that shares storage with another tensor (a view of dout) is copied, so later
    // in-place changes of grad() (clipping, scaling) touch nothing else.
    target.set_grad(g.storage_use_count() > 1 ? g.clone() : g);
  } else {
    target.set_grad(add(leaf.grad(), g));
  }
}

}  // namespace

void Tensor::backward(bool check_finite) const {
  NIDIM_CHECK(defined(), "backward: undefined tensor");
  NIDIM_CHECK(numel() == 1, "backward: needs a scalar (one element), got shape {}", shape());
  NIDIM_CHECK(requires_grad(),
              "backward: the tensor does not require a gradient (no input "
              "requires one, or it was computed under NoGradGuard)");
  if (check_finite) {
    const double value = item();
    NIDIM_CHECK(std::isfinite(value), "backward: the loss is not finite ({}); no gradient computed",
                value);
  }
  NoGradGuard no_grad;
  const Tensor seed = ones_like(*this);
  if (is_leaf()) {
    accumulate_leaf(*this, seed);
    return;
  }
  std::unordered_map<const Node*, Tensor> pending;  // gradient of each node's output so far
  pending[grad_fn().get()] = seed;
  for (const std::shared_ptr<Node>& node : topological_order(grad_fn())) {
    auto it = pending.find(node.get());
    if (it == pending.end()) continue;  // nothing flows into it
    const Tensor dout = std::move(it->second);
    pending.erase(it);
    const std::vector<Tensor> grads = node->apply(dout);
    const std::vector<Tensor> inputs = node->inputs();
    node->release();
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Tensor& input = inputs[i];
      if (!input.requires_grad()) continue;
      if (input.is_leaf()) {
        accumulate_leaf(input, grads[i]);
      } else {
        Tensor& slot = pending[input.grad_fn().get()];
        slot = slot.defined() ? add(slot, grads[i]) : grads[i];
      }
    }
  }
}

}  // namespace nidim
