// nidim/core/random.cpp: see random.h.
#include "core/random.h"

#include <cmath>

#include "core/error.h"
#include "core/philox.h"

namespace nidim {

void Generator::set_state(const GeneratorState& s) {
  NIDIM_CHECK(s.offset % 4 == 0, "generator state: offset {} is not a multiple of 4", s.offset);
  m_state = s;
}

uint64_t Generator::reserve(uint64_t words) {
  const uint64_t start = m_state.offset;
  m_state.offset += (words + 3) / 4 * 4;
  return start;
}

uint32_t Generator::next_u32() {
  const uint64_t start = reserve(4);
  return philox_block(m_state.seed, m_state.stream, start / 4).v[0];
}

double Generator::uniform() {
  const uint64_t start = reserve(4);
  const Philox4 b = philox_block(m_state.seed, m_state.stream, start / 4);
  const uint64_t bits = (static_cast<uint64_t>(b.v[0]) << 21) ^ (b.v[1] >> 11);  // 53 bits
  return static_cast<double>(bits) * (1.0 / 9007199254740992.0);
}

uint64_t Generator::uniform_int(uint64_t n) {
  NIDIM_CHECK(n > 0, "uniform_int: empty range");
  // Rejection sampling on 64-bit draws keeps every value equally likely.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  for (;;) {
    const uint64_t start = reserve(4);
    const Philox4 b = philox_block(m_state.seed, m_state.stream, start / 4);
    const uint64_t x = (static_cast<uint64_t>(b.v[0]) << 32) | b.v[1];
    if (x < limit) return x % n;
  }
}

double Generator::normal() {
  const uint64_t start = reserve(4);
  const Philox4 b = philox_block(m_state.seed, m_state.stream, start / 4);
  const double u1 = (static_cast<double>(b.v[0]) + 1.0) / 4294967296.0;  // (0, 1]
  const double u2 = static_cast<double>(b.v[1]) / 4294967296.0;          // [0, 1)
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

}  // namespace nidim
