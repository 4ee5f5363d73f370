// nidim/core/random.h: Generator, the state of one Philox stream: (seed, stream, offset).
//
// The offset counts 32-bit words already used and always stays a multiple of 4 (one Philox
// block), so each tensor fill starts on a block boundary and CPU and GPU fills agree.
// Saving the three numbers saves the generator (they go into checkpoints). Not thread-safe: a
// Generator belongs to one thread, the fills it starts may run on many.
#pragma once

#include <cstdint>

namespace nidim {

struct GeneratorState {
  uint64_t seed = 0;
  uint64_t stream = 0;
  uint64_t offset = 0;
};

class Generator {
 public:
  explicit Generator(uint64_t seed = 0, uint64_t stream = 0) : m_state{seed, stream, 0} {}

  uint64_t seed() const { return m_state.seed; }
  uint64_t stream() const { return m_state.stream; }
  uint64_t offset() const { return m_state.offset; }
  GeneratorState state() const { return m_state; }
  void set_state(const GeneratorState& s);

  // Reserves `words` 32-bit words for a fill and returns the first word's offset; the offset
  // advances to the next block boundary.
  uint64_t reserve(uint64_t words);

  // Host-side draws (shuffles, directions): each uses one fresh block.
  uint32_t next_u32();
  double uniform();                  // [0, 1), 53 bits from two words
  uint64_t uniform_int(uint64_t n);  // in [0, n), unbiased (rejection)
  double normal();                   // N(0, 1), Box-Muller in double

 private:
  GeneratorState m_state;
};

}  // namespace nidim
