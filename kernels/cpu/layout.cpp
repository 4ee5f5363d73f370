// nidim/kernels/cpu/layout.cpp: copies that change layout: 2-D transpose, and the parts of a
// concatenation along any axis (and their reverse, for concat's backward).
#include <cstring>

#include "core/parallel.h"
#include "kernels/cpu/kernels_cpu.h"

namespace nidim {

template <class T>
void transpose_cpu(T* y, const T* x, int64_t M, int64_t D) {
  // Blocks of 32 x 32 keep both the reads and the writes within a few cache lines.
  constexpr int64_t tile = 32;
  const int64_t tiles_m = (M + tile - 1) / tile, tiles_d = (D + tile - 1) / tile;
  parallel_for(tiles_m * tiles_d, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t m0 = (t / tiles_d) * tile, d0 = (t % tiles_d) * tile;
      for (int64_t m = m0; m < std::min(M, m0 + tile); ++m)
        for (int64_t d = d0; d < std::min(D, d0 + tile); ++d) y[d * M + m] = x[m * D + d];
    }
  });
}

template <class T>
void concat_part_cpu(T* y, const T* x, int64_t R, int64_t A_total, int64_t A_k, int64_t I,
                     int64_t at) {
  parallel_for(R, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(A_k * I, 1)),
               [&](int64_t lo, int64_t hi) {
                 for (int64_t r = lo; r < hi; ++r)
                   std::memcpy(y + (r * A_total + at) * I, x + r * A_k * I, sizeof(T) * A_k * I);
               });
}

template <class T>
void split_part_cpu(T* dx, const T* dy, int64_t R, int64_t A_total, int64_t A_k, int64_t I,
                    int64_t at) {
  parallel_for(R, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(A_k * I, 1)),
               [&](int64_t lo, int64_t hi) {
                 for (int64_t r = lo; r < hi; ++r)
                   std::memcpy(dx + r * A_k * I, dy + (r * A_total + at) * I, sizeof(T) * A_k * I);
               });
}

#define NIDIM_INSTANTIATE(T)                                                                   \
  template void transpose_cpu<T>(T*, const T*, int64_t, int64_t);                              \
  template void concat_part_cpu<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t); \
  template void split_part_cpu<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t);
NIDIM_INSTANTIATE(float)
NIDIM_INSTANTIATE(double)
NIDIM_INSTANTIATE(int32_t)
NIDIM_INSTANTIATE(int64_t)
NIDIM_INSTANTIATE(uint8_t)
#undef NIDIM_INSTANTIATE

}  // namespace nidim
