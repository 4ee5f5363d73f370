// Gradient checks: for every differentiable op in core/op.h, the backward pass against central
// differences, in double precision.
//
// For a case f with inputs x_k, the scalar L = sum(f(x) * R) (R fixed, random) is differentiated
// by backward() and by (L(x + h e_j) - L(x - h e_j)) / 2h for every element j of every input,
// h = 1e-6. Truncation error is O(h^2) ~ 1e-12 and rounding error ~ 1e-16 |L| / h ~ 1e-9, so
// |analytic - numeric| <= 1e-7 + 1e-6 |numeric| leaves room for both and still catches any
// wrong formula (errors of a wrong gradient are O(1)).
// Kinks are avoided on purpose: relu, leaky_relu and abs get inputs at least 0.1 away from 0;
// max and max_pool2d get distinct values at least 0.01 apart; log, sqrt, pow get positive inputs
// and div a denominator away from 0.
// The registry test fails when an op marked differentiable in core/op.h has no case here.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <set>

#include "core/autograd.h"
#include "core/random.h"
#include "kernels/ops.h"
#include "kernels/pairwise.h"
#include "test_inputs.h"
#include "test_util.h"

using namespace nidim;

namespace {

using test::Values;

struct Input {
  Shape shape;
  Values values = Values::normal;
};

struct GradCase {
  Op op;
  std::string name;
  std::vector<Input> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> f;
};

// A small jitter below the 0.01 step keeps "distinct" values from being exact multiples.
Tensor make_input(const Input& in, Generator& gen) {
  return test::make_values(in.shape, in.values, gen, 0.001);
}

std::vector<GradCase> all_cases() {
  std::vector<GradCase> c;
  using V = std::vector<Tensor>;
  const auto away = Values::away_from_zero;
  // matmul, each transpose combination
  c.push_back({Op::matmul, "matmul [3,4]@[4,5]", {{{3, 4}}, {{4, 5}}}, [](const V& x) {
                 return matmul(x[0], x[1]);
               }});
  c.push_back({Op::matmul, "matmul [4,3]^T@[4,5]", {{{4, 3}}, {{4, 5}}}, [](const V& x) {
                 return matmul(x[0], x[1], true, false);
               }});
  c.push_back({Op::matmul, "matmul [3,4]@[5,4]^T", {{{3, 4}}, {{5, 4}}}, [](const V& x) {
                 return matmul(x[0], x[1], false, true);
               }});
  c.push_back({Op::matmul, "matmul [4,3]^T@[5,4]^T", {{{4, 3}}, {{5, 4}}}, [](const V& x) {
                 return matmul(x[0], x[1], true, true);
               }});
  // binary ops with each broadcast pattern
  struct Pattern {
    const char* name;
    Shape a, b;
  };
  const Pattern patterns[] = {{"[3,4] and [3,4]", {3, 4}, {3, 4}},
                              {"[3,4] and row [1,4]", {3, 4}, {1, 4}},
                              {"[3,4] and row [4]", {3, 4}, {4}},
                              {"[3,4] and column [3,1]", {3, 4}, {3, 1}},
                              {"[3,4] and scalar []", {3, 4}, {}},
                              {"scalar [] and [3,4]", {}, {3, 4}},
                              {"[3,1] and [1,4]", {3, 1}, {1, 4}},
                              {"[2,3,2,2] and [1,3,1,1]", {2, 3, 2, 2}, {1, 3, 1, 1}},
                              {"[2,3,2,2] and [2,3,2,2] (a residual)", {2, 3, 2, 2}, {2, 3, 2, 2}}};
  const std::pair<Op, std::function<Tensor(const Tensor&, const Tensor&)>> binaries[] = {
      {Op::add, [](const Tensor& a, const Tensor& b) { return add(a, b); }},
      {Op::sub, [](const Tensor& a, const Tensor& b) { return sub(a, b); }},
      {Op::mul, [](const Tensor& a, const Tensor& b) { return mul(a, b); }},
      {Op::div, [](const Tensor& a, const Tensor& b) { return div(a, b); }}};
  for (const auto& [op, fn] : binaries)
    for (const Pattern& p : patterns)
      c.push_back({op,
                   std::string(op_name(op)) + " " + p.name,
                   {{p.a}, {p.b, op == Op::div ? Values::positive : Values::normal}},
                   [fn = fn](const V& x) { return fn(x[0], x[1]); }});
  // unary
  const Shape u{3, 5};
  c.push_back({Op::neg, "neg [3,5]", {{u}}, [](const V& x) { return neg(x[0]); }});
  c.push_back({Op::exp, "exp [3,5]", {{u}}, [](const V& x) { return exp(x[0]); }});
  c.push_back(
      {Op::log, "log [3,5]", {{u, Values::positive}}, [](const V& x) { return log(x[0]); }});
  c.push_back(
      {Op::sqrt, "sqrt [3,5]", {{u, Values::positive}}, [](const V& x) { return sqrt(x[0]); }});
  c.push_back({Op::pow, "pow [3,5] ^ 2.5", {{u, Values::positive}}, [](const V& x) {
                 return pow(x[0], 2.5);
               }});
  c.push_back({Op::pow, "pow [3,5] ^ -1.5", {{u, Values::positive}}, [](const V& x) {
                 return pow(x[0], -1.5);
               }});
  c.push_back({Op::abs, "abs [3,5]", {{u, away}}, [](const V& x) { return abs(x[0]); }});
  c.push_back({Op::tanh, "tanh [3,5]", {{u}}, [](const V& x) { return tanh(x[0]); }});
  c.push_back({Op::sigmoid, "sigmoid [3,5]", {{u}}, [](const V& x) { return sigmoid(x[0]); }});
  c.push_back({Op::erf, "erf [3,5]", {{u}}, [](const V& x) { return erf(x[0]); }});
  c.push_back({Op::relu, "relu [3,5]", {{u, away}}, [](const V& x) { return relu(x[0]); }});
  c.push_back({Op::leaky_relu, "leaky_relu [3,5] slope 0.01", {{u, away}}, [](const V& x) {
                 return leaky_relu(x[0]);
               }});
  c.push_back({Op::leaky_relu, "leaky_relu [3,5] slope 0.3", {{u, away}}, [](const V& x) {
                 return leaky_relu(x[0], 0.3);
               }});
  // reductions
  c.push_back({Op::sum, "sum [3,4] all", {{{3, 4}}}, [](const V& x) { return sum(x[0]); }});
  c.push_back({Op::sum, "sum [3,4] axis 0", {{{3, 4}}}, [](const V& x) { return sum(x[0], 0); }});
  c.push_back({Op::sum, "sum [3,4] axis 1 keepdim", {{{3, 4}}}, [](const V& x) {
                 return sum(x[0], 1, true);
               }});
  c.push_back(
      {Op::sum, "sum [2,3,4] axis 1", {{{2, 3, 4}}}, [](const V& x) { return sum(x[0], 1); }});
  c.push_back({Op::mean, "mean [3,4] all", {{{3, 4}}}, [](const V& x) { return mean(x[0]); }});
  c.push_back(
      {Op::mean, "mean [3,4] axis 0", {{{3, 4}}}, [](const V& x) { return mean(x[0], 0); }});
  c.push_back(
      {Op::mean, "mean [2,3,4] axis -1", {{{2, 3, 4}}}, [](const V& x) { return mean(x[0], -1); }});
  c.push_back({Op::max, "max [3,5] axis 1", {{{3, 5}, Values::distinct}}, [](const V& x) {
                 return max(x[0], 1);
               }});
  c.push_back({Op::max, "max [3,5] axis 0 keepdim", {{{3, 5}, Values::distinct}}, [](const V& x) {
                 return max(x[0], 0, true);
               }});
  c.push_back({Op::logsumexp, "logsumexp [3,5] axis 1", {{{3, 5}}}, [](const V& x) {
                 return logsumexp(x[0], 1);
               }});
  c.push_back({Op::logsumexp, "logsumexp [3,5] axis 0", {{{3, 5}}}, [](const V& x) {
                 return logsumexp(x[0], 0);
               }});
  c.push_back({Op::softmax, "softmax [3,5] axis -1", {{{3, 5}}}, [](const V& x) {
                 return softmax(x[0], -1);
               }});
  c.push_back({Op::softmax, "softmax [3,5] axis 0", {{{3, 5}}}, [](const V& x) {
                 return softmax(x[0], 0);
               }});
  c.push_back({Op::log_softmax, "log_softmax [3,5] axis -1", {{{3, 5}}}, [](const V& x) {
                 return log_softmax(x[0], -1);
               }});
  c.push_back({Op::log_softmax, "log_softmax [2,3,4] axis 1", {{{2, 3, 4}}}, [](const V& x) {
                 return log_softmax(x[0], 1);
               }});
  // losses
  c.push_back({Op::cross_entropy, "cross_entropy [4,5]", {{{4, 5}}}, [](const V& x) {
                 return cross_entropy(x[0], Tensor::from_vector<int32_t>({4, 0, 2, 2}, {4}));
               }});
  c.push_back({Op::mse, "mse [3,4]", {{{3, 4}}, {{3, 4}}}, [](const V& x) {
                 return mse_loss(x[0], x[1]);
               }});
  // NT-Xent: 2B = 10 rows in tiles of 3 (the last one partial), so the tile bookkeeping and both
  // accumulating GEMMs of the backward are exercised; the normalization's gradient included.
  c.push_back({Op::nt_xent, "nt_xent [10,4] tau 0.5 tile 3", {{{10, 4}}}, [](const V& x) {
                 return nt_xent(x[0], 0.5, 3);
               }});
  c.push_back({Op::nt_xent, "nt_xent [6,3] tau 0.1 one tile", {{{6, 3}}}, [](const V& x) {
                 return nt_xent(x[0], 0.1);
               }});
  // images
  c.push_back({Op::conv2d,
               "conv2d [2,2,5,5] * [3,2,3,3] + b, stride 1 pad 1",
               {{{2, 2, 5, 5}}, {{3, 2, 3, 3}}, {{3}}},
               [](const V& x) { return conv2d(x[0], x[1], x[2], 1, 1); }});
  c.push_back({Op::conv2d,
               "conv2d [2,3,6,5] * [2,3,2,3], stride 2 pad 0",
               {{{2, 3, 6, 5}}, {{2, 3, 2, 3}}},
               [](const V& x) { return conv2d(x[0], x[1], Tensor(), 2, 0); }});
  // ResNet-18's convolutions: 3x3 stride 2 pad 1 on an even size (layer2..4's first conv), the
  // 1x1 stride 2 projection shortcut, and the imagenet stem's 7x7 stride 2 pad 3.
  c.push_back({Op::conv2d,
               "conv2d [2,3,6,6] * [4,3,3,3], stride 2 pad 1 (ResNet down-sampling 3x3)",
               {{{2, 3, 6, 6}}, {{4, 3, 3, 3}}},
               [](const V& x) { return conv2d(x[0], x[1], Tensor(), 2, 1); }});
  c.push_back({Op::conv2d,
               "conv2d [2,4,6,6] * [3,4,1,1], stride 2 pad 0 (ResNet projection shortcut)",
               {{{2, 4, 6, 6}}, {{3, 4, 1, 1}}},
               [](const V& x) { return conv2d(x[0], x[1], Tensor(), 2, 0); }});
  c.push_back({Op::conv2d,
               "conv2d [1,2,9,9] * [2,2,7,7], stride 2 pad 3 (ResNet imagenet stem)",
               {{{1, 2, 9, 9}}, {{2, 2, 7, 7}}},
               [](const V& x) { return conv2d(x[0], x[1], Tensor(), 2, 3); }});
  c.push_back({Op::avg_pool2d, "avg_pool2d [2,2,4,4] k2", {{{2, 2, 4, 4}}}, [](const V& x) {
                 return avg_pool2d(x[0], 2);
               }});
  c.push_back({Op::avg_pool2d, "avg_pool2d [1,2,5,5] k3 s2 p1", {{{1, 2, 5, 5}}}, [](const V& x) {
                 return avg_pool2d(x[0], 3, 2, 1);
               }});
  c.push_back({Op::max_pool2d,
               "max_pool2d [2,2,4,4] k2",
               {{{2, 2, 4, 4}, Values::distinct}},
               [](const V& x) { return max_pool2d(x[0], 2); }});
  c.push_back({Op::max_pool2d,
               "max_pool2d [1,2,5,5] k3 s2 p1",
               {{{1, 2, 5, 5}, Values::distinct}},
               [](const V& x) { return max_pool2d(x[0], 3, 2, 1); }});
  c.push_back({Op::batch_norm,
               "batch_norm train [4,3,2,2] affine",
               {{{4, 3, 2, 2}}, {{3}}, {{3}}},
               [](const V& x) { return batch_norm(x[0], x[1], x[2], Tensor(), Tensor(), true); }});
  c.push_back({Op::batch_norm, "batch_norm train [5,3] no affine", {{{5, 3}}}, [](const V& x) {
                 return batch_norm(x[0], Tensor(), Tensor(), Tensor(), Tensor(), true);
               }});
  c.push_back(
      {Op::batch_norm, "batch_norm eval [4,3] affine", {{{4, 3}}, {{3}}, {{3}}}, [](const V& x) {
         Tensor rm = Tensor::from_vector<double>({0.1, -0.2, 0.3}, {3});
         Tensor rv = Tensor::from_vector<double>({0.5, 1.5, 2.0}, {3});
         return batch_norm(x[0], x[1], x[2], rm, rv, false);
       }});
  c.push_back({Op::batch_norm,
               "batch_norm eval [3,3,2,2] affine (4-D, running statistics)",
               {{{3, 3, 2, 2}}, {{3}}, {{3}}},
               [](const V& x) {
                 Tensor rm = Tensor::from_vector<double>({0.1, -0.2, 0.3}, {3});
                 Tensor rv = Tensor::from_vector<double>({0.5, 1.5, 2.0}, {3});
                 return batch_norm(x[0], x[1], x[2], rm, rv, false);
               }});
  // ResNet's global average pool: [N, C, H, W] viewed as [N, C, H*W], mean over the last axis.
  c.push_back({Op::mean,
               "mean [2,3,2,2] as [2,3,4] axis -1 (global average pool)",
               {{{2, 3, 2, 2}}},
               [](const V& x) {
                 return mean(reshape(x[0], {2, 3, -1}), -1);
               }});
  // shape and layout
  c.push_back({Op::reshape, "reshape [3,4] -> [2,6]", {{{3, 4}}}, [](const V& x) {
                 return reshape(x[0], {2, 6}) * 1.0;
               }});
  c.push_back(
      {Op::transpose, "transpose [3,4]", {{{3, 4}}}, [](const V& x) { return transpose(x[0]); }});
  c.push_back({Op::slice, "slice [5,3] rows 1..4", {{{5, 3}}}, [](const V& x) {
                 return slice(x[0], 1, 4);
               }});
  c.push_back({Op::concat, "concat [2,3] + [3,3] axis 0", {{{2, 3}}, {{3, 3}}}, [](const V& x) {
                 return concat({x[0], x[1]}, 0);
               }});
  c.push_back({Op::concat, "concat [3,2] + [3,4] axis 1", {{{3, 2}}, {{3, 4}}}, [](const V& x) {
                 return concat({x[0], x[1]}, 1);
               }});
  c.push_back({Op::concat,
               "concat [2,1,2,2] + [2,3,2,2] axis 1",
               {{{2, 1, 2, 2}}, {{2, 3, 2, 2}}},
               [](const V& x) {
                 return concat({x[0], x[1]}, 1);
               }});
  // the pairwise critic: u [3,4], v [5,4] (rectangular), H = 4; InfoNCE needs square: u, v [4,4]
  c.push_back(
      {Op::pairwise_mlp,
       "pairwise_mlp u [3,4] v [5,4] H 4 tile 2",
       {{{3, 4}}, {{5, 4}}, {{4, 4}}, {{4}}, {{1, 4}}, {{1}}},
       [](const V& x) { return pairwise_mlp_scores(x[0], x[1], x[2], x[3], x[4], x[5], 0.2, 2); }});
  c.push_back({Op::pairwise_mlp_infonce,
               "pairwise_mlp_infonce u, v [4,3] H 3 tile 3",
               {{{4, 3}}, {{4, 3}}, {{3, 3}}, {{3}}, {{1, 3}}, {{1}}},
               [](const V& x) {
                 return pairwise_mlp_infonce(x[0], x[1], x[2], x[3], x[4], x[5], 0.2, 3);
               }});
  return c;
}

// The op that produced `y`, looking through the "* 1.0" some cases add to test views.
Op producing_op(const Tensor& y) {
  const auto& node = y.grad_fn();
  REQUIRE(node != nullptr);
  if (node->op() == Op::mul && node->inputs()[0].grad_fn())
    return node->inputs()[0].grad_fn()->op();
  return node->op();
}

double projected(const GradCase& gc, const std::vector<Tensor>& x, const Tensor& r) {
  NoGradGuard no_grad;
  return sum(gc.f(x) * r).item();
}

}  // namespace

TEST_CASE("every differentiable op has a gradient check") {
  std::set<Op> covered;
  for (const GradCase& gc : all_cases()) covered.insert(gc.op);
  for (size_t i = 0; i < op_count; ++i) {
    const Op op = static_cast<Op>(i);
    if (op_differentiable(op))
      CHECK_MESSAGE(covered.count(op), "op '" << op_name(op) << "' has no gradient check");
  }
}

TEST_CASE("gradients match central differences in double precision") {
  Generator gen(7);
  for (const GradCase& gc : all_cases()) {
    CAPTURE(gc.name);
    std::vector<Tensor> x;
    for (const Input& in : gc.inputs) x.push_back(make_input(in, gen).set_requires_grad(true));
    Tensor y = gc.f(x);
    CHECK_MESSAGE(producing_op(y) == gc.op,
                  gc.name << ": the case does not end in op " << op_name(gc.op));
    const Tensor r = randn(y.shape(), gen, 0, 1, DType::f64);
    sum(y * r).backward();
    const double h = 1e-6;
    for (size_t k = 0; k < x.size(); ++k) {
      REQUIRE_MESSAGE(x[k].grad().defined(), gc.name << ": no gradient for input " << k);
      const std::vector<double> analytic = x[k].grad().to_vector<double>();
      std::vector<double> numeric(analytic.size());
      double* v = x[k].data<double>();
      for (int64_t j = 0; j < x[k].numel(); ++j) {
        const double saved = v[j];
        v[j] = saved + h;
        const double up = projected(gc, x, r);
        v[j] = saved - h;
        const double down = projected(gc, x, r);
        v[j] = saved;
        numeric[static_cast<size_t>(j)] = (up - down) / (2 * h);
      }
      nidim::test::check_close(analytic, numeric, 1e-6, 1e-7,
                               gc.name + " input " + std::to_string(k));
    }
  }
}
