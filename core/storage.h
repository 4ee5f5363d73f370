// nidim/core/storage.h: reference-counted device memory behind tensors, and its allocators.
//
// A Storage owns one allocation on one device; tensors share it through std::shared_ptr (views
// such as reshape and slice point into the same Storage with an offset). Every allocation goes
// through memory_stats() so that tools can report bytes in use and the peak.
//
// Host memory is 64-byte aligned (one cache line, one AVX-512 vector). Blocks of 64 KiB or more
// come from a caching allocator (those of 2 MiB or more are 2 MiB-aligned with transparent huge
// pages requested by madvise): a freed block goes back to a pool from which the next request of
// a similar size (at most twice as large) is served. A training step repeats the same shapes, so after its first
// iteration it touches no fresh pages: on the virtual machines this project runs on, faulting in
// fresh 4 KiB pages costs about 11 us each (0.37 GB/s; bench/README.md), more than the kernels
// themselves for large activations. host_empty_cache() returns the pool to the system.
// CUDA memory comes from the caching allocator in core/cuda_runtime.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/device.h"

namespace nidim {

struct MemoryStats {
  int64_t bytes_in_use = 0;
  int64_t peak_bytes = 0;
  int64_t allocations = 0;  // number of allocate() calls so far
};

// Counters per device type; safe to read while other threads allocate.
MemoryStats memory_stats(DeviceType type);
void reset_peak_memory(DeviceType type);

// Host blocks, for storages and for kernels' scratch buffers. `capacity` receives the usable
// size (>= bytes); pass it back to host_deallocate.
void* host_allocate(size_t bytes, size_t* capacity);
void host_deallocate(void* ptr, size_t capacity);
void host_empty_cache();
int64_t host_cached_bytes();

class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() { return m_data; }
  const void* data() const { return m_data; }
  size_t bytes() const { return m_bytes; }
  Device device() const { return m_device; }

 private:
  void* m_data = nullptr;
  size_t m_bytes = 0;
  size_t m_capacity = 0;  // bytes actually allocated
  Device m_device;
};

// Copies `bytes` between any two devices (host<->host, host<->device, device<->device).
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

}  // namespace nidim
