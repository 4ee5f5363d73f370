// nidim/kernels/cpu/scratch.h: reusable per-thread scratch buffers for CPU kernels.
//
// Convolution needs large temporary matrices (im2col); allocating them on every call would fault
// fresh pages in each time. scratch<T>(slot, n) returns a buffer of at least n elements that
// persists for the thread's lifetime; a kernel uses distinct slots for buffers alive together.
// Contents are not preserved between calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace nidim {

constexpr int scratch_slots = 4;
void* scratch_bytes(int slot, size_t bytes);

template <class T>
T* scratch(int slot, int64_t n) {
  return static_cast<T*>(scratch_bytes(slot, static_cast<size_t>(n) * sizeof(T)));
}

}  // namespace nidim
