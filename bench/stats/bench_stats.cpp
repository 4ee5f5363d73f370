// nidim/bench/stats/bench_stats.cpp: the O(N^2) kernels of stats/ and the bootstrap protocol,
// timed with Google Benchmark. Inputs are N(0, 1) draws from Philox (seed 1). Counters: pairs/s
// for the pairwise sums, repetitions/s for the bootstrap.
//
//   build/bench/stats/bench_stats --benchmark_filter=HenzeZirkler
#include <benchmark/benchmark.h>

#include <vector>

#include "core/random.h"
#include "stats/bootstrap.h"
#include "stats/classifiers.h"
#include "stats/clustering.h"
#include "stats/multivariate.h"

namespace st = nidim::stats;

namespace {

std::vector<double> normal_matrix(int64_t n, int64_t d, uint64_t stream = 0) {
  nidim::Generator g(1, stream);
  std::vector<double> x(static_cast<size_t>(n * d));
  for (auto& v : x) v = g.normal();
  return x;
}

// Henze-Zirkler on all rows: N(N-1)/2 pairs of D-dimensional distances and exponentials.
void BM_HenzeZirkler(benchmark::State& state) {
  const int64_t n = state.range(0), d = state.range(1);
  const std::vector<double> x = normal_matrix(n, d);
  for (auto _ : state) benchmark::DoNotOptimize(st::henze_zirkler(x.data(), n, d).test.pvalue);
  state.counters["pairs/s"] =
      benchmark::Counter(0.5 * n * (n - 1), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_HenzeZirkler)
    ->Args({2000, 16})
    ->Args({20000, 16})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The default protocol: 1024 repetitions of 64 rows, D'Agostino + Shapiro + Henze-Zirkler.
void BM_Bootstrap(benchmark::State& state) {
  const int64_t n = 60000, d = state.range(0);
  const std::vector<double> x = normal_matrix(n, d);
  st::BootstrapOptions o;
  for (auto _ : state)
    benchmark::DoNotOptimize(
        st::projection_bootstrap(x.data(), nullptr, n, d, o).series[0].mean_pvalue);
  state.counters["reps/s"] =
      benchmark::Counter(1024, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Bootstrap)->Arg(2)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();

// k-NN of 10 000 test rows among 60 000 training rows.
void BM_Knn(benchmark::State& state) {
  const int64_t ntr = 60000, nte = 10000, d = state.range(0);
  const std::vector<double> tr = normal_matrix(ntr, d, 1), te = normal_matrix(nte, d, 2);
  std::vector<int64_t> y(static_cast<size_t>(ntr));
  for (int64_t i = 0; i < ntr; ++i) y[i] = i % 10;
  for (auto _ : state)
    benchmark::DoNotOptimize(
        st::knn_classify(tr.data(), ntr, d, y.data(), 10, te.data(), nte, 5).predicted[0]);
  state.counters["pairs/s"] =
      benchmark::Counter(double(ntr) * nte, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Knn)->Arg(2)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();

// Silhouette of N rows (N^2 distances, O(N K) memory).
void BM_Silhouette(benchmark::State& state) {
  const int64_t n = state.range(0), d = state.range(1);
  const std::vector<double> x = normal_matrix(n, d, 3);
  std::vector<int64_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) y[i] = i % 10;
  for (auto _ : state)
    benchmark::DoNotOptimize(st::silhouette_score(x.data(), n, d, y.data()).value);
  state.counters["pairs/s"] =
      benchmark::Counter(double(n) * n, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Silhouette)
    ->Args({10000, 64})
    ->Args({70000, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
