// nidim/core/philox.h: the counter-based generator Philox4x32-10 and its conversions to floats,
// shared by the CPU and the CUDA backends so that one (seed, stream, offset) gives the same bits
// on both.
//
// Reference: Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3" (SC 2011),
// Philox-4x32 with 10 rounds; known-answer vectors from Random123's tests/kat_vectors are in
// tests/core/test_core.cpp.
//
// Layout (the same as cuRAND's curand_init(seed, subsequence, offset) for Philox):
//   key     = (seed low 32 bits, seed high 32 bits)
//   counter = (block low, block high, stream low, stream high)
// Word i of the sequence (seed, stream) is output[i % 4] of block i / 4. A tensor fill that
// starts at word `offset` (a multiple of 4) gives element e the word offset + e, so the result
// does not depend on how the work is split across threads or GPU blocks.
#pragma once

#include <cstdint>

#include "core/hostdevice.h"

namespace nidim {

struct Philox4 {
  uint32_t v[4];
};

NIDIM_HD inline uint32_t philox_mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// One block of four 32-bit words.
NIDIM_HD inline Philox4 philox4x32_10(Philox4 ctr, uint32_t k0, uint32_t k1) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;  // multipliers
  constexpr uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;  // Weyl key increments
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = philox_mulhilo(M0, ctr.v[0], &hi0);
    const uint32_t lo1 = philox_mulhilo(M1, ctr.v[2], &hi1);
    ctr = {{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
    k0 += W0;
    k1 += W1;
  }
  return ctr;
}

// Block `block` of the sequence (seed, stream).
NIDIM_HD inline Philox4 philox_block(uint64_t seed, uint64_t stream, uint64_t block) {
  Philox4 ctr = {{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                  static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)}};
  return philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// Uniform in [0, 1): the top 24 bits, exactly representable as float.
NIDIM_HD inline float philox_uniform(uint32_t x) {
  return (x >> 8) * (1.0f / 16777216.0f);
}

// Uniform in (0, 1]: for logarithms (Box-Muller).
NIDIM_HD inline float philox_uniform_pos(uint32_t x) {
  return ((x >> 8) + 1) * (1.0f / 16777216.0f);
}

}  // namespace nidim
