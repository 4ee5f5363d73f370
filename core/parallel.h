// nidim/core/parallel.h: how CPU work is split across cores.
//
// parallel_for(n, grain, f) calls f(begin, end) on contiguous ranges of [0, n), one range per
// thread of a small pool: range t is [n*t/T, n*(t+1)/T) for T threads. The split depends only on
// n and the thread count, so kernels are reproducible for a fixed thread count; kernels whose
// result could depend on the split (sums) use deterministic_sum, whose result depends on neither.
//
// Why a pool of our own and not OpenMP: OpenMP's threads spin at every barrier (libgomp: 300 000
// iterations) and its spin count can only be set in the environment before the runtime loads.
// When cores are shared (two tests side by side, a compiler, a 2-core CI runner) a spinning
// thread holds the core that the thread it waits for needs: tools/example_convnet ran at 607
// images/s with libgomp's default against 11 654 with a spin count of 1000 on 2 cores with one
// core busy compiling. This pool's workers spin briefly (about 20 us), then sleep on a condition
// variable.
//
// Calls from inside a pool task, or from a second user thread while the pool is busy, run
// serially in the calling thread; the result is the same. An exception thrown by f in any thread
// is rethrown to the caller once every range has finished.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

namespace nidim {

// Threads used by nidim's CPU kernels (and by BLAS: kernels/cpu/blas.cpp follows this
// number); n <= 0 means one per core. The default is one per core.
void set_num_threads(int n);
int num_threads();

// Runs f(begin, end) over [0, n) on up to num_threads() threads; ranges shorter than `grain`
// elements are not split further. `f` must not depend on which thread runs it.
void parallel_for_ranges(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f);

template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  if (n <= grain || num_threads() == 1) {
    f(int64_t(0), n);
    return;
  }
  parallel_for_ranges(n, grain, std::function<void(int64_t, int64_t)>(std::forward<F>(f)));
}

// Items of uneven cost: f(i, worker) for every i in [0, n), indices handed out one at a time
// to up to num_threads() workers; worker (in [0, parallel_workers(n))) identifies the thread's
// slot for scratch space. f must write its result to a place of its own; callers combine results
// in index order, so the outcome does not depend on who ran what. progress(done) is called on the
// calling thread only.
inline int64_t parallel_workers(int64_t n) {
  return std::max<int64_t>(1, std::min<int64_t>(num_threads(), n));
}

template <class F, class P>
void parallel_for_each(int64_t n, F&& f, P&& progress) {
  if (n <= 0) return;
  std::atomic<int64_t> next{0}, done{0};
  parallel_for(parallel_workers(n), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t w = lo; w < hi; ++w)
      for (int64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
        f(i, w);
        const int64_t d = done.fetch_add(1) + 1;
        if (lo == 0) progress(d);  // range 0 runs on the calling thread
      }
  });
}

template <class F>
void parallel_for_each(int64_t n, F&& f) {
  parallel_for_each(n, std::forward<F>(f), [](int64_t) {});
}

// Sum of g(i) for i in [0, n), in double, over fixed blocks of 4096 terms added in order: the
// same bits for any thread count.
template <class G>
double deterministic_sum(int64_t n, G&& g) {
  constexpr int64_t block = 4096;
  const int64_t blocks = (n + block - 1) / block;
  std::vector<double> partial(static_cast<size_t>(blocks));
  parallel_for(blocks, 4, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      double s = 0;
      const int64_t end = std::min(n, (b + 1) * block);
      for (int64_t i = b * block; i < end; ++i) s += g(i);
      partial[static_cast<size_t>(b)] = s;
    }
  });
  double total = 0;
  for (double s : partial) total += s;
  return total;
}

}  // namespace nidim
