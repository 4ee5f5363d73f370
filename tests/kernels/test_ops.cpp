// Ops: closed-form values, broadcasting, reductions, random fills, thread-count determinism,
// and the errors bad input gets.
#include <doctest/doctest.h>

#include <cmath>

#include "core/parallel.h"
#include "core/philox.h"
#include "kernels/cpu/blas.h"
#include "kernels/ops.h"
#include "test_util.h"

using namespace nidim;
using nidim::test::check_close;
using nidim::test::check_error;

namespace {
Tensor f32(std::vector<float> v, Shape s) {
  return Tensor::from_vector(v, s);
}
std::vector<double> vals(const Tensor& t) {
  return nidim::test::values(t);
}
}  // namespace

TEST_CASE("element-wise ops give their closed forms") {
  Tensor x = f32({-2.0f, -0.5f, 0.0f, 0.5f, 3.0f}, {5});
  // Expected values computed from the definitions, in double; float results are exact or within
  // 2 ulps (libm), hence rtol 1e-6.
  std::vector<double> in = {-2.0, -0.5, 0.0, 0.5, 3.0};
  auto expect = [&](double (*f)(double)) {
    std::vector<double> out;
    for (double v : in) out.push_back(f(v));
    return out;
  };
  check_close(vals(neg(x)), expect([](double v) { return -v; }), 1e-6, 0, "neg");
  check_close(vals(exp(x)), expect([](double v) { return std::exp(v); }), 1e-6, 0, "exp");
  check_close(vals(tanh(x)), expect([](double v) { return std::tanh(v); }), 1e-6, 1e-7, "tanh");
  check_close(vals(sigmoid(x)), expect([](double v) { return 1 / (1 + std::exp(-v)); }), 1e-6, 0,
              "sigmoid");
  check_close(vals(erf(x)), expect([](double v) { return std::erf(v); }), 1e-6, 1e-7, "erf");
  check_close(vals(relu(x)), {0, 0, 0, 0.5, 3}, 0, 0, "relu");
  check_close(vals(leaky_relu(x, 0.1)), {-0.2, -0.05, 0, 0.5, 3}, 1e-6, 0, "leaky_relu");
  check_close(vals(abs(x)), {2, 0.5, 0, 0.5, 3}, 0, 0, "abs");
  Tensor p = f32({0.25f, 1.0f, 4.0f}, {3});
  check_close(vals(sqrt(p)), {0.5, 1, 2}, 0, 0, "sqrt");
  check_close(vals(log(p)), {std::log(0.25), 0, std::log(4.0)}, 1e-6, 0, "log");
  check_close(vals(pow(p, 1.5)), {0.125, 1, 8}, 1e-6, 0, "pow");
}

TEST_CASE("binary ops broadcast scalars, rows, columns and 4-D shapes") {
  Tensor a = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  check_close(vals(a + f32({10, 20, 30}, {1, 3})), {11, 22, 33, 14, 25, 36}, 0, 0, "row [1,3]");
  check_close(vals(a + f32({10, 20, 30}, {3})), {11, 22, 33, 14, 25, 36}, 0, 0, "row [3]");
  check_close(vals(a * f32({10, 100}, {2, 1})), {10, 20, 30, 400, 500, 600}, 0, 0, "column [2,1]");
  check_close(vals(a - 1.0), {0, 1, 2, 3, 4, 5}, 0, 0, "scalar on the right");
  check_close(vals(12.0 / a), {12, 6, 4, 3, 2.4, 2}, 1e-6, 0, "scalar on the left");
  Tensor outer = f32({1, 2}, {2, 1}) * f32({1, 10, 100}, {1, 3});
  CHECK(outer.shape() == Shape{2, 3});
  check_close(vals(outer), {1, 10, 100, 2, 20, 200}, 0, 0, "outer product by broadcast");
  Tensor img = ones({2, 3, 2, 2});
  Tensor per_channel = f32({1, 2, 3}, {1, 3, 1, 1});
  const std::vector<double> got = vals(img * per_channel);
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int s = 0; s < 4; ++s) CHECK(got[static_cast<size_t>((n * 3 + c) * 4 + s)] == c + 1);
  // Gradients of broadcast operands are sums over the broadcast dimensions.
  Tensor row = f32({1, 2, 3}, {1, 3});
  row.set_requires_grad(true);
  Tensor m = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  sum(m * row).backward();
  check_close(vals(row.grad()), {5, 7, 9}, 0, 0, "row gradient = column sums");
}

TEST_CASE("reductions") {
  Tensor x = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  check_close(vals(sum(x)), {21}, 0, 0, "sum all");
  CHECK(sum(x).ndim() == 0);
  check_close(vals(sum(x, 0)), {5, 7, 9}, 0, 0, "sum axis 0");
  check_close(vals(sum(x, 1)), {6, 15}, 0, 0, "sum axis 1");
  CHECK(sum(x, 1, true).shape() == Shape{2, 1});
  check_close(vals(mean(x, -1)), {2, 5}, 0, 0, "mean axis -1");
  check_close(vals(mean(x)), {3.5}, 0, 0, "mean all");
  auto [mx, idx] = max_with_index(f32({3, 9, 9, -1, -5, -2}, {2, 3}), 1);
  check_close(vals(mx), {9, -1}, 0, 0, "max values");
  CHECK(idx.to_vector<int64_t>() == std::vector<int64_t>{1, 0});  // first of equal maxima
  // logsumexp is stable far beyond exp's range: log(e^1000 + e^1000) = 1000 + log 2.
  check_close(vals(logsumexp(f32({1000, 1000}, {1, 2}), 1)), {1000 + std::log(2.0)}, 1e-7, 0,
              "stable logsumexp");
  check_close(vals(logsumexp(f32({-1e30f, -1e30f}, {2}), 0)), {-1e30 + std::log(2.0)}, 1e-6, 0,
              "very negative logsumexp");
  Tensor sm = softmax(f32({1, 2, 3}, {1, 3}));
  const double z = std::exp(1) + std::exp(2) + std::exp(3);
  check_close(vals(sm), {std::exp(1) / z, std::exp(2) / z, std::exp(3) / z}, 1e-6, 0, "softmax");
  check_close(vals(log_softmax(f32({1, 2, 3}, {1, 3}))),
              {1 - std::log(z), 2 - std::log(z), 3 - std::log(z)}, 1e-6, 0, "log_softmax");
  check_close(vals(mse_loss(f32({1, 2, 3}, {3}), f32({2, 2, 5}, {3}))), {5.0 / 3.0}, 1e-6, 0,
              "mse");
}

TEST_CASE("a large sum is accurate and the same for every thread count") {
  // Sum of 0.1 over 1e6 float32 elements: double accumulation keeps it at 1e5 to about 1e-7
  // relative (0.1f itself is 0.1 + 1.5e-9); naive float accumulation would be off by ~1%.
  Tensor x = full({1000, 1000}, 0.1);
  const double expected = 1e6 * static_cast<double>(0.1f);
  const int before = num_threads();
  set_num_threads(1);
  const double one = sum(x).item();
  set_num_threads(2);
  const double two = sum(x).item();
  set_num_threads(before);
  CHECK(std::fabs(one - expected) < 1e-6 * expected);
  CHECK(one == two);
}

TEST_CASE("training-size kernels: same bits for a fixed thread count, close across counts") {
  Generator gen(3);
  Tensor x = randn({64, 3, 12, 12}, gen), w = randn({8, 3, 3, 3}, gen), b = randn({8}, gen);
  auto run = [&]() {
    Tensor xx = x.clone().set_requires_grad(true), ww = w.clone().set_requires_grad(true);
    Tensor y =
        batch_norm(relu(conv2d(xx, ww, b, 1, 1)), Tensor(), Tensor(), Tensor(), Tensor(), true);
    Tensor loss = mean(logsumexp(reshape(avg_pool2d(y, 2), {64, -1}), 1));
    loss.backward();
    return std::make_tuple(loss.item(), xx.grad().to_vector<float>(), ww.grad().to_vector<float>());
  };
  const int before = num_threads();
  set_num_threads(2);
  auto a = run();
  auto b2 = run();
  set_num_threads(1);
  auto one = run();
  set_num_threads(before);
  CHECK(std::get<0>(a) == std::get<0>(b2));
  CHECK(std::get<1>(a) == std::get<1>(b2));
  CHECK(std::get<2>(a) == std::get<2>(b2));
  // Across thread counts BLAS may block its sums differently: float32 rounding only. The
  // weight gradient sums 64*144 products per element, so 1e-4 relative (plus 1e-6 absolute for
  // near-zero entries) bounds the reordering error.
  auto as_double = [](const std::vector<float>& v) {
    return std::vector<double>(v.begin(), v.end());
  };
  check_close(as_double(std::get<1>(one)), as_double(std::get<1>(a)), 1e-4, 1e-6,
              "dx, 1 vs 2 threads");
  check_close(as_double(std::get<2>(one)), as_double(std::get<2>(a)), 1e-4, 1e-6,
              "dw, 1 vs 2 threads");
}

TEST_CASE("random fills follow the Philox stream and their distributions") {
  Generator gen(42, 5);
  Tensor u = rand({10}, gen);
  CHECK(gen.offset() == 12);  // 10 words, rounded up to whole blocks of 4
  // Element e is word e of the stream: check against philox_block directly.
  const std::vector<float> got = u.to_vector<float>();
  for (int e = 0; e < 10; ++e) {
    const Philox4 block = philox_block(42, 5, static_cast<uint64_t>(e / 4));
    CHECK(got[static_cast<size_t>(e)] == philox_uniform(block.v[e % 4]));
  }
  // Moments of 1e6 draws: the mean of U(0,1) has standard error 0.29/1000, so 5e-3 is > 15
  // sigma; N(2, 3^2): mean error 3e-3 -> tolerance 0.03, std error ~2e-3 -> tolerance 0.02.
  Generator g2(1);
  Tensor big = rand({1000, 1000}, g2);
  CHECK(mean(big).item() == doctest::Approx(0.5).epsilon(0.01));
  Tensor n = randn({1000, 1000}, g2, 2.0, 3.0, DType::f64);
  const double m = mean(n).item();
  const double sd = std::sqrt(mean((n - m) * (n - m)).item());
  CHECK(std::fabs(m - 2.0) < 0.03);
  CHECK(std::fabs(sd - 3.0) < 0.02);
  // The same generator state gives the same tensor.
  Generator a(9), b(9);
  CHECK(randn({33}, a).to_vector<float>() == randn({33}, b).to_vector<float>());
}

TEST_CASE("shape ops") {
  Tensor x = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(reshape(x, {3, -1}).shape() == Shape{3, 2});
  CHECK(flatten(ones({2, 3, 2, 2})).shape() == Shape{2, 12});
  check_close(vals(transpose(x)), {1, 4, 2, 5, 3, 6}, 0, 0, "transpose");
  check_close(vals(slice(x, 1, 2)), {4, 5, 6}, 0, 0, "slice");
  check_close(vals(concat({x, f32({7, 8, 9}, {1, 3})}, 0)), {1, 2, 3, 4, 5, 6, 7, 8, 9}, 0, 0,
              "concat 0");
  check_close(vals(concat({x, f32({7, 8}, {2, 1})}, 1)), {1, 2, 3, 7, 4, 5, 6, 8}, 0, 0,
              "concat 1");
  check_close(vals(cast(Tensor::from_vector<uint8_t>({0, 128, 255}, {3}), DType::f32)),
              {0, 128, 255}, 0, 0, "cast");
}

TEST_CASE("matmul through BLAS, with its AVX-512 kernel where the CPU has one") {
  Tensor a = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = f32({1, 0, 0, 1, 1, 1}, {3, 2});
  check_close(vals(matmul(a, b)), {4, 5, 10, 11}, 0, 0, "a @ b");
  check_close(vals(matmul(a, a, false, true)), {14, 32, 32, 77}, 0, 0, "a @ a^T");
  check_close(vals(matmul(a, a, true, false)), {17, 22, 27, 22, 29, 36, 27, 36, 45}, 0, 0,
              "a^T @ a");
  const std::string info = blas_info();
  MESSAGE("BLAS: " << info);
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
    const bool fast_kernel = info.find("SkylakeX") != std::string::npos ||
                             info.find("Cooperlake") != std::string::npos ||
                             info.find("SapphireRapids") != std::string::npos;
    CHECK_MESSAGE(fast_kernel, "AVX-512 CPU but OpenBLAS runs " << info);
  }
}

TEST_CASE("bad input gives errors naming the op and the shapes") {
  Tensor a = ones({2, 3}), b = ones({4, 5});
  check_error([&] { matmul(a, b); }, {"matmul", "[2, 3]", "[4, 5]"});
  check_error([&] { add(a, ones({4})); }, {"add", "[2, 3]", "[4]", "broadcast"});
  check_error([&] { add(a, ones({2, 3}, DType::f64)); }, {"add", "float32", "float64"});
  check_error([&] { exp(Tensor::from_vector<int32_t>({1}, {1})); }, {"exp", "int32"});
  check_error(
      [&] {
        conv2d(ones({1, 2, 5, 5}), ones({4, 3, 3, 3}), Tensor());
      },
      {"conv2d", "[1, 2, 5, 5]", "[4, 3, 3, 3]"});
  check_error(
      [&] {
        conv2d(ones({1, 3, 2, 2}), ones({4, 3, 3, 3}), Tensor());
      },
      {"conv2d", "smaller than the kernel"});
  check_error(
      [&] {
        conv2d(ones({3, 5, 5}), ones({4, 3, 3, 3}), Tensor());
      },
      {"conv2d", "4 dimensions", "[3, 5, 5]"});
  check_error([&] { max_pool2d(ones({1, 1, 2, 2}), 3); }, {"max_pool2d", "[1, 1, 2, 2]"});
  check_error(
      [&] {
        batch_norm(ones({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true);
      },
      {"batch_norm", "more than one value per channel", "[1, 3]"});
  check_error(
      [&] {
        batch_norm(ones({4, 3}), ones({2}), Tensor(), Tensor(), Tensor(), true);
      },
      {"batch_norm", "[2]", "[4, 3]"});
  check_error(
      [&] {
        cross_entropy(ones({2, 3}), Tensor::from_vector<int32_t>({0, 3}, {2}));
      },
      {"cross_entropy", "label 3", "row 1", "[0, 3)"});
  check_error(
      [&] {
        cross_entropy(ones({2, 3}), ones({2}));
      },
      {"cross_entropy", "int32", "float32"});
  check_error([&] { reshape(a, {4, 2}); }, {"reshape", "[2, 3]", "[4, 2]"});
  check_error([&] { slice(a, 1, 3); }, {"slice", "[1, 3)", "[2, 3]"});
  check_error([&] { concat({a, ones({2, 2, 1})}, 0); }, {"concat", "[2, 2, 1]", "[2, 3]"});
  check_error([&] { sum(a, 2); }, {"axis 2", "[2, 3]"});
  check_error([&] { ones({1, 1, 1, 1, 1}); }, {"at most 4 dimensions"});
  check_error([&] { mse_loss(a, ones({3, 2})); }, {"mse", "[2, 3]", "[3, 2]"});
  check_error([&] { a.data<double>(); }, {"float64", "float32"});
  check_error([&] { ones({2}, DType::f32, Device::cuda()); }, {"cuda"});
}
