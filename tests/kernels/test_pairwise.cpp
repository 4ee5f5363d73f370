// The tiled pairwise critic and its fusion with InfoNCE, against a plain implementation that
// materializes every pair's activations with the engine's ordinary ops, in double precision.
// Both compute the same sums in a different order, so values and gradients agree to rounding:
// rtol 1e-10, atol 1e-12 (double's unit roundoff is 1.1e-16; the largest sums have ~B*H terms).
#include <doctest/doctest.h>

#include <cmath>

#include "core/autograd.h"
#include "core/random.h"
#include "kernels/ops.h"
#include "kernels/pairwise.h"
#include "test_util.h"

using namespace nidim;
using nidim::test::check_close;

namespace {

struct Critic {
  Tensor u, v, W2, b2, w3, b3;
  std::vector<Tensor> all() const { return {u, v, W2, b2, w3, b3}; }
};

Critic make_critic(int64_t Bu, int64_t Bv, int64_t H, Generator& gen) {
  auto leaf = [&](Shape s, double scale) {
    return (randn(s, gen, 0, scale, DType::f64)).set_requires_grad(true);
  };
  return {leaf({Bu, H}, 1.0),
          leaf({Bv, H}, 1.0),
          leaf({H, H}, 1.0 / std::sqrt(double(H))),
          leaf({H}, 0.3),
          leaf({1, H}, 1.0 / std::sqrt(double(H))),
          leaf({1}, 0.3)};
}

// S with every pair's activations materialized: [Bu, Bv, H] by broadcasting.
Tensor plain_scores(const Critic& c, double slope) {
  const int64_t Bu = c.u.size(0), Bv = c.v.size(0), H = c.u.size(1);
  Tensor h1 = leaky_relu(reshape(c.u, {Bu, 1, H}) + reshape(c.v, {1, Bv, H}), slope);
  Tensor h2 = leaky_relu(
      matmul(reshape(h1, {Bu * Bv, H}), c.W2, false, true) + reshape(c.b2, {1, H}), slope);
  return reshape(matmul(h2, c.w3, false, true) + c.b3, {Bu, Bv});
}

Tensor plain_infonce(const Critic& c, double slope) {
  const int64_t B = c.u.size(0);
  Tensor S = plain_scores(c, slope);
  std::vector<double> eye(static_cast<size_t>(B * B), 0.0);
  for (int64_t i = 0; i < B; ++i) eye[static_cast<size_t>(i * B + i)] = 1.0;
  Tensor diag = sum(S * Tensor::from_vector(eye, {B, B}), 1);
  return mean(logsumexp(S, 1)) - mean(diag) - std::log(static_cast<double>(B));
}

std::vector<std::vector<double>> grads_of(const Critic& c) {
  std::vector<std::vector<double>> g;
  for (const Tensor& t : c.all()) g.push_back(t.grad().to_vector<double>());
  return g;
}

void zero(const Critic& c) {
  for (Tensor t : c.all()) t.zero_grad();
}

const char* names[] = {"du", "dv", "dW2", "db2", "dw3", "db3"};

}  // namespace

TEST_CASE("tiled pairwise scores equal the materialized ones, values and gradients") {
  Generator gen(21);
  struct Size {
    int64_t Bu, Bv, H, tile;
    double slope;
  };
  for (const Size& z : {Size{7, 5, 3, 2, 0.01}, Size{16, 16, 8, 0, 0.2}, Size{33, 20, 12, 5, 0.01},
                        Size{9, 9, 16, 9, 0.0}}) {
    const std::string what =
        fmt::format("Bu {} Bv {} H {} tile {} slope {}", z.Bu, z.Bv, z.H, z.tile, z.slope);
    CAPTURE(what);
    Critic c = make_critic(z.Bu, z.Bv, z.H, gen);
    const Tensor R = randn({z.Bu, z.Bv}, gen, 0, 1, DType::f64);
    Tensor plain = plain_scores(c, z.slope);
    sum(plain * R).backward();
    const auto want = grads_of(c);
    zero(c);
    Tensor tiled = pairwise_mlp_scores(c.u, c.v, c.W2, c.b2, c.w3, c.b3, z.slope, z.tile);
    check_close(tiled.to_vector<double>(), plain.to_vector<double>(), 1e-10, 1e-12, what + " S");
    sum(tiled * R).backward();
    const auto got = grads_of(c);
    for (size_t k = 0; k < got.size(); ++k)
      check_close(got[k], want[k], 1e-10, 1e-12, what + " " + names[k]);
  }
}

TEST_CASE("fused InfoNCE equals the materialized InfoNCE, values and gradients") {
  Generator gen(22);
  struct Size {
    int64_t B, H, tile;
  };
  for (const Size& z : {Size{5, 4, 1}, Size{12, 6, 5}, Size{32, 16, 0}, Size{64, 8, 7}}) {
    const std::string what = fmt::format("B {} H {} tile {}", z.B, z.H, z.tile);
    CAPTURE(what);
    Critic c = make_critic(z.B, z.B, z.H, gen);
    Tensor plain = plain_infonce(c, 0.01);
    (plain * 3.0).backward();  // an upstream gradient other than 1
    const auto want = grads_of(c);
    zero(c);
    Tensor fused = pairwise_mlp_infonce(c.u, c.v, c.W2, c.b2, c.w3, c.b3, 0.01, z.tile);
    check_close({fused.item()}, {plain.item()}, 1e-12, 1e-12, what + " loss");
    (fused * 3.0).backward();
    const auto got = grads_of(c);
    for (size_t k = 0; k < got.size(); ++k)
      check_close(got[k], want[k], 1e-10, 1e-12, what + " " + names[k]);
  }
}

TEST_CASE("InfoNCE never exceeds log B") {
  // -loss = I_NCE <= log B holds for any scores: here scores that make the diagonal dominate.
  Generator gen(23);
  for (int64_t B : {4, 16, 64}) {
    Critic c = make_critic(B, B, 8, gen);
    NoGradGuard no_grad;
    const Tensor u = c.u * 50.0, v = c.u * 50.0;  // pair (i, i) sees u_i + u_i: strongly matched
    const double mi = -pairwise_mlp_infonce(u, v, c.W2, c.b2, c.w3, c.b3).item();
    CHECK(mi <= std::log(static_cast<double>(B)) + 1e-12);
  }
}

TEST_CASE("float32 tiled InfoNCE matches float64 to float32 accuracy") {
  // Same inputs rounded to float32: sums of ~B*H products of O(1) terms, rtol 1e-4.
  Generator gen(24);
  Critic c = make_critic(48, 48, 32, gen);
  NoGradGuard no_grad;
  const double want = pairwise_mlp_infonce(c.u, c.v, c.W2, c.b2, c.w3, c.b3).item();
  auto f = [](const Tensor& t) { return cast(t.detach(), DType::f32); };
  const double got =
      pairwise_mlp_infonce(f(c.u), f(c.v), f(c.W2), f(c.b2), f(c.w3), f(c.b3)).item();
  CHECK(got == doctest::Approx(want).epsilon(1e-4));
}
