// nidim/kernels/cuda/common.cuh: what the CUDA kernels share: launch sizes, grid-stride loops,
// scratch buffers, and the deterministic block reduction behind every "lane" reduction.
//
// Lanes. A reduction over one axis sees its input as [R, A, I] (kernels_cpu.h): R * I lanes, each
// reducing A values spaced I apart. A block of (LX, LY) threads owns LX lanes: threadIdx.x picks
// the lane (consecutive i, so the reads of one step are coalesced when I > 1), threadIdx.y splits
// that lane's A values round-robin (a = ty, ty + LY, ...), and reduce_y() combines the LY partial
// results in a fixed tree. No atomics anywhere: the result depends only on the shape, never on
// timing, so a run is reproducible on one GPU model.
//   I == 1  (rows):   LX = 1,               LY = min(256, A rounded up to a power of 2, >= 32)
//   I > 1   (columns): LX = min(32, pow2(I)), LY = 256 / LX
// Block b handles lanes r = b / G, i = (b % G) * LX + threadIdx.x with G = ceil(I / LX).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/cuda/check.h"
#include "core/cuda/memory.h"
#include "core/cuda/stream.h"

namespace nidim::gpu {

constexpr int block_threads = 256;

// Blocks for one thread per element; grid-stride loops cover n beyond the cap.
inline unsigned grid_for(int64_t n, int threads = block_threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(std::clamp<int64_t>(blocks, 1, int64_t(1) << 20));
}

inline int pow2_at_least(int64_t n) {
  int p = 1;
  while (p < n && p < (1 << 30)) p <<= 1;
  return p;
}

// Scratch memory on the current device, from the caching allocator.
inline CudaBuffer scratch(size_t bytes) {
  return CudaBuffer(bytes, current_device());
}

struct Lanes {
  int64_t R, A, I;
  int64_t groups;  // blocks per r: ceil(I / LX)
  int lx, ly;
  unsigned blocks() const { return static_cast<unsigned>(R * groups); }
  bool empty() const {
    return R * groups == 0;
  }  // no lane: launch nothing (a grid of 0 blocks is an error)
  dim3 block() const { return dim3(static_cast<unsigned>(lx), static_cast<unsigned>(ly)); }
};

inline Lanes make_lanes(int64_t R, int64_t A, int64_t I) {
  Lanes l;
  l.R = R, l.A = A, l.I = I;
  if (I == 1) {
    l.lx = 1;
    l.ly = std::clamp(pow2_at_least(A), 32, block_threads);
  } else {
    l.lx = std::min(32, pow2_at_least(I));
    l.ly = block_threads / l.lx;
  }
  l.groups = (I + l.lx - 1) / l.lx;
  return l;
}

// This thread's lane (r, i); false when i is past the end (the thread still takes part in
// reduce_y, with the identity).
__device__ inline bool lane_of(const Lanes& l, int64_t& r, int64_t& i) {
  r = blockIdx.x / l.groups;
  i = (blockIdx.x % l.groups) * l.lx + threadIdx.x;
  return i < l.I;
}

// Combines v over threadIdx.y for each threadIdx.x, in a fixed tree (LY a power of two); every
// thread gets its lane's result. Every thread of the block must call it. `sh` holds LX * LY values.
template <class V, class F>
__device__ V reduce_y(V v, V* sh, F combine) {
  const int lx = blockDim.x, tx = threadIdx.x, ty = threadIdx.y;
  sh[ty * lx + tx] = v;
  __syncthreads();
  for (int s = blockDim.y / 2; s > 0; s >>= 1) {
    if (ty < s) sh[ty * lx + tx] = combine(sh[ty * lx + tx], sh[(ty + s) * lx + tx]);
    __syncthreads();
  }
  const V result = sh[tx];
  __syncthreads();  // sh may be reused after the call
  return result;
}

__host__ __device__ inline int64_t imin(int64_t a, int64_t b) {
  return a < b ? a : b;
}
__host__ __device__ inline int64_t imax(int64_t a, int64_t b) {
  return a > b ? a : b;
}

struct Plus {
  template <class V>
  __device__ V operator()(V a, V b) const {
    return a + b;
  }
};

// Sum of v over a whole 1-D block (blockDim.x a multiple of 32, at most 1024) in a fixed order:
// warp shuffles, then the warps' sums by warp 0. Every thread gets the result.
template <class V>
__device__ V block_sum(V v) {
  __shared__ V warp_sums[32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? warp_sums[lane] : V(0);
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if (lane == 0) warp_sums[0] = v;
  }
  __syncthreads();
  const V result = warp_sums[0];
  __syncthreads();
  return result;
}

}  // namespace nidim::gpu

// for (int64_t i = this thread's first element; i < n; i += all threads)
#define NIDIM_GRID_LOOP(i, n)                                                            \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
