// nidim/stats/clustering.h: how well the true classes separate in the embedding, with
// scikit-learn 1.2's definitions (sklearn.metrics.*_score(X, labels)).
//
//   silhouette_score         mean over rows of (b - a) / max(a, b), a = mean distance to the
//                            other rows of the row's class, b = the smallest mean distance to
//                            another class; 0 for rows of singleton classes (Rousseeuw 1987).
//                            O(N^2 D) time, O(N K) memory (streamed; never N x N).
//   davies_bouldin_score     mean over classes of max_{j != i} (s_i + s_j) / |c_i - c_j|, s the
//                            mean distance to the centroid (Davies & Bouldin 1979); 0 when all
//                            s are ~0 or all centroid distances are ~0 (numpy.allclose).
//   calinski_harabasz_score  [sum_k n_k |c_k - c|^2 / (K - 1)] / [sum_k sum_{i in k} |x_i - c_k|^2
//                            / (N - K)] (Calinski & Harabasz 1974); 1 when the within part is 0.
// Labels are any integers. All three need 2 <= K <= N - 1 distinct labels (scikit-learn raises
// ValueError otherwise); then "not applicable". Euclidean distances are computed from
// differences (scikit-learn expands |x|^2 + |y|^2 - 2 x.y; the two agree to ~1e-15 relative on
// data that is not nearly duplicated).
#pragma once

#include <cstdint>

#include "stats/result.h"

namespace nidim::stats {

Estimate silhouette_score(const double* x, int64_t n, int64_t d, const int64_t* labels,
                          ProgressFn progress = {});
Estimate davies_bouldin_score(const double* x, int64_t n, int64_t d, const int64_t* labels);
Estimate calinski_harabasz_score(const double* x, int64_t n, int64_t d, const int64_t* labels);

}  // namespace nidim::stats
