// nidim/kernels/cpu/parallel.h: how CPU kernels split work across cores.
//
// parallel_for(n, grain, f) calls f(begin, end) on contiguous, static ranges of [0, n), one per
// OpenMP thread; ranges depend only on n and the thread count, so results are reproducible for
// a fixed thread count. Kernels whose result could depend on the split (sums) use
// deterministic_sum, whose result does not depend on the thread count at all.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace nidim {

// Threads used by nidim's kernels and by BLAS; 0 means all cores.
void set_num_threads(int n);
int num_threads();

template <class F> void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  if (n <= grain || omp_in_parallel() || omp_get_max_threads() == 1) {
    f(int64_t(0), n);
    return;
  }
  const int max_threads = static_cast<int>(std::min<int64_t>(omp_get_max_threads(), (n + grain - 1) / grain));
#pragma omp parallel num_threads(max_threads)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t begin = n * t / nt, end = n * (t + 1) / nt;
    if (begin < end) f(begin, end);
  }
}

// Sum of g(i) for i in [0, n), in double, over fixed blocks of 4096 terms added in order: the
// same bits for any thread count.
template <class G> double deterministic_sum(int64_t n, G&& g) {
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
