// bench_engine: GEMM and convolution throughput at the shapes of the paper's MNIST encoder
// (../shared/docs/METHOD.md §1), batch 256 and 1024, in GFLOP/s (Google Benchmark counters).
//
//   build/bench/bench_engine                      all benchmarks
//   build/bench/bench_engine --benchmark_filter=Conv
// The first line printed names the BLAS library and the core type it runs (nidim chooses the
// AVX-512 kernel itself: kernels/cpu/blas.h). FLOP counts: GEMM 2*M*N*K; convolution forward
// 2*N*O*OH*OW*C*KH*KW, backward twice that (input and weight gradients) plus the bias sum.
#include <benchmark/benchmark.h>

#include <cstdio>

#include "core/autograd.h"
#include "core/parallel.h"
#include "kernels/cpu/blas.h"
#include "kernels/ops.h"
#include "kernels/pairwise.h"

using namespace nidim;

namespace {

void BM_Sgemm(benchmark::State& state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  Generator gen(1);
  Tensor a = randn({M, K}, gen), b = randn({K, N}, gen);
  NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(matmul(a, b).raw());
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * M * N * K, benchmark::Counter::kIsIterationInvariantRate);
}

// The encoder's three convolutions: {batch, in channels, size, out channels}.
void BM_Conv2dForward(benchmark::State& state) {
  const int64_t N = state.range(0), C = state.range(1), H = state.range(2), O = state.range(3);
  Generator gen(2);
  Tensor x = randn({N, C, H, H}, gen), w = randn({O, C, 3, 3}, gen), bias = randn({O}, gen);
  NoGradGuard no_grad;
  const double oh = static_cast<double>(H - 2);
  for (auto _ : state) benchmark::DoNotOptimize(conv2d(x, w, bias).raw());
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * N * O * oh * oh * C * 9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Conv2dForwardBackward(benchmark::State& state) {
  const int64_t N = state.range(0), C = state.range(1), H = state.range(2), O = state.range(3);
  Generator gen(3);
  Tensor x = randn({N, C, H, H}, gen).set_requires_grad(true);
  Tensor w = randn({O, C, 3, 3}, gen).set_requires_grad(true);
  Tensor bias = randn({O}, gen).set_requires_grad(true);
  const double oh = static_cast<double>(H - 2);
  Tensor g = randn({N, O, H - 2, H - 2}, gen);
  for (auto _ : state) {
    sum(conv2d(x, w, bias) * g).backward();
    x.zero_grad();
    w.zero_grad();
    bias.zero_grad();
  }
  // forward + input gradient + weight gradient; the multiply-by-g and sum are not counted.
  state.counters["FLOP/s"] = benchmark::Counter(3 * 2.0 * N * O * oh * oh * C * 9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

// As in training's first layer: the input needs no gradient, only the weights and bias do.
void BM_Conv2dWeightGrad(benchmark::State& state) {
  const int64_t N = state.range(0), C = state.range(1), H = state.range(2), O = state.range(3);
  Generator gen(5);
  Tensor x = randn({N, C, H, H}, gen);
  Tensor w = randn({O, C, 3, 3}, gen).set_requires_grad(true);
  Tensor bias = randn({O}, gen).set_requires_grad(true);
  const double oh = static_cast<double>(H - 2);
  Tensor g = randn({N, O, H - 2, H - 2}, gen);
  for (auto _ : state) {
    sum(conv2d(x, w, bias) * g).backward();
    w.zero_grad();
    bias.zero_grad();
  }
  state.counters["FLOP/s"] = benchmark::Counter(2 * 2.0 * N * O * oh * oh * C * 9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void encoder_convs(benchmark::internal::Benchmark* b) {
  for (int64_t n : {256, 1024}) {
    b->Args({n, 1, 28, 32});   // conv1: 1x28x28 -> 32x26x26
    b->Args({n, 32, 13, 64});  // conv2: 32x13x13 -> 64x11x11
    b->Args({n, 64, 5, 128});  // conv3: 64x5x5 -> 128x3x3
  }
}

// The joint critic on all B x B pairs with InfoNCE, forward and backward (fused), H = 256:
// FLOPs counted for the second layer's three GEMMs per pair (forward, dW2, dh1): 3 * 2 * H^2.
void BM_PairwiseInfonce(benchmark::State& state) {
  const int64_t B = state.range(0), H = 256;
  Generator gen(4);
  Tensor u = randn({B, H}, gen).set_requires_grad(true),
         v = randn({B, H}, gen).set_requires_grad(true);
  Tensor W2 = randn({H, H}, gen, 0, 0.06).set_requires_grad(true),
         b2 = randn({H}, gen).set_requires_grad(true);
  Tensor w3 = randn({1, H}, gen, 0, 0.06).set_requires_grad(true),
         b3 = randn({1}, gen).set_requires_grad(true);
  for (auto _ : state) {
    pairwise_mlp_infonce(u, v, W2, b2, w3, b3, 0.01, state.range(1)).backward();
    for (Tensor* t : {&u, &v, &W2, &b2, &w3, &b3}) t->zero_grad();
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(6.0 * B * B * H * H, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_PairwiseInfonce)
    ->Args({256, 0})
    ->Args({1024, 0})
    ->Args({1024, 1})
    ->Args({1024, 4})
    ->Args({1024, 16})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Sgemm)
    ->Args({1024, 1024, 1024})
    ->Args({256, 128, 128})
    ->Args({1024, 128, 128})
    ->Args({65536, 256, 256})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Conv2dForward)->Apply(encoder_convs)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv2dForwardBackward)
    ->Apply(encoder_convs)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Conv2dWeightGrad)
    ->Args({256, 1, 28, 32})
    ->Args({1024, 1, 28, 32})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

int main(int argc, char** argv) {
  std::printf("BLAS: %s\nthreads: %d\n", blas_info().c_str(), num_threads());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
