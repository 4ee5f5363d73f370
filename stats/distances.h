// nidim/stats/distances.h: distances between the embeddings X (N x D) and a sample Y (M x D) of
// the prior: numbers that keep decreasing as the match improves, where p-values saturate.
//
//   sliced_wasserstein2  SW_2 = sqrt( mean_l W_2^2(X u_l, Y u_l) ) over given unit directions
//                        (Rabin, Peyre, Delon & Bernot 2011; Bonneel et al. 2015), each 1-D
//                        W_2 exact between the two empirical distributions (quantile functions).
//   mmd_gaussian         the unbiased MMD^2 U-statistic with k(a, b) = exp(-|a-b|^2 / (2 s^2))
//                        (Gretton et al., "A kernel two-sample test", JMLR 13, 2012, eq. 3);
//                        s by the median heuristic when not given.
//   energy_distance      E = 2 E|X-Y| - E|X-X'| - E|Y-Y'| with U-statistics for the last two
//                        (Szekely & Rizzo, "Energy statistics", J. Stat. Plan. Inference 143,
//                        2013, eq. 2.1 and section 3); zero in expectation when X ~ Y.
//
// The MMD and energy distance are O((N + M)^2 D) in time and O((N + M) D) in memory (streamed
// in tiles, see pairwise.h); callers cap N and M (eval_dm: --distance-rows). The sums run on all
// threads and are reduced in a fixed order, so results do not depend on the thread count.
// Inputs are row-major and finite (else nidim::Error).
#pragma once

#include <cstdint>
#include <vector>

#include "stats/result.h"

namespace nidim::stats {

// W_2^2 between the empirical distributions of a and b (any sizes; sorted copies are made).
double wasserstein2_squared_1d(std::vector<double> a, std::vector<double> b);

// directions: L x D row-major unit vectors. Returns SW_2 (not squared). When `z` (nz x D) and
// `z_sw2` are given, also stores SW_2(z, y) over the same directions in *z_sw2 (eval_dm's
// prior-vs-prior floor), sorting each projection of y once for both.
double sliced_wasserstein2(const double* x, int64_t n, const double* y, int64_t m, int64_t d,
                           const double* directions, int64_t l, const double* z = nullptr,
                           int64_t nz = 0, double* z_sw2 = nullptr);

// The median of the Euclidean distances |p_i - p_j|, i < j, over the pooled sample of the first
// min(N, cap) rows of x and the first min(M, cap) rows of y (numpy.median's convention for an
// even count).
double median_heuristic(const double* x, int64_t n, const double* y, int64_t m, int64_t d,
                        int64_t cap = 1000);

struct MmdResult {
  double mmd2 = 0;       // unbiased; may be slightly negative when X and Y match
  double bandwidth = 0;  // s
};

// bandwidth <= 0 selects the median heuristic (cap 1000 rows per set).
MmdResult mmd_gaussian(const double* x, int64_t n, const double* y, int64_t m, int64_t d,
                       double bandwidth = 0.0, ProgressFn progress = {});

double energy_distance(const double* x, int64_t n, const double* y, int64_t m, int64_t d,
                       ProgressFn progress = {});

}  // namespace nidim::stats
