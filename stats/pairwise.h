// nidim/stats/pairwise.h: the building blocks of every O(N^2) statistic in stats/ (Henze-Zirkler,
// Mardia, kNN, silhouette, MMD, energy distance): tiles of squared distances or dot products
// between a few query rows and a run of reference rows, and a deterministic parallel loop over
// blocks.
//
// Layout: both sets are column-major ("D x N": element (i, c) at col[c * N + i]), so the inner
// loop runs over consecutive reference rows and vectorizes. A tile is at most kTileRows query
// rows by kTileCols reference rows; scratch stays in L1/L2 and nothing is N x N.
//
// Determinism: parallel_blocks runs body(b) for each block b on any thread but each block's
// result goes to its own slot, and the caller sums the slots in block order, so a result is
// bit-identical for every thread count.
#pragma once

#include "core/parallel.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <vector>

#include "stats/result.h"

namespace nidim::stats {

constexpr int kTileRows = 4;
constexpr int64_t kTileCols = 256;

// Column-major copy (D x N) of row-major x (N x D).
inline std::vector<double> to_columns(const double* x, int64_t n, int64_t d) {
  std::vector<double> c(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < d; ++k) c[k * n + i] = x[i * d + k];
  return c;
}

// acc[r * kTileCols + t] = sum_c (a(j0 + r, c) - b(k0 + t, c))^2 for r < rows, t < len
// (len <= kTileCols). a has na rows, b has nb rows, both column-major with D columns. Defined in
// pairwise.cpp: a 4 x 8 register-blocked kernel, compiled for AVX2 and for the baseline ISA
// (chosen at run time); both sum over c in the same order, so results agree up to the last bit
// of each product-and-sum (no FMA: ISO C++ mode does not contract).
void sqdist_tile(const double* a, int64_t na, int64_t j0, int rows, const double* b, int64_t nb,
                 int64_t k0, int64_t len, int64_t d, double* acc);
// acc[r * kTileCols + t] = sum_c a(j0 + r, c) * b(k0 + t, c).
void dot_tile(const double* a, int64_t na, int64_t j0, int rows, const double* b, int64_t nb,
              int64_t k0, int64_t len, int64_t d, double* acc);

// Runs body(block) for block in [0, nblocks) on nidim's thread pool (core/parallel.h), blocks
// handed out one at a time (they may differ in cost). Progress is reported from the calling
// thread as blocks complete. An exception in a body is rethrown here after the loop. Inside an
// enclosing parallel loop (a bootstrap repetition) the blocks run on the caller's thread.
template <class Body>
void parallel_blocks(int64_t nblocks, const Body& body, const ProgressFn& progress = {}) {
  parallel_for_each(
      nblocks, [&](int64_t b, int64_t) { body(b); },
      [&](int64_t done) {
        if (progress) progress(done, nblocks);
      });
  if (progress) progress(nblocks, nblocks);
}

// Sum of v in index order (the deterministic reduction of per-block results).
inline double ordered_sum(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}

enum class PairQuantity { kSquaredDistance, kDot };
constexpr int64_t kBlockRows = 128;  // query rows per parallel block

// sum_{i<j} f(q_ij) over the rows of one set a (column-major D x N), q the squared distance or
// the dot product; blocks of kBlockRows query rows run in parallel, summed in block order.
template <class F>
double triangle_sum(const double* a, int64_t n, int64_t d, PairQuantity q, const F& f,
                    const ProgressFn& progress = {}) {
  const int64_t nblocks = (n + kBlockRows - 1) / kBlockRows;
  std::vector<double> partial(static_cast<size_t>(nblocks), 0.0);
  parallel_blocks(
      nblocks,
      [&](int64_t blk) {
        // One reference tile (kTileCols rows) at a time stays in cache while every query
        // micro-tile of the block uses it. Per query row, the sum runs over k in increasing
        // order whatever the thread count.
        std::vector<double> acc(kTileRows * kTileCols);
        const int64_t j_begin = blk * kBlockRows, j_end = std::min(n, (blk + 1) * kBlockRows);
        std::vector<double> row_sum(static_cast<size_t>(j_end - j_begin), 0.0);
        for (int64_t k0 = j_begin + 1; k0 < n; k0 += kTileCols) {
          const int64_t len = std::min(kTileCols, n - k0);
          for (int64_t j0 = j_begin; j0 < j_end && j0 < k0 + len - 1; j0 += kTileRows) {
            const int rows = static_cast<int>(std::min<int64_t>(kTileRows, j_end - j0));
            if (q == PairQuantity::kSquaredDistance) {
              sqdist_tile(a, n, j0, rows, a, n, k0, len, d, acc.data());
            } else {
              dot_tile(a, n, j0, rows, a, n, k0, len, d, acc.data());
            }
            for (int r = 0; r < rows; ++r) {
              const int64_t t0 = std::max<int64_t>(0, j0 + r + 1 - k0);  // pairs with k > j only
              const double* v = acc.data() + r * kTileCols;
              double ss = 0;
              for (int64_t t = t0; t < len; ++t) ss += f(v[t]);
              row_sum[j0 + r - j_begin] += ss;
            }
          }
        }
        partial[blk] = ordered_sum(row_sum);
      },
      progress);
  return ordered_sum(partial);
}

// sum_{i,j} f(q_ij) over all pairs of a row of a (D x NA) and a row of b (D x NB).
template <class F>
double rect_sum(const double* a, int64_t na, const double* b, int64_t nb, int64_t d, PairQuantity q,
                const F& f, const ProgressFn& progress = {}) {
  const int64_t nblocks = (na + kBlockRows - 1) / kBlockRows;
  std::vector<double> partial(static_cast<size_t>(nblocks), 0.0);
  parallel_blocks(
      nblocks,
      [&](int64_t blk) {
        std::vector<double> acc(kTileRows * kTileCols);
        const int64_t j_begin = blk * kBlockRows, j_end = std::min(na, (blk + 1) * kBlockRows);
        std::vector<double> row_sum(static_cast<size_t>(j_end - j_begin), 0.0);
        for (int64_t k0 = 0; k0 < nb; k0 += kTileCols) {
          const int64_t len = std::min(kTileCols, nb - k0);
          for (int64_t j0 = j_begin; j0 < j_end; j0 += kTileRows) {
            const int rows = static_cast<int>(std::min<int64_t>(kTileRows, j_end - j0));
            if (q == PairQuantity::kSquaredDistance) {
              sqdist_tile(a, na, j0, rows, b, nb, k0, len, d, acc.data());
            } else {
              dot_tile(a, na, j0, rows, b, nb, k0, len, d, acc.data());
            }
            for (int r = 0; r < rows; ++r) {
              const double* v = acc.data() + r * kTileCols;
              double ss = 0;
              for (int64_t t = 0; t < len; ++t) ss += f(v[t]);
              row_sum[j0 + r - j_begin] += ss;
            }
          }
        }
        partial[blk] = ordered_sum(row_sum);
      },
      progress);
  return ordered_sum(partial);
}

}  // namespace nidim::stats
