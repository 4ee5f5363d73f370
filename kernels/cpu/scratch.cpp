// nidim/kernels/cpu/scratch.cpp: see scratch.h.
#include "kernels/cpu/scratch.h"

#include <cstdlib>

#include "core/error.h"

namespace nidim {

namespace {
struct Buffer {
  void* data = nullptr;
  size_t bytes = 0;
  ~Buffer() { std::free(data); }
};
thread_local Buffer t_buffers[scratch_slots];
}  // namespace

void* scratch_bytes(int slot, size_t bytes) {
  NIDIM_CHECK(slot >= 0 && slot < scratch_slots, "scratch: slot {} out of range", slot);
  Buffer& b = t_buffers[slot];
  if (b.bytes < bytes) {
    std::free(b.data);
    b.data = nullptr;
    b.bytes = 0;
    const size_t rounded = (bytes + 63) / 64 * 64;
    b.data = std::aligned_alloc(64, rounded);
    NIDIM_CHECK(b.data, "scratch: out of memory allocating {} bytes", bytes);
    b.bytes = rounded;
  }
  return b.data;
}

}  // namespace nidim
