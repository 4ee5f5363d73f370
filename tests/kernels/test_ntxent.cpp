// The fused NT-Xent loss (kernels/cpu/ntxent.cpp) against the same loss composed from the
// engine's ordinary ops, which materialize the [2B, 2B] similarities: normalize with sqrt and
// div, matmul, the diagonal masked with -inf, cross_entropy with labels (i + B) mod 2B.
// In double precision both compute the same sums in a different order (the fused op sums
// exponentials in double after subtracting the row max; cross_entropy does the same over a row
// that has one -inf), so values and gradients agree to rounding: rtol 1e-10 and atol 1e-12
// (double's unit roundoff is 1.1e-16; the largest sums have 2B * D <= ~10^4 terms, gradients
// are of order 1 / (2B tau)). Sizes include several tiles whose last one is partial, the
// automatic tile at 2B = 1030 (3 tiles of 509 rows), and an upstream gradient other than 1.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "core/random.h"
#include "kernels/ops.h"
#include "test_util.h"

using namespace nidim;
using nidim::test::check_close;

namespace {

Tensor composed_nt_xent(const Tensor& z, double tau) {
  const int64_t N = z.size(0);
  Tensor zn = z / sqrt(sum(z * z, 1, true));
  Tensor S = matmul(zn, zn, false, true) / tau;
  std::vector<double> mask(static_cast<size_t>(N * N), 0.0);
  std::vector<int64_t> labels(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) {
    mask[static_cast<size_t>(i * N + i)] = -std::numeric_limits<double>::infinity();
    labels[static_cast<size_t>(i)] = (i + N / 2) % N;
  }
  Tensor masked = S + cast(Tensor::from_vector(mask, {N, N}), z.dtype());
  return cross_entropy(masked, Tensor::from_vector(labels, {N}));
}

// Rows of different norms (0.5 to 3.5): the normalization's gradient matters.
Tensor make_z(int64_t N, int64_t D, Generator& gen) {
  return randn({N, D}, gen, 0, 1, DType::f64) * (rand({N, 1}, gen, 0, 1, DType::f64) * 3.0 + 0.5);
}

}  // namespace

TEST_CASE("nt_xent equals the loss composed from matmul and cross_entropy, values and gradients") {
  Generator gen(31);
  struct Size {
    int64_t N, D, tile;
    double tau;
  };
  for (const Size& s : {Size{4, 3, 0, 0.5}, Size{10, 4, 3, 0.2}, Size{64, 16, 7, 0.07},
                        Size{64, 16, 64, 0.07}, Size{1030, 8, 0, 0.1}}) {
    const std::string what =
        "nt_xent [" + std::to_string(s.N) + "," + std::to_string(s.D) + "] tile " +
        std::to_string(s.tile) + " tau " + std::to_string(s.tau);
    CAPTURE(what);
    Tensor z = make_z(s.N, s.D, gen).set_requires_grad(true);
    Tensor want = composed_nt_xent(z, s.tau);
    (want * 2.5).backward();  // an upstream gradient other than 1
    const std::vector<double> want_dz = z.grad().to_vector<double>();
    z.zero_grad();
    Tensor got = nt_xent(z, s.tau, s.tile);
    CHECK(got.ndim() == 0);
    check_close({got.item()}, {want.item()}, 1e-12, 1e-12, what + " loss");
    (got * 2.5).backward();
    check_close(z.grad().to_vector<double>(), want_dz, 1e-10, 1e-12, what + " dz");
  }
}

TEST_CASE("nt_xent in float32 agrees with float64 and does not depend on the tile") {
  // float32 similarities carry errors of a few ulps of 1/tau; the loss (about log(2B - 1)) and
  // the gradients (of order 1 / (2B tau)) then agree with double to ~1e-5 relative. Tiles change
  // only which rows share a GEMM (BLAS may block a different M differently), so the loss agrees
  // across tiles to float32 rounding of its row sums: 1e-6 relative.
  Generator gen(32);
  Tensor z64 = make_z(300, 32, gen);
  Tensor z32 = cast(z64, DType::f32);
  NoGradGuard no_grad;
  const double ref = nt_xent(z64, 0.1).item();
  const double one = nt_xent(z32, 0.1).item();
  check_close({one}, {ref}, 1e-5, 0, "float32 loss");
  for (int64_t tile : {1, 7, 128, 300}) {
    CAPTURE(tile);
    check_close({nt_xent(z32, 0.1, tile).item()}, {one}, 1e-6, 0, "float32 loss by tiles");
  }
}

TEST_CASE("nt_xent is stable at a small temperature") {
  // tau = 0.005 puts similarities at up to 200, whose exp overflows float32 (and double at
  // 1/tau > 709 with tau = 0.001): the row max must be subtracted first. Every row of z equal
  // gives s_ij = 1/tau for all j, so each row's loss is log(2B - 1), up to the rounding of
  // s (a few ulps of 1/tau: 3e-5 at 200 in float32) which moves the loss by at most twice that.
  for (DType dtype : {DType::f32, DType::f64}) {
    for (double tau : {0.005, 0.001}) {
      Tensor z = ones({8, 5}, dtype);
      const double loss = nt_xent(z, tau).item();
      check_close({loss}, {std::log(7.0)}, 0, 1e-4, "identical rows");
    }
  }
}

TEST_CASE("nt_xent with a zero row: F.normalize's clamp, finite values and gradients") {
  // A zero row normalizes to zero (its norm is clamped at 1e-12, as PyTorch's), so its
  // similarities are 0: finite, where z / |z| would give NaN. Its gradient is dzn / 1e-12 (the
  // clamp passes nothing to the norm), large but finite.
  Tensor z = Tensor::from_vector<double>({1, 2, 0, 0, 0, 0, -1, 1, 3, 0, 2, -2, 1, 1, 1, 1}, {4, 4})
                 .set_requires_grad(true);
  Tensor loss = nt_xent(z, 0.5);
  CHECK(std::isfinite(loss.item()));
  loss.backward();
  for (double g : z.grad().to_vector<double>()) CHECK(std::isfinite(g));
}

TEST_CASE("nt_xent refuses bad shapes, dtypes and temperatures, naming the op and shape") {
  using nidim::test::check_error;
  check_error([] { nt_xent(zeros({5, 3}), 0.5); }, {"nt_xent", "[5, 3]", "even"});
  check_error([] { nt_xent(zeros({2, 3}), 0.5); }, {"nt_xent", "[2, 3]", ">= 4"});
  check_error([] { nt_xent(zeros({8}), 0.5); }, {"nt_xent", "[8]"});
  check_error([] { nt_xent(zeros({2, 4, 3}), 0.5); }, {"nt_xent", "[2, 4, 3]"});
  check_error([] { nt_xent(zeros({4, 0}), 0.5); }, {"nt_xent", "[4, 0]"});
  check_error([] { nt_xent(zeros({4, 3}, DType::i32), 0.5); }, {"nt_xent", "float32", "int32"});
  check_error([] { nt_xent(ones({4, 3}), 0.0); }, {"nt_xent", "temperature", "[4, 3]"});
  check_error([] { nt_xent(ones({4, 3}), -1.0); }, {"nt_xent", "temperature"});
  check_error([] { nt_xent(ones({4, 3}), std::nan("")); }, {"nt_xent", "temperature"});
  check_error([] { nt_xent(ones({4, 3}), INFINITY); }, {"nt_xent", "temperature"});
  check_error([] { nt_xent(ones({4, 3}), 0.5, -1); }, {"nt_xent", "tile_rows"});
}
