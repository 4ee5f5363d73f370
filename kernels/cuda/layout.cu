// nidim/kernels/cuda/layout.cu: copies that change layout: 2-D transpose, and the parts of a
// concatenation along any axis (and their reverse, for concat's backward). The CUDA twin of
// kernels/cpu/layout.cpp.
//
// Transpose: a block of 32 x 8 threads moves a 32 x 32 tile through shared memory (one padding
// column avoids bank conflicts), so that both the global reads and the global writes are
// coalesced. Concat and split: one thread per element of the part.
// Kernel names start with "layout_".
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels_cuda.h"

namespace nidim {

using namespace gpu;

namespace {

constexpr int tile = 32, tile_rows = 8;

// Block (bx, by) moves x's tile of rows [by*32, +32) and columns [bx*32, +32); thread (tx, ty)
// handles column tx of rows ty, ty + 8, ty + 16, ty + 24.
template <class T>
__global__ void layout_transpose_kernel(T* y, const T* x, int64_t M, int64_t D) {
  __shared__ T sh[tile][tile + 1];
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * tile,
                d0 = static_cast<int64_t>(blockIdx.x) * tile;
  for (int k = threadIdx.y; k < tile; k += tile_rows) {
    const int64_t m = m0 + k, d = d0 + threadIdx.x;
    if (m < M && d < D) sh[k][threadIdx.x] = x[m * D + d];
  }
  __syncthreads();
  for (int k = threadIdx.y; k < tile; k += tile_rows) {
    const int64_t d = d0 + k, m = m0 + threadIdx.x;
    if (m < M && d < D) y[d * M + m] = sh[threadIdx.x][k];
  }
}

// Element e of part k ([R, A_k, I]) lands at [r, at + a, i] of the whole ([R, A_total, I]);
// to_whole: concat (part -> whole), else split (whole -> part).
template <class T>
__global__ void layout_concat_kernel(T* whole, T* part, int64_t R, int64_t A_total, int64_t A_k,
                                     int64_t I, int64_t at, bool to_whole) {
  const int64_t n = R * A_k * I, row = A_k * I;
  NIDIM_GRID_LOOP(e, n) {
    const int64_t r = e / row, rest = e % row;
    const int64_t w = (r * A_total + at) * I + rest;
    if (to_whole)
      whole[w] = part[e];
    else
      part[e] = whole[w];
  }
}

}  // namespace

template <class T>
void transpose_cuda(T* y, const T* x, int64_t M, int64_t D) {
  const dim3 grid(static_cast<unsigned>((D + tile - 1) / tile),
                  static_cast<unsigned>((M + tile - 1) / tile));
  NIDIM_CHECK(grid.y <= 65535, "transpose: {} rows is beyond the kernel's grid ({} max)", M,
              65535 * tile);
  layout_transpose_kernel<<<grid, dim3(tile, tile_rows), 0, current_stream()>>>(y, x, M, D);
}

template <class T>
void concat_part_cuda(T* y, const T* x, int64_t R, int64_t A_total, int64_t A_k, int64_t I,
                      int64_t at) {
  layout_concat_kernel<<<grid_for(R * A_k * I), block_threads, 0, current_stream()>>>(
      y, const_cast<T*>(x), R, A_total, A_k, I, at, true);
}

template <class T>
void split_part_cuda(T* dx, const T* dy, int64_t R, int64_t A_total, int64_t A_k, int64_t I,
                     int64_t at) {
  layout_concat_kernel<<<grid_for(R * A_k * I), block_threads, 0, current_stream()>>>(
      const_cast<T*>(dy), dx, R, A_total, A_k, I, at, false);
}

#define NIDIM_INSTANTIATE(T)                                                                    \
  template void transpose_cuda<T>(T*, const T*, int64_t, int64_t);                              \
  template void concat_part_cuda<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t); \
  template void split_part_cuda<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t);
NIDIM_INSTANTIATE(float)
NIDIM_INSTANTIATE(double)
NIDIM_INSTANTIATE(int32_t)
NIDIM_INSTANTIATE(int64_t)
NIDIM_INSTANTIATE(uint8_t)
#undef NIDIM_INSTANTIATE

}  // namespace nidim
