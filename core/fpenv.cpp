// nidim/core/fpenv.cpp: see fpenv.h.
#include "core/fpenv.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace nidim {

namespace {
constexpr unsigned ftz_daz = 0x8040;  // MXCSR bit 15 (flush to zero) and bit 6 (denormals are zero)
}

bool flush_denormals() {
#if defined(__x86_64__) || defined(__i386__)
  return (_mm_getcsr() & ftz_daz) == ftz_daz;
#else
  return false;
#endif
}

bool set_flush_denormals(bool on) {
#if defined(__x86_64__) || defined(__i386__)
  const bool before = flush_denormals();
  _mm_setcsr(on ? (_mm_getcsr() | ftz_daz) : (_mm_getcsr() & ~ftz_daz));
  return before;
#else
  (void)on;
  return false;
#endif
}

}  // namespace nidim
