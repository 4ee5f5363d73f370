// nidim/stats/pairwise.cpp: the distance and dot-product tiles of pairwise.h.
//
// The kernel keeps a 4 x 8 block of results in registers while it runs over the D columns:
// each step loads 8 reference values (contiguous in the column-major layout) and 4 query values
// and does 32 subtract-multiply-adds, instead of reading and writing the accumulators in memory
// at every column. GCC's target_clones builds it for AVX2 and for the baseline x86-64 ISA and
// picks one when the program starts; both add the columns in the same order.
#include "stats/pairwise.h"

namespace nidim::stats {

namespace {
constexpr int kMicroCols = 8;
}

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define NIDIM_STATS_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define NIDIM_STATS_CLONES
#endif

NIDIM_STATS_CLONES
void sqdist_tile(const double* a, int64_t na, int64_t j0, int rows, const double* b, int64_t nb,
                 int64_t k0, int64_t len, int64_t d, double* acc) {
  int64_t t0 = 0;
  if (rows == kTileRows) {
    for (; t0 + kMicroCols <= len; t0 += kMicroCols) {
      double r0[kMicroCols] = {}, r1[kMicroCols] = {}, r2[kMicroCols] = {}, r3[kMicroCols] = {};
      for (int64_t c = 0; c < d; ++c) {
        const double* bc = b + c * nb + k0 + t0;
        const double* ac = a + c * na + j0;
        const double a0 = ac[0], a1 = ac[1], a2 = ac[2], a3 = ac[3];
#pragma omp simd
        for (int t = 0; t < kMicroCols; ++t) {
          const double bt = bc[t];
          const double e0 = a0 - bt, e1 = a1 - bt, e2 = a2 - bt, e3 = a3 - bt;
          r0[t] += e0 * e0;
          r1[t] += e1 * e1;
          r2[t] += e2 * e2;
          r3[t] += e3 * e3;
        }
      }
      for (int t = 0; t < kMicroCols; ++t) {
        acc[0 * kTileCols + t0 + t] = r0[t];
        acc[1 * kTileCols + t0 + t] = r1[t];
        acc[2 * kTileCols + t0 + t] = r2[t];
        acc[3 * kTileCols + t0 + t] = r3[t];
      }
    }
  }
  // Remaining columns (and tiles of fewer than 4 rows): one accumulator row at a time.
  if (t0 == len) return;
  for (int r = 0; r < rows; ++r)
    std::fill(acc + r * kTileCols + t0, acc + r * kTileCols + len, 0.0);
  for (int64_t c = 0; c < d; ++c) {
    const double* bc = b + c * nb + k0;
    for (int r = 0; r < rows; ++r) {
      const double ar = a[c * na + j0 + r];
      double* out = acc + r * kTileCols;
      for (int64_t t = t0; t < len; ++t) {
        const double diff = ar - bc[t];
        out[t] += diff * diff;
      }
    }
  }
}

NIDIM_STATS_CLONES
void dot_tile(const double* a, int64_t na, int64_t j0, int rows, const double* b, int64_t nb,
              int64_t k0, int64_t len, int64_t d, double* acc) {
  int64_t t0 = 0;
  if (rows == kTileRows) {
    for (; t0 + kMicroCols <= len; t0 += kMicroCols) {
      double r0[kMicroCols] = {}, r1[kMicroCols] = {}, r2[kMicroCols] = {}, r3[kMicroCols] = {};
      for (int64_t c = 0; c < d; ++c) {
        const double* bc = b + c * nb + k0 + t0;
        const double* ac = a + c * na + j0;
        const double a0 = ac[0], a1 = ac[1], a2 = ac[2], a3 = ac[3];
#pragma omp simd
        for (int t = 0; t < kMicroCols; ++t) {
          const double bt = bc[t];
          r0[t] += a0 * bt;
          r1[t] += a1 * bt;
          r2[t] += a2 * bt;
          r3[t] += a3 * bt;
        }
      }
      for (int t = 0; t < kMicroCols; ++t) {
        acc[0 * kTileCols + t0 + t] = r0[t];
        acc[1 * kTileCols + t0 + t] = r1[t];
        acc[2 * kTileCols + t0 + t] = r2[t];
        acc[3 * kTileCols + t0 + t] = r3[t];
      }
    }
  }
  if (t0 == len) return;
  for (int r = 0; r < rows; ++r)
    std::fill(acc + r * kTileCols + t0, acc + r * kTileCols + len, 0.0);
  for (int64_t c = 0; c < d; ++c) {
    const double* bc = b + c * nb + k0;
    for (int r = 0; r < rows; ++r) {
      const double ar = a[c * na + j0 + r];
      double* out = acc + r * kTileCols;
      for (int64_t t = t0; t < len; ++t) out[t] += ar * bc[t];
    }
  }
}

}  // namespace nidim::stats
