// nidim/stats/bootstrap.h: the authors' evaluation protocol (METHOD.md section 6): tests on
// random projections of random subsamples, repeated, and the mean p-value.
//
// Repetition r (0 <= r < B) draws everything from its own Philox stream,
// Generator(seed, stream = r), in this order:
//   1. the direction: D draws of Generator::normal, divided by their norm (uniform on the
//      sphere; Muller 1959); redrawn in the probability-zero case of a zero vector;
//   2. the subsample: M distinct row indices of N by Floyd's algorithm (Bentley & Floyd,
//      "Programming pearls: a sample of brilliance", CACM 30(9), 1987) with
//      Generator::uniform_int, then sorted.
// Then on the subsample X_sub (M x D, the Gaussian coordinates z):
//   * D'Agostino-Pearson K^2 and Shapiro-Wilk of X_sub u (M numbers);
//   * Henze-Zirkler of X_sub (all D columns);
//   * optionally Mardia's skewness and kurtosis tests of X_sub;
//   * optionally (uniform coordinates u given) a Kolmogorov-Smirnov test of each column of U_sub
//     against U[0, 1], combined over the D columns by Fisher's method.
// Because each repetition's randomness depends only on (seed, r), and the per-repetition
// p-values are averaged in repetition order, the result is the same for any thread count.
// Repetitions run in parallel on the thread pool (core/parallel.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/random.h"
#include "stats/result.h"

namespace nidim::stats {

struct BootstrapOptions {
  int64_t repetitions = 1024;  // B
  int64_t subsample = 64;      // M, rows per repetition, without replacement
  uint64_t seed = 0;
  bool dagostino = true;
  bool shapiro = true;
  bool henze_zirkler = true;
  bool mardia = false;
  bool ks_fisher = false;  // needs the uniform coordinates
  // When set and it becomes true, the remaining repetitions are skipped and the result comes back
  // with not_applicable "cancelled" and no p-values.
  const std::atomic<bool>* cancel = nullptr;
};

// The p-values of one test over the repetitions.
struct BootstrapSeries {
  std::string name;             // "dagostino", "shapiro", "henze_zirkler", ...
  std::vector<double> pvalues;  // per repetition; NaN where that repetition was not applicable
  int64_t applicable = 0;       // repetitions with a p-value
  double mean_pvalue = std::numeric_limits<double>::quiet_NaN();  // over applicable ones
  double std_pvalue = std::numeric_limits<double>::quiet_NaN();   // population std
  double fraction_below_005 = std::numeric_limits<double>::quiet_NaN();
  std::string not_applicable;  // set when no repetition was applicable: the first reason
  std::string note;            // the first note or not-applicable reason of any repetition
};

struct BootstrapResult {
  std::vector<BootstrapSeries> series;  // in the order dagostino, shapiro, henze_zirkler,
      // mardia_skewness, mardia_kurtosis, ks_fisher (enabled ones)
  std::string not_applicable;  // set when the whole protocol cannot run (N < M)
  const BootstrapSeries* find(const std::string& name) const;
};

// z: N x D row-major (Gaussian coordinates); u: N x D row-major uniform coordinates or nullptr
// (then ks_fisher is skipped). Throws nidim::Error for non-finite input or bad options.
BootstrapResult projection_bootstrap(const double* z, const double* u, int64_t n, int64_t d,
                                     const BootstrapOptions& opt, ProgressFn progress = {});

// The random parts of repetition r, exposed for tests and plots.
std::vector<double> random_direction(Generator& gen, int64_t d);
std::vector<int64_t> random_subsample(Generator& gen, int64_t n, int64_t m);

}  // namespace nidim::stats
