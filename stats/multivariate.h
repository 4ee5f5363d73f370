// nidim/stats/multivariate.h: tests of multivariate normality of N rows in D dimensions.
//
//   henze_zirkler  pingouin.multivariate_normality (Henze & Zirkler 1990), including its
//                  rank-deficient convention (HZ = 4N when the covariance is singular)
//   mardia         Mardia's multivariate skewness and kurtosis tests (Mardia 1970, 1974), with
//                  the conventions of the R package MVN (biased covariance, small-sample
//                  correction of the skewness statistic below N = 20)
//
// Both stream over the N(N-1)/2 pairs of rows in blocks, so memory is O(N D) (the whitened data)
// plus O(threads * block), never N x N; the sum over blocks is done in a fixed order, so the
// result does not depend on the number of threads. Runs on all threads of core/parallel.h's pool.
//
// Input x is N x D, row-major, finite (else nidim::Error). Left out: pingouin's silent dropping
// of rows with NaN (the caller decides), float32 arithmetic for float32 input.
#pragma once

#include <cstdint>

#include "stats/result.h"

namespace nidim::stats {

struct HenzeZirklerResult {
  TestResult test;   // statistic = HZ, pvalue from the log-normal approximation
  double beta = 0;   // the smoothing parameter b of Henze & Zirkler
  int64_t rank = 0;  // numerical rank of the covariance
  bool rank_deficient = false;
};

// Needs N >= 3 and D >= 2 (pingouin's limits); otherwise not applicable.
HenzeZirklerResult henze_zirkler(const double* x, int64_t n, int64_t d, ProgressFn progress = {});

struct MardiaResult {
  TestResult
      skewness;  // statistic = N b_{1,D} / 6 (times Mardia's k below N = 20), chi^2(D(D+1)(D+2)/6)
  TestResult kurtosis;    // statistic = (b_{2,D} - D(D+2)) / sqrt(8 D (D+2) / N), two-sided normal
  double b1 = 0, b2 = 0;  // Mardia's sample measures b_{1,D} and b_{2,D}
};

// Needs N > D and a nonsingular covariance; otherwise both parts are not applicable.
MardiaResult mardia(const double* x, int64_t n, int64_t d, ProgressFn progress = {});

}  // namespace nidim::stats
