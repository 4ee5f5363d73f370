// nidim/kernels/pairwise.cpp: front end of the pairwise critic ops (see pairwise.h).
#include "kernels/pairwise.h"

#include <cmath>

#include "core/autograd.h"
#include "kernels/dispatch.h"
#include "kernels/ops.h"

namespace nidim {

namespace {

void check_operands(Op op, const Tensor& u, const Tensor& v, const Tensor& W2, const Tensor& b2,
                    const Tensor& w3, const Tensor& b3, double slope, int64_t tile_rows) {
  const char* name = op_name(op);
  for (const Tensor* t : std::initializer_list<const Tensor*>{&u, &v, &W2, &b2, &w3, &b3}) {
    NIDIM_CHECK(t->defined(), "{}: an operand is undefined", name);
    NIDIM_CHECK(t->dtype() == u.dtype() && is_floating(u.dtype()),
                "{}: operands must share one floating dtype, got {} and {}", name, u.str(),
                t->str());
  }
  NIDIM_CHECK(u.ndim() == 2 && v.ndim() == 2 && u.size(1) == v.size(1),
              "{}: u {} and v {} must be [B, H] with the same H", name, u.shape(), v.shape());
  const int64_t H = u.size(1);
  NIDIM_CHECK(W2.shape() == Shape({H, H}) && b2.shape() == Shape({H}) &&
                  w3.shape() == Shape({1, H}) && b3.shape() == Shape({1}),
              "{}: for H = {} want W2 [{}, {}], b2 [{}], w3 [1, {}], b3 [1]; got {}, {}, {}, {}",
              name, H, H, H, H, H, W2.shape(), b2.shape(), w3.shape(), b3.shape());
  NIDIM_CHECK(u.size(0) > 0 && v.size(0) > 0 && H > 0, "{}: empty operands u {} v {}", name,
              u.shape(), v.shape());
  NIDIM_CHECK(slope >= 0, "{}: the leaky ReLU slope must be >= 0, got {}", name, slope);
  NIDIM_CHECK(tile_rows >= 0, "{}: tile_rows must be >= 0, got {}", name, tile_rows);
}

Tensor empty_like(const Tensor& x) {
  return Tensor::empty(x.shape(), x.dtype(), x.device());
}

}  // namespace

Tensor pairwise_mlp_scores(const Tensor& u, const Tensor& v, const Tensor& W2, const Tensor& b2,
                           const Tensor& w3, const Tensor& b3, double slope, int64_t tile_rows) {
  const Op op = Op::pairwise_mlp;
  check_operands(op, u, v, W2, b2, w3, b3, slope, tile_rows);
  Tensor S = Tensor::empty({u.size(0), v.size(0)}, u.dtype(), u.device());
  KernelCall call{op, Pass::forward, {u, v, W2, b2, w3, b3}, {S}, {}};
  call.p.i[0] = tile_rows;
  call.p.f[0] = slope;
  dispatch(call);
  const OpParams p = call.p;
  std::vector<Tensor> saved = {u.detach(),  v.detach(),  W2.detach(),
                               b2.detach(), w3.detach(), b3.detach()};
  record(S, op, {u, v, W2, b2, w3, b3}, [p, saved](const Tensor& dS, GradSlots& g) {
    std::vector<Tensor> grads;
    for (size_t k = 0; k < saved.size(); ++k)
      grads.push_back(g.needs(k) ? empty_like(saved[k]) : Tensor());
    std::vector<Tensor> in = {dS};
    in.insert(in.end(), saved.begin(), saved.end());
    KernelCall back{Op::pairwise_mlp, Pass::backward, in, grads, p};
    dispatch(back);
    for (size_t k = 0; k < grads.size(); ++k) g.set(k, grads[k]);
  });
  return S;
}

Tensor pairwise_mlp_infonce(const Tensor& u, const Tensor& v, const Tensor& W2, const Tensor& b2,
                            const Tensor& w3, const Tensor& b3, double slope, int64_t tile_rows) {
  const Op op = Op::pairwise_mlp_infonce;
  check_operands(op, u, v, W2, b2, w3, b3, slope, tile_rows);
  NIDIM_CHECK(u.size(0) == v.size(0),
              "pairwise_mlp_infonce: InfoNCE pairs row i of u with row i of v; "
              "u {} and v {} differ in rows",
              u.shape(), v.shape());
  const std::vector<Tensor> inputs = {u, v, W2, b2, w3, b3};
  const bool want_grads = grad_enabled() && any_requires_grad(inputs);
  std::vector<Tensor> out = {Tensor::empty(Shape(), u.dtype(), u.device())};
  for (const Tensor& t : inputs)
    out.push_back(want_grads && t.requires_grad() ? empty_like(t) : Tensor());
  KernelCall call{op, Pass::forward, inputs, out, {}};
  call.p.i[0] = tile_rows;
  call.p.f[0] = slope;
  dispatch(call);
  // call.out[0] requires no gradient, so this shift records nothing: the node below is the op's.
  Tensor result = call.out[0] - std::log(static_cast<double>(u.size(0)));
  std::vector<Tensor> grads(call.out.begin() + 1, call.out.end());
  record(result, op, inputs, [grads](const Tensor& dloss, GradSlots& g) {
    for (size_t k = 0; k < grads.size(); ++k)
      if (g.needs(k)) g.set(k, grads[k] * dloss);
  });
  return result;
}

}  // namespace nidim
