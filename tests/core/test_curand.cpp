// core: cuRAND's Philox4x32-10, which the CUDA backend's random fills use, against core/philox.h,
// which the CPU backend uses: the fills' own block function (kernels/cuda/curand_philox.h), and
// cuRAND's documented curand_init/curand4 addressing, which puts a sequence's words in the same
// places. cuRAND's device-API headers are compiled for the host here (their functions become
// host functions through the QUALIFIERS macro they provide for that, and the multiply takes the
// header's host branch), so the generators are compared bit for bit without a GPU. Built only
// where the CUDA toolkit's headers are (NIDIM_HAVE_CUDA).
#define QUALIFIERS static inline
#include <curand_kernel.h>

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "core/philox.h"
#include "kernels/cuda/curand_philox.h"

using namespace nidim;

namespace {

// The words curand4 returns right after curand_init(seed, stream, offset): cuRAND's documented
// way to address a Philox sequence.
Philox4 curand_words(uint64_t seed, uint64_t stream, uint64_t offset) {
  curandStatePhilox4_32_10_t state;
  curand_init(seed, stream, offset, &state);
  const uint4 r = curand4(&state);
  return {{r.x, r.y, r.z, r.w}};
}

bool same(const Philox4& a, const Philox4& b) {
  return a.v[0] == b.v[0] && a.v[1] == b.v[1] && a.v[2] == b.v[2] && a.v[3] == b.v[3];
}

}  // namespace

TEST_CASE("cuRAND's Philox4_32_10 gives core/philox.h's blocks for every (seed, stream, block)") {
  // Edge values: each 32-bit half at zero, one, and all ones, and the largest block a word
  // offset of 64 bits can address (2^62 - 1).
  const std::vector<uint64_t> edges = {0,
                                       1,
                                       0xffffffffull,
                                       0x100000000ull,
                                       0xffffffff00000000ull,
                                       0x123456789abcdef0ull,
                                       (1ull << 62) - 1};
  int compared = 0;
  for (uint64_t seed : edges)
    for (uint64_t stream : edges)
      for (uint64_t block : edges) {
        if (block >= (1ull << 62)) continue;
        const Philox4 expected = philox_block(seed, stream, block);
        CHECK(same(curand_words(seed, stream, 4 * block), expected));
        CHECK(same(curand_philox_block(seed, stream, block), expected));
        ++compared;
      }
  CHECK(compared == 7 * 7 * 6);  // the block 0xffffffff00000000 is past 2^62

  // Pseudo-random triples (a 64-bit LCG), as the loader's and the noise's streams use them:
  // the block counter e * 2^36 + v * 2^32 + k and a stream per sample.
  uint64_t x = 0x9e3779b97f4a7c15ull;
  auto next = [&x] { return x = x * 6364136223846793005ull + 1442695040888963407ull; };
  for (int i = 0; i < 10000; ++i) {
    const uint64_t seed = next(), stream = next(), block = next() >> 2;
    const Philox4 expected = philox_block(seed, stream, block);
    REQUIRE_MESSAGE(same(curand_words(seed, stream, 4 * block), expected), "seed ", seed,
                    " stream ", stream, " block ", block);
    REQUIRE_MESSAGE(same(curand_philox_block(seed, stream, block), expected), "seed ", seed,
                    " stream ", stream, " block ", block);
  }
}

TEST_CASE("cuRAND's first block is Random123's known answer for counter 0, key 0") {
  // Random123 kat_vectors "philox4x32 10", all-zero counter and key: the same vector
  // test_core.cpp checks core/philox.h against.
  const Philox4 got = curand_words(0, 0, 0);
  CHECK(got.v[0] == 0x6627e8d5u);
  CHECK(got.v[1] == 0xe169c58du);
  CHECK(got.v[2] == 0xbc57ac4cu);
  CHECK(got.v[3] == 0x9b00dbd8u);
}
