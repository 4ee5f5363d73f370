// nidim/kernels/cuda/curand_philox.h: cuRAND's Philox4x32-10 block function in core/philox.h's
// layout, for the CUDA backend's random fills (kernels/cuda/elementwise.cu) and for the host
// test that checks it against the CPU's Philox without a GPU (tests/core/test_curand.cpp).
//
// cuRAND's device headers let their includer choose how their functions are compiled (the
// QUALIFIERS macro): here for host and device under nvcc, for the host under a C++ compiler. Only
// this header of cuRAND's: curand_kernel.h would bring ~200 kB of XORWOW and MRG tables into
// the module, unused.
#pragma once

#include <cstdint>

#ifndef QUALIFIERS
#if defined(__CUDACC__)
#define QUALIFIERS static __forceinline__ __host__ __device__
#else
#define QUALIFIERS static inline
#endif
#endif
#include <curand_philox4x32_x.h>
#include <vector_functions.h>

#include "core/hostdevice.h"
#include "core/philox.h"

namespace nidim {

// Block `block` of the sequence (seed, stream): key = the seed's two halves, counter = (block,
// stream) in 32-bit words, low first, as core/philox.h's philox_block. That is also where
// cuRAND's curand_init(seed, stream, 4 * block) puts its Philox state.
NIDIM_HD inline Philox4 curand_philox_block(uint64_t seed, uint64_t stream, uint64_t block) {
  const uint4 r = curand_Philox4x32_10(
      make_uint4(static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                 static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)),
      make_uint2(static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)));
  return {{r.x, r.y, r.z, r.w}};
}

}  // namespace nidim
