// nidim/kernels/cpu/scratch.cpp: see scratch.h.
#include "kernels/cpu/scratch.h"

#include "core/error.h"
#include "core/storage.h"

namespace nidim {

namespace {
struct Buffer {
  void* data = nullptr;
  size_t bytes = 0;
  ~Buffer() { host_deallocate(data, bytes); }
};
thread_local Buffer t_buffers[scratch_slots];
}  // namespace

void* scratch_bytes(int slot, size_t bytes) {
  NIDIM_CHECK(slot >= 0 && slot < scratch_slots, "scratch: slot {} out of range", slot);
  Buffer& b = t_buffers[slot];
  if (b.bytes < bytes) {
    host_deallocate(b.data, b.bytes);
    b.data = nullptr;
    b.bytes = 0;
    size_t capacity = 0;
    b.data = host_allocate(bytes, &capacity);
    b.bytes = capacity;
  }
  return b.data;
}

}  // namespace nidim
