// Parity of the CUDA backend with the CPU backend (the reference): one table of cases, each a
// function of its inputs run on both devices from the same values; the outputs and, for
// differentiable ops, the gradients of L = sum(f(x) * R) (R fixed, random) must agree.
//
// Tolerance: |cuda - cpu| <= rtol * |cpu| + atol * max|cpu| over the tensor (atol is relative to
// the tensor's scale: the rounding error of a sum is bounded by eps times the sum of |terms|,
// which is of the order of the tensor's largest entries, not of each entry). float32 unless the
// case says float64; TF32 is off (the default), so cuBLAS and cuDNN compute in float32 FMA.
// Why the bounds (eps = 6e-8 for float32, 1.1e-16 for float64):
//   exact    Philox uniform bits, fill, cast, layout copies: the same values, bit for bit;
//   ewise    element-wise math: CUDA's exp/log/tanh/erf/sin/cos are within 1-2 ulp of glibc's and
//            nvcc fuses a * b + c: a few eps relative -> 1e-5 / 1e-6;
//   reduce   sums, max, logsumexp, softmax, cross-entropy, MSE: both backends sum in double and
//            round once, only the order differs -> 1e-5 / 1e-6;
//   gemm     matmul (cuBLAS vs OpenBLAS), conv2d (cuDNN vs im2col + OpenBLAS): float32 sums of K
//            products in a different order, K <= 600 here: error <= K eps sum|ab| ~ 1e-5 of the
//            scale -> 1e-4 / 1e-4;
//   bn       batch-norm: statistics in double on both, normalization in float32 -> 1e-4 / 1e-5;
//            backward dx = k (M dy - sum dy - xhat sum(dy xhat)) cancels -> 1e-4 / 1e-4;
//   nt_xent  similarities by GEMM (cuBLAS vs OpenBLAS, K = D <= 128 products), then exp, log and
//            sums in double on both; the softmax weights and the loss inherit the similarities'
//            error (<= D eps / tau relative to the scale), and the gradient's GEMMs add
//            another K = 2B-term float32 sum -> gemm's 1e-4 / 1e-4;
//   critic   the pairwise critic: float32 GEMM-like sums over H, then sums over up to B^2 pairs
//            for the weight gradients -> 1e-3 / 1e-4 (gradients), 1e-4 / 1e-4 (scores, loss);
//   f64      float64 cases: 1e-10 / 1e-12.
// A gradient that is zero analytically (the critic's output bias b3 under InfoNCE: adding a
// constant to every score leaves the loss unchanged) is, on both devices, the rounding residue of
// a sum whose terms are of the size of the case's other gradients; its atol is taken relative to
// the largest gradient of the case instead of its own (which is noise).
// Kinks are avoided as in the gradient checks: relu/leaky_relu/abs get inputs at least 0.1 from 0,
// max and max_pool2d distinct values, log/sqrt/pow positive inputs, div denominators away from 0.
// The registry test fails when an op of core/op.h has no case here.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <set>

#include "core/autograd.h"
#include "core/cuda_runtime.h"
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
  DType dtype = DType::f32;
  bool grad = true;
};

struct Tol {
  double rtol, atol;
};

constexpr Tol exact{0, 0}, ewise{1e-5, 1e-6}, reduce{1e-5, 1e-6}, gemm{1e-4, 1e-4},
    bn_fwd{1e-4, 1e-5}, bn_bwd{1e-4, 1e-4}, critic_fwd{1e-4, 1e-4}, critic_bwd{1e-3, 1e-4},
    f64{1e-10, 1e-12};

struct ParityCase {
  Op op;
  std::string name;
  std::vector<Input> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> f;
  Tol fwd;
  Tol bwd = {0, 0};
  bool backward = true;
  int zero_grad_input = -1;  // the input whose gradient is analytically zero, if any
};

// Host values of a case input (dtype as asked), seeded by `gen`.
Tensor make_input(const Input& in, Generator& gen) {
  const Tensor x = test::make_values(in.shape, in.values, gen);
  return in.dtype == DType::f64 ? x : cast(x, in.dtype);
}

Tensor labels_on(const std::vector<int32_t>& l, Device d) {
  return Tensor::from_vector(l, {static_cast<int64_t>(l.size())}).to(d);
}

std::vector<int32_t> some_labels(int64_t n, int64_t classes) {
  std::vector<int32_t> l(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    l[static_cast<size_t>(i)] = static_cast<int32_t>((i * 7 + 3) % classes);
  return l;
}

std::vector<ParityCase> all_cases() {
  std::vector<ParityCase> c;
  using V = std::vector<Tensor>;
  const auto away = Values::away_from_zero;
  const auto pos = Values::positive;
  const auto distinct = Values::distinct;
  auto dev = [](const V& x) { return x[0].device(); };

  // ---- creation and conversion (forward only; x[0] only says which device) ----
  const Input carrier{{1}, Values::normal, DType::f32, false};
  c.push_back({Op::fill,
               "fill float32 [1000]",
               {carrier},
               [dev](const V& x) { return full({1000}, 3.25, DType::f32, dev(x)); },
               exact,
               {},
               false});
  c.push_back({Op::fill,
               "fill int64 [77]",
               {carrier},
               [dev](const V& x) { return cast(full({77}, -5, DType::i64, dev(x)), DType::f64); },
               exact,
               {},
               false});
  c.push_back({Op::uniform,
               "uniform [0, 1) [4099]: the CPU's Philox bits",
               {carrier},
               [dev](const V& x) {
                 Generator g(1234, 5);
                 g.reserve(8);  // start at a nonzero offset
                 return rand({4099}, g, 0, 1, DType::f32, dev(x));
               },
               exact,
               {},
               false});
  c.push_back({Op::uniform,
               "uniform [-2, 3) float64 [1001]",
               {carrier},
               [dev](const V& x) {
                 Generator g(99, 1);
                 return rand({1001}, g, -2, 3, DType::f64, dev(x));
               },
               f64,
               {},
               false});
  c.push_back({Op::normal,
               "normal (1, 2) [4099]",
               {carrier},
               [dev](const V& x) {
                 Generator g(7, 3);
                 g.reserve(12);
                 return randn({4099}, g, 1, 2, DType::f32, dev(x));
               },
               {1e-5, 1e-6},
               {},
               false});
  c.push_back({Op::cast,
               "cast float32 -> int32 -> float64 [500]",
               {{{500}, Values::normal, DType::f32, false}},
               [](const V& x) { return cast(cast(x[0] * 100.0, DType::i32), DType::f64); },
               exact,
               {},
               false});
  c.push_back({Op::cast,
               "cast int64 -> uint8 -> float32 [300]",
               {{{300}, Values::labels10, DType::i64, false}},
               [](const V& x) { return cast(cast(x[0], DType::u8), DType::f32); },
               exact,
               {},
               false});

  // ---- matmul ----
  c.push_back({Op::matmul,
               "matmul [33,17]@[17,45]",
               {{{33, 17}}, {{17, 45}}},
               [](const V& x) { return matmul(x[0], x[1]); },
               gemm,
               gemm});
  c.push_back({Op::matmul,
               "matmul [17,33]^T@[17,45]",
               {{{17, 33}}, {{17, 45}}},
               [](const V& x) { return matmul(x[0], x[1], true, false); },
               gemm,
               gemm});
  c.push_back({Op::matmul,
               "matmul [33,17]@[45,17]^T",
               {{{33, 17}}, {{45, 17}}},
               [](const V& x) { return matmul(x[0], x[1], false, true); },
               gemm,
               gemm});
  c.push_back({Op::matmul,
               "matmul [17,33]^T@[45,17]^T",
               {{{17, 33}}, {{45, 17}}},
               [](const V& x) { return matmul(x[0], x[1], true, true); },
               gemm,
               gemm});
  c.push_back({Op::matmul,
               "matmul [256,600]@[600,128]",
               {{{256, 600}}, {{600, 128}}},
               [](const V& x) { return matmul(x[0], x[1]); },
               gemm,
               gemm});
  c.push_back({Op::matmul,
               "matmul float64 [20,30]^T@[40,20]^T",
               {{{30, 20}, Values::normal, DType::f64}, {{40, 30}, Values::normal, DType::f64}},
               [](const V& x) { return matmul(x[0], x[1], true, true); },
               f64,
               f64});

  // ---- binary, each broadcast pattern ----
  struct Pattern {
    const char* name;
    Shape a, b;
  };
  const Pattern patterns[] = {{"[37,19] and [37,19]", {37, 19}, {37, 19}},
                              {"[37,19] and row [1,19]", {37, 19}, {1, 19}},
                              {"[37,19] and row [19]", {37, 19}, {19}},
                              {"[37,19] and column [37,1]", {37, 19}, {37, 1}},
                              {"[37,19] and scalar []", {37, 19}, {}},
                              {"scalar [] and [37,19]", {}, {37, 19}},
                              {"[37,1] and [1,19]", {37, 1}, {1, 19}},
                              {"[4,6,5,3] and [1,6,1,1]", {4, 6, 5, 3}, {1, 6, 1, 1}},
                              {"[1024,256] and row [1,256]", {1024, 256}, {1, 256}},
                              // split reductions (kernels/cuda/elementwise.cu): 150 and 2 splits
                              {"[512,300] and scalar []", {512, 300}, {}},
                              {"[2048,64] and column [2048,1]", {2048, 64}, {2048, 1}}};
  const std::pair<Op, std::function<Tensor(const Tensor&, const Tensor&)>> binaries[] = {
      {Op::add, [](const Tensor& a, const Tensor& b) { return add(a, b); }},
      {Op::sub, [](const Tensor& a, const Tensor& b) { return sub(a, b); }},
      {Op::mul, [](const Tensor& a, const Tensor& b) { return mul(a, b); }},
      {Op::div, [](const Tensor& a, const Tensor& b) { return div(a, b); }}};
  for (const auto& [op, fn] : binaries)
    for (const Pattern& p : patterns)
      c.push_back({op,
                   std::string(op_name(op)) + " " + p.name,
                   {{p.a}, {p.b, op == Op::div ? pos : Values::normal}},
                   [fn = fn](const V& x) { return fn(x[0], x[1]); },
                   ewise,
                   reduce});

  // ResNet's residual add (same 4-D shapes) and its global average pool (mean over H*W).
  c.push_back({Op::add,
               "add [8,64,16,16] and [8,64,16,16] (ResNet residual)",
               {{{8, 64, 16, 16}}, {{8, 64, 16, 16}}},
               [](const V& x) { return add(x[0], x[1]); },
               ewise,
               ewise});
  c.push_back({Op::mean,
               "mean [16,512,4,4] as [16,512,16] axis -1 (ResNet global average pool)",
               {{{16, 512, 4, 4}}},
               [](const V& x) {
                 return mean(reshape(x[0], {16, 512, -1}), -1);
               },
               reduce,
               reduce});

  // ---- unary ----
  const Shape u{33, 31};
  c.push_back({Op::neg, "neg [33,31]", {{u}}, [](const V& x) { return neg(x[0]); }, ewise, ewise});
  c.push_back({Op::exp, "exp [33,31]", {{u}}, [](const V& x) { return exp(x[0]); }, ewise, ewise});
  c.push_back(
      {Op::log, "log [33,31]", {{u, pos}}, [](const V& x) { return log(x[0]); }, ewise, ewise});
  c.push_back(
      {Op::sqrt, "sqrt [33,31]", {{u, pos}}, [](const V& x) { return sqrt(x[0]); }, ewise, ewise});
  c.push_back({Op::pow,
               "pow [33,31] ^ 2.5",
               {{u, pos}},
               [](const V& x) { return pow(x[0], 2.5); },
               ewise,
               ewise});
  c.push_back({Op::pow,
               "pow [33,31] ^ -1.5",
               {{u, pos}},
               [](const V& x) { return pow(x[0], -1.5); },
               ewise,
               ewise});
  c.push_back(
      {Op::abs, "abs [33,31]", {{u, away}}, [](const V& x) { return abs(x[0]); }, ewise, ewise});
  c.push_back(
      {Op::tanh, "tanh [33,31]", {{u}}, [](const V& x) { return tanh(x[0]); }, ewise, ewise});
  c.push_back({Op::sigmoid,
               "sigmoid [33,31]",
               {{u}},
               [](const V& x) { return sigmoid(x[0]); },
               ewise,
               ewise});
  c.push_back({Op::erf, "erf [33,31]", {{u}}, [](const V& x) { return erf(x[0]); }, ewise, ewise});
  c.push_back(
      {Op::relu, "relu [33,31]", {{u, away}}, [](const V& x) { return relu(x[0]); }, ewise, ewise});
  c.push_back({Op::leaky_relu,
               "leaky_relu [33,31] slope 0.01",
               {{u, away}},
               [](const V& x) { return leaky_relu(x[0]); },
               ewise,
               ewise});
  c.push_back({Op::leaky_relu,
               "leaky_relu float64 [33,31] slope 0.3",
               {{u, away, DType::f64}},
               [](const V& x) { return leaky_relu(x[0], 0.3); },
               f64,
               f64});

  // ---- reductions ----
  c.push_back({Op::sum,
               "sum [1000,37] all (CUB)",
               {{{1000, 37}}},
               [](const V& x) { return sum(x[0]); },
               reduce,
               reduce});
  c.push_back({Op::sum,
               "sum [257,33] axis 0",
               {{{257, 33}}},
               [](const V& x) { return sum(x[0], 0); },
               reduce,
               reduce});
  c.push_back({Op::sum,
               "sum [257,33] axis 1 keepdim",
               {{{257, 33}}},
               [](const V& x) { return sum(x[0], 1, true); },
               reduce,
               reduce});
  c.push_back({Op::sum,
               "sum [4,300,5] axis 1",
               {{{4, 300, 5}}},
               [](const V& x) { return sum(x[0], 1); },
               reduce,
               reduce});
  c.push_back({Op::mean,
               "mean [1000,37] all",
               {{{1000, 37}}},
               [](const V& x) { return mean(x[0]); },
               reduce,
               reduce});
  c.push_back({Op::mean,
               "mean [1024,2] axis 0",
               {{{1024, 2}}},
               [](const V& x) { return mean(x[0], 0); },
               reduce,
               reduce});
  c.push_back({Op::mean,
               "mean float64 [3,40,7] axis -1",
               {{{3, 40, 7}, Values::normal, DType::f64}},
               [](const V& x) { return mean(x[0], -1); },
               f64,
               f64});
  c.push_back({Op::max,
               "max [33,100] axis 1",
               {{{33, 100}, distinct}},
               [](const V& x) { return max(x[0], 1); },
               exact,
               exact});
  c.push_back({Op::max,
               "max [50,7] axis 0 keepdim",
               {{{50, 7}, distinct}},
               [](const V& x) { return max(x[0], 0, true); },
               exact,
               exact});
  c.push_back({Op::logsumexp,
               "logsumexp [64,1024] axis 1",
               {{{64, 1024}}},
               [](const V& x) { return logsumexp(x[0], 1); },
               reduce,
               ewise});
  c.push_back({Op::logsumexp,
               "logsumexp [50,7] axis 0",
               {{{50, 7}}},
               [](const V& x) { return logsumexp(x[0], 0); },
               reduce,
               ewise});
  c.push_back({Op::softmax,
               "softmax [64,10] axis -1",
               {{{64, 10}}},
               [](const V& x) { return softmax(x[0], -1); },
               reduce,
               reduce});
  c.push_back({Op::softmax,
               "softmax [20,30] axis 0",
               {{{20, 30}}},
               [](const V& x) { return softmax(x[0], 0); },
               reduce,
               reduce});
  c.push_back({Op::log_softmax,
               "log_softmax [64,10] axis -1",
               {{{64, 10}}},
               [](const V& x) { return log_softmax(x[0], -1); },
               reduce,
               reduce});
  c.push_back({Op::log_softmax,
               "log_softmax [4,6,5] axis 1",
               {{{4, 6, 5}}},
               [](const V& x) { return log_softmax(x[0], 1); },
               reduce,
               reduce});

  // ---- losses ----
  c.push_back({Op::cross_entropy,
               "cross_entropy [128,10]",
               {{{128, 10}}},
               [](const V& x) {
                 return cross_entropy(x[0], labels_on(some_labels(128, 10), x[0].device()));
               },
               reduce,
               reduce});
  c.push_back({Op::mse,
               "mse [64,33]",
               {{{64, 33}}, {{64, 33}}},
               [](const V& x) { return mse_loss(x[0], x[1]); },
               reduce,
               reduce});
  // NT-Xent: tiles of whole rows on both devices, but of different heights (CPU 2^19 / 2B rows,
  // CUDA 2^23 / 2B, or the case's own): 100 in tiles of 7 and 4100 in CUDA's automatic 2046 end
  // in a partial tile; 1030 is one tile on CUDA and three on the CPU.
  auto ntx = [](double tau, int64_t tile) {
    return [tau, tile](const V& x) { return nt_xent(x[0], tau, tile); };
  };
  c.push_back({Op::nt_xent, "nt_xent [8,5] tau 0.5", {{{8, 5}}}, ntx(0.5, 0), gemm, gemm});
  c.push_back(
      {Op::nt_xent, "nt_xent [100,64] tau 0.1 tile 7", {{{100, 64}}}, ntx(0.1, 7), gemm, gemm});
  c.push_back({Op::nt_xent, "nt_xent [1030,128] tau 0.2", {{{1030, 128}}}, ntx(0.2, 0), gemm,
               gemm});
  c.push_back(
      {Op::nt_xent, "nt_xent [4100,32] tau 0.07 (3 CUDA tiles)", {{{4100, 32}}}, ntx(0.07, 0),
       gemm, gemm});
  c.push_back({Op::nt_xent,
               "nt_xent float64 [12,6] tau 0.3 tile 5",
               {{{12, 6}, Values::normal, DType::f64}},
               ntx(0.3, 5),
               f64,
               f64});

  // ---- images ----
  c.push_back({Op::conv2d,
               "conv2d [16,1,28,28] * [32,1,3,3] + b (MNIST block 1)",
               {{{16, 1, 28, 28}}, {{32, 1, 3, 3}}, {{32}}},
               [](const V& x) { return conv2d(x[0], x[1], x[2], 1, 0); },
               gemm,
               gemm});
  c.push_back({Op::conv2d,
               "conv2d [8,32,13,13] * [64,32,3,3] + b (MNIST block 2)",
               {{{8, 32, 13, 13}}, {{64, 32, 3, 3}}, {{64}}},
               [](const V& x) { return conv2d(x[0], x[1], x[2], 1, 0); },
               gemm,
               gemm});
  c.push_back({Op::conv2d,
               "conv2d [4,3,9,9] * [5,3,3,3] stride 2 pad 1, no bias",
               {{{4, 3, 9, 9}}, {{5, 3, 3, 3}}},
               [](const V& x) { return conv2d(x[0], x[1], Tensor(), 2, 1); },
               gemm,
               gemm});
  c.push_back({Op::conv2d,
               "conv2d float64 [2,2,6,5] * [3,2,2,3] + b stride 1 pad 1",
               {{{2, 2, 6, 5}, Values::normal, DType::f64},
                {{3, 2, 2, 3}, Values::normal, DType::f64},
                {{3}, Values::normal, DType::f64}},
               [](const V& x) { return conv2d(x[0], x[1], x[2], 1, 1); },
               f64,
               f64});
  // ResNet-18's convolutions at its shapes (batch 4; K = C*KH*KW <= 1152 keeps the gemm bound):
  // 3x3 stride 1 and stride 2 pad 1, the 1x1 stride 2 projection shortcut, both stems.
  c.push_back({Op::conv2d,
               "conv2d [4,3,32,32] * [64,3,3,3] s1 p1 (ResNet cifar stem)",
               {{{4, 3, 32, 32}}, {{64, 3, 3, 3}}},
               [](const V& x) { return conv2d(x[0], x[1], Tensor(), 1, 1); },
               gemm,
               gemm});
  c.push_back({Op::conv2d,
               "conv2d [4,64,16,16] * [64,64,3,3] s1 p1 (ResNet layer1)",
               {{{4, 64, 16, 16}}, {{64, 64, 3, 3}}},
               [](const V& x) { return conv2d(x[0], x[1], Tensor(), 1, 1); },
               gemm,
               gemm});
  c.push_back({Op::conv2d,
               "conv2d [4,128,8,8] * [128,128,3,3] s2 p1 (ResNet down-sampling 3x3)",
               {{{4, 128, 8, 8}}, {{128, 128, 3, 3}}},
               [](const V& x) { return conv2d(x[0], x[1], Tensor(), 2, 1); },
               gemm,
               gemm});
  c.push_back({Op::conv2d,
               "conv2d [4,128,8,8] * [256,128,1,1] s2 p0 (ResNet projection shortcut)",
               {{{4, 128, 8, 8}}, {{256, 128, 1, 1}}},
               [](const V& x) { return conv2d(x[0], x[1], Tensor(), 2, 0); },
               gemm,
               gemm});
  c.push_back({Op::conv2d,
               "conv2d [2,3,32,32] * [64,3,7,7] s2 p3 (ResNet imagenet stem)",
               {{{2, 3, 32, 32}}, {{64, 3, 7, 7}}},
               [](const V& x) { return conv2d(x[0], x[1], Tensor(), 2, 3); },
               gemm,
               gemm});
  c.push_back({Op::avg_pool2d,
               "avg_pool2d [8,32,26,26] k2",
               {{{8, 32, 26, 26}}},
               [](const V& x) { return avg_pool2d(x[0], 2); },
               ewise,
               ewise});
  c.push_back({Op::avg_pool2d,
               "avg_pool2d [4,5,11,11] k2 (the last row and column in no window)",
               {{{4, 5, 11, 11}}},
               [](const V& x) { return avg_pool2d(x[0], 2); },
               ewise,
               ewise});
  c.push_back({Op::avg_pool2d,
               "avg_pool2d [2,3,9,9] k3 s2 p1",
               {{{2, 3, 9, 9}}},
               [](const V& x) { return avg_pool2d(x[0], 3, 2, 1); },
               ewise,
               ewise});
  c.push_back({Op::max_pool2d,
               "max_pool2d [8,32,26,26] k2",
               {{{8, 32, 26, 26}, distinct}},
               [](const V& x) { return max_pool2d(x[0], 2); },
               exact,
               exact});
  c.push_back({Op::max_pool2d,
               "max_pool2d [2,3,9,9] k3 s2 p1",
               {{{2, 3, 9, 9}, distinct}},
               [](const V& x) { return max_pool2d(x[0], 3, 2, 1); },
               exact,
               exact});
  c.push_back({Op::batch_norm,
               "batch_norm train [64,32,13,13] affine",
               {{{64, 32, 13, 13}}, {{32}}, {{32}}},
               [](const V& x) { return batch_norm(x[0], x[1], x[2], Tensor(), Tensor(), true); },
               bn_fwd,
               bn_bwd});
  c.push_back(
      {Op::batch_norm,
       "batch_norm train [1024,2] no affine (the normalization layer)",
       {{{1024, 2}}},
       [](const V& x) { return batch_norm(x[0], Tensor(), Tensor(), Tensor(), Tensor(), true); },
       bn_fwd,
       bn_bwd});
  c.push_back({Op::batch_norm,
               "batch_norm eval [64,16,5,5] affine",
               {{{64, 16, 5, 5}}, {{16}}, {{16}}},
               [](const V& x) {
                 std::vector<float> m(16), v(16);
                 for (int k = 0; k < 16; ++k)
                   m[static_cast<size_t>(k)] = 0.1f * static_cast<float>(k - 8),
                   v[static_cast<size_t>(k)] = 0.5f + 0.1f * static_cast<float>(k);
                 return batch_norm(x[0], x[1], x[2], Tensor::from_vector(m, {16}).to(x[0].device()),
                                   Tensor::from_vector(v, {16}).to(x[0].device()), false);
               },
               bn_fwd,
               bn_bwd});
  c.push_back({Op::max_pool2d,
               "max_pool2d [4,64,16,16] k3 s2 p1 (ResNet imagenet stem)",
               {{{4, 64, 16, 16}, distinct}},
               [](const V& x) { return max_pool2d(x[0], 3, 2, 1); },
               exact,
               exact});
  c.push_back({Op::batch_norm,
               "batch_norm train [16,128,8,8] affine (ResNet layer2)",
               {{{16, 128, 8, 8}}, {{128}}, {{128}}},
               [](const V& x) { return batch_norm(x[0], x[1], x[2], Tensor(), Tensor(), true); },
               bn_fwd,
               bn_bwd});
  c.push_back({Op::batch_norm,
               "batch_norm float64 train [6,3,4,4] affine",
               {{{6, 3, 4, 4}, Values::normal, DType::f64},
                {{3}, Values::normal, DType::f64},
                {{3}, Values::normal, DType::f64}},
               [](const V& x) { return batch_norm(x[0], x[1], x[2], Tensor(), Tensor(), true); },
               f64,
               f64});

  // ---- shape and layout ----
  c.push_back({Op::reshape,
               "reshape [12,35] -> [35,12]",
               {{{12, 35}}},
               [](const V& x) {
                 return reshape(x[0], {35, 12}) * 1.0;
               },
               exact,
               exact});
  c.push_back({Op::transpose,
               "transpose [37,45]",
               {{{37, 45}}},
               [](const V& x) { return transpose(x[0]); },
               exact,
               exact});
  c.push_back({Op::transpose,
               "transpose int32 [70,33]",
               {{{70, 33}, Values::labels10, DType::i32, false}},
               [](const V& x) { return cast(transpose(x[0]), DType::f32); },
               exact,
               {},
               false});
  c.push_back({Op::slice,
               "slice [50,7] rows 10..40",
               {{{50, 7}}},
               [](const V& x) { return slice(x[0], 10, 40) * 1.0; },
               exact,
               exact});
  c.push_back({Op::concat,
               "concat [20,3] + [30,3] axis 0",
               {{{20, 3}}, {{30, 3}}},
               [](const V& x) {
                 return concat({x[0], x[1]}, 0);
               },
               exact,
               exact});
  c.push_back({Op::concat,
               "concat [33,2] + [33,4] axis 1",
               {{{33, 2}}, {{33, 4}}},
               [](const V& x) {
                 return concat({x[0], x[1]}, 1);
               },
               exact,
               exact});
  c.push_back({Op::concat,
               "concat [2,1,5,5] + [2,3,5,5] axis 1",
               {{{2, 1, 5, 5}}, {{2, 3, 5, 5}}},
               [](const V& x) {
                 return concat({x[0], x[1]}, 1);
               },
               exact,
               exact});

  // ---- the pairwise critic (u, v, W2, b2, w3, b3) ----
  auto critic_inputs = [](int64_t Bu, int64_t Bv, int64_t H, DType t = DType::f32) {
    return std::vector<Input>{{{Bu, H}, Values::normal, t}, {{Bv, H}, Values::normal, t},
                              {{H, H}, Values::normal, t},  {{H}, Values::normal, t},
                              {{1, H}, Values::normal, t},  {{1}, Values::normal, t}};
  };
  // W2 ~ N(0, 1) makes h2 large for large H; scale it like PyTorch's init (1/sqrt(H)).
  auto scores = [](double slope, int64_t tile) {
    return [slope, tile](const V& x) {
      const double s = 1.0 / std::sqrt(static_cast<double>(x[0].size(1)));
      return pairwise_mlp_scores(x[0], x[1], x[2] * s, x[3], x[4] * s, x[5], slope, tile);
    };
  };
  auto infonce = [](double slope, int64_t tile) {
    return [slope, tile](const V& x) {
      const double s = 1.0 / std::sqrt(static_cast<double>(x[0].size(1)));
      return pairwise_mlp_infonce(x[0], x[1], x[2] * s, x[3], x[4] * s, x[5], slope, tile);
    };
  };
  c.push_back({Op::pairwise_mlp, "pairwise_mlp u [37,32] v [45,32] H 32", critic_inputs(37, 45, 32),
               scores(0.01, 0), critic_fwd, critic_bwd});
  c.push_back({Op::pairwise_mlp, "pairwise_mlp u [64,70] v [64,70] H 70 tile 5 slope 0.2",
               critic_inputs(64, 64, 70), scores(0.2, 5), critic_fwd, critic_bwd});
  c.push_back({Op::pairwise_mlp, "pairwise_mlp float64 u [9,5] v [11,5] H 5 tile 2",
               critic_inputs(9, 11, 5, DType::f64), scores(0.2, 2), f64, f64});
  // H 800: past the dz kernel's shared accumulators (kernels/cuda/pairwise.cu), so dw3 and db2
  // go through cuBLAS instead.
  c.push_back({Op::pairwise_mlp, "pairwise_mlp u [20,800] v [24,800] H 800 (unfused dw3, db2)",
               critic_inputs(20, 24, 800), scores(0.01, 0), critic_fwd, critic_bwd});
  c.push_back({Op::pairwise_mlp_infonce, "pairwise_mlp_infonce B 24 H 800 (unfused dw3, db2)",
               critic_inputs(24, 24, 800), infonce(0.2, 0), critic_fwd, critic_bwd, true, 5});
  c.push_back({Op::pairwise_mlp_infonce, "pairwise_mlp_infonce B 64 H 32",
               critic_inputs(64, 64, 32), infonce(0.01, 0), critic_fwd, critic_bwd, true, 5});
  c.push_back({Op::pairwise_mlp_infonce, "pairwise_mlp_infonce B 100 H 70 tile 7 slope 0.2",
               critic_inputs(100, 100, 70), infonce(0.2, 7), critic_fwd, critic_bwd, true, 5});
  c.push_back({Op::pairwise_mlp_infonce, "pairwise_mlp_infonce B 256 H 256 (the paper's width)",
               critic_inputs(256, 256, 256), infonce(0.01, 0), critic_fwd, critic_bwd, true, 5});
  c.push_back({Op::pairwise_mlp_infonce, "pairwise_mlp_infonce float64 B 12 H 6 tile 5",
               critic_inputs(12, 12, 6, DType::f64), infonce(0.2, 5), f64, f64, true, 5});

  // ---- optimizer updates (in place; each case returns the updated state, concatenated) ----
  const Input p_in{{1000}, Values::normal, DType::f32, false};
  c.push_back({Op::sgd_step,
               "sgd_step momentum 0.9 nesterov weight decay 0.01, two steps",
               {p_in, p_in, p_in},
               [](const V& x) {
                 Tensor p = x[0].clone(), buf = zeros_like(x[0]);
                 SgdStep s;
                 s.lr = 0.1, s.momentum = 0.9, s.weight_decay = 0.01, s.nesterov = true,
                 s.first = true;
                 sgd_step(p, x[1], buf, s);
                 s.first = false, s.grad_scale = 0.5;
                 sgd_step(p, x[2], buf, s);
                 return concat({p, buf}, 0);
               },
               ewise,
               {},
               false});
  c.push_back({Op::adam_step,
               "adam_step L2 0.01, then AdamW, steps 1 and 2",
               {p_in, p_in, p_in},
               [](const V& x) {
                 Tensor p = x[0].clone(), m = zeros_like(x[0]), v = zeros_like(x[0]);
                 AdamStep s;
                 s.lr = 1e-3, s.weight_decay = 0.01, s.step = 1;
                 adam_step(p, x[1], m, v, s);
                 s.decoupled = true, s.step = 2;
                 adam_step(p, x[2], m, v, s);
                 return concat({p, m, v}, 0);
               },
               {1e-5, 1e-6},
               {},
               false});
  return c;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : test::values(cast(t.detach(), DType::f64))) m = std::max(m, std::fabs(v));
  return m;
}

// |actual - expected| <= rtol |expected| + atol max(max|expected|, scale_floor).
void check_parity(const Tensor& actual, const Tensor& expected, const Tol& tol,
                  const std::string& what, double scale_floor = 0) {
  REQUIRE_MESSAGE(actual.defined(), what << ": undefined");
  REQUIRE_MESSAGE(actual.device().is_cpu(), what << ": compare on the cpu");
  CHECK_MESSAGE(actual.shape() == expected.shape(),
                what << ": shape " << actual.shape().str() << " vs " << expected.shape().str());
  CHECK_MESSAGE(actual.dtype() == expected.dtype(), what << ": dtype");
  const std::vector<double> a = test::values(cast(actual.detach(), DType::f64));
  const std::vector<double> e = test::values(cast(expected.detach(), DType::f64));
  double scale = scale_floor;
  for (double v : e) scale = std::max(scale, std::fabs(v));
  test::check_close(a, e, tol.rtol, tol.atol * scale, what);
}

}  // namespace

TEST_CASE("every op of core/op.h has a CUDA parity case") {
  std::set<Op> covered;
  for (const ParityCase& pc : all_cases()) covered.insert(pc.op);
  for (size_t i = 0; i < op_count; ++i) {
    const Op op = static_cast<Op>(i);
    CHECK_MESSAGE(covered.count(op), "op '" << op_name(op) << "' has no CUDA parity case");
  }
}

TEST_CASE("every op gives the CPU's results on CUDA, forward and backward") {
  const Device gpu = Device::cuda(0), cpu = Device::cpu();
  uint64_t seed = 100;
  for (const ParityCase& pc : all_cases()) {
    CAPTURE(pc.name);
    Generator gen(seed++);
    std::vector<Tensor> xc, xg;
    for (const Input& in : pc.inputs) {
      Tensor host = make_input(in, gen);
      Tensor dev = host.to(gpu);
      const bool grad = pc.backward && in.grad && is_floating(in.dtype);
      if (grad) {
        host.set_requires_grad(true);
        dev.set_requires_grad(true);
      }
      xc.push_back(host);
      xg.push_back(dev);
    }
    Tensor yc = pc.f(xc), yg = pc.f(xg);
    REQUIRE_MESSAGE(yg.device() == gpu, pc.name << ": the CUDA result is on " << yg.device().str());
    check_parity(yg.to(cpu), yc, pc.fwd, pc.name + " forward");
    if (!pc.backward) continue;
    const Tensor r = randn(yc.shape(), gen, 0, 1, yc.dtype());
    sum(yc * r).backward();
    sum(yg * r.to(gpu)).backward();
    double case_scale = 0;  // the largest CPU gradient of the case
    for (const Tensor& x : xc)
      if (x.requires_grad() && x.grad().defined())
        case_scale = std::max(case_scale, max_abs(x.grad()));
    for (size_t k = 0; k < xc.size(); ++k) {
      if (!xc[k].requires_grad()) continue;
      REQUIRE_MESSAGE(xg[k].grad().defined(), pc.name << ": no CUDA gradient for input " << k);
      const bool zero = static_cast<int>(k) == pc.zero_grad_input;
      check_parity(xg[k].grad().to(cpu), xc[k].grad(), pc.bwd,
                   pc.name + " gradient of input " + std::to_string(k), zero ? case_scale : 0);
    }
  }
}

TEST_CASE("batch_norm's running statistics move the same way on CUDA") {
  Generator gen(5);
  for (const Shape& shape : {Shape{64, 32, 13, 13}, Shape{1024, 2}}) {
    CAPTURE(shape.str());
    const int64_t C = shape[1];
    Tensor x = randn(shape, gen) * 2.0 + 0.5;
    Tensor rm = rand({C}, gen), rv = rand({C}, gen, 0.5, 1.5);
    Tensor rm_g = rm.to(Device::cuda()), rv_g = rv.to(Device::cuda());
    NoGradGuard no_grad;
    batch_norm(x, Tensor(), Tensor(), rm, rv, true, 0.1, 1e-5);
    batch_norm(x.to(Device::cuda()), Tensor(), Tensor(), rm_g, rv_g, true, 0.1, 1e-5);
    check_parity(rm_g.to(Device::cpu()), rm, bn_fwd, "running_mean");
    check_parity(rv_g.to(Device::cpu()), rv, bn_fwd, "running_var");
  }
}

TEST_CASE("pairwise_mlp_infonce without gradients: fused scores and row log-sum-exp") {
  Generator gen(11);
  for (int64_t B : {64, 300}) {
    CAPTURE(B);
    const int64_t H = 64;
    const double s = 1.0 / std::sqrt(static_cast<double>(H));
    Tensor u = randn({B, H}, gen), v = randn({B, H}, gen), W2 = randn({H, H}, gen) * s,
           b2 = randn({H}, gen), w3 = randn({1, H}, gen) * s, b3 = randn({1}, gen);
    auto g = [](const Tensor& t) { return t.to(Device::cuda()); };
    NoGradGuard no_grad;
    const Tensor lc = pairwise_mlp_infonce(u, v, W2, b2, w3, b3);
    const Tensor lg = pairwise_mlp_infonce(g(u), g(v), g(W2), g(b2), g(w3), g(b3));
    check_parity(lg.to(Device::cpu()), lc, critic_fwd, "InfoNCE loss (no gradients)");
  }
}

TEST_CASE("cross_entropy on CUDA refuses a label outside [0, C)") {
  Tensor logits = zeros({4, 3}, DType::f32, Device::cuda());
  Tensor labels = Tensor::from_vector<int32_t>({0, 1, 3, 2}, {4}).to(Device::cuda());
  test::check_error([&] { cross_entropy(logits, labels); }, {"cross_entropy", "outside [0, 3)"});
}
