// nidim/core/cuda/memory.h: the CUDA memory API that plain C++ may call (no CUDA types): the
// caching device allocator's counters, RAII device and pinned host buffers, synchronization.
//
// Implemented in core/cuda/runtime.cu when the CUDA backend is built; core/cuda/stub.cpp stands
// in otherwise (counters read zero, buffers and synchronization throw "built without CUDA").
// Tensor storage itself goes through core/cuda_runtime.h (cuda_allocate / cuda_deallocate), which
// is the same allocator: these counters include tensors, kernels' scratch buffers and library
// workspaces. core/storage.h's memory_stats(DeviceType::cuda) counts tensor bytes only.
//
// Host-to-device copies (cuda_copy in core/cuda_runtime.h, which Tensor::to uses) are staged
// through a small ring of pinned buffers and queued asynchronously on the device's compute
// stream: the host copies the data into pinned memory and returns without waiting for the GPU, so
// preparing the next batch overlaps the current step's kernels (the DMA itself runs after them, on
// the same stream). Device-to-host copies wait.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nidim {

struct CudaMemoryStats {
  int64_t bytes_in_use = 0;       // handed-out blocks (rounded sizes), all devices
  int64_t peak_bytes_in_use = 0;  // since the start or reset_cuda_peak_memory()
  int64_t bytes_reserved = 0;     // in use plus cached (what cudaMalloc holds)
  int64_t peak_bytes_reserved = 0;
  int64_t device_mallocs = 0;  // cudaMalloc calls so far: constant in a steady training loop
  int64_t cache_hits = 0;      // requests served from the cache
  int64_t pinned_bytes = 0;    // pinned host memory held by the staging ring and PinnedBuffers
};

CudaMemoryStats cuda_memory_stats();
void reset_cuda_peak_memory();
// Marks where a profiler started with "profile from start off" (ncu --profile-from-start off,
// nsys --capture-range=cudaProfilerApi) records: cudaProfilerStart/Stop. No effect otherwise.
void cuda_profiler(bool on);
// Waits for all queued work on `device`'s compute stream; rethrows an asynchronous error naming
// `what`.
void cuda_synchronize(int device = 0, const char* what = "cuda_synchronize");

// Device scratch from the caching allocator, returned to it on destruction. Work queued on the
// compute stream before the destructor runs may still use it: that is safe, because the next
// user of the block is queued on the same stream after it.
class CudaBuffer {
 public:
  CudaBuffer() = default;
  CudaBuffer(size_t bytes, int device);
  ~CudaBuffer();
  CudaBuffer(CudaBuffer&& other) noexcept;
  CudaBuffer& operator=(CudaBuffer&& other) noexcept;
  CudaBuffer(const CudaBuffer&) = delete;
  CudaBuffer& operator=(const CudaBuffer&) = delete;

  void* get() const { return m_ptr; }
  template <class T>
  T* as() const {
    return static_cast<T*>(m_ptr);
  }
  size_t bytes() const { return m_bytes; }

 private:
  void release();
  void* m_ptr = nullptr;
  size_t m_bytes = 0;
  int m_device = 0;
};

// Page-locked host memory (cudaHostAlloc), for asynchronous copies.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& other) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  void* get() const { return m_ptr; }
  size_t bytes() const { return m_bytes; }

 private:
  void release();
  void* m_ptr = nullptr;
  size_t m_bytes = 0;
};

// Queues a copy of `bytes` from pinned host memory to device memory on the device's compute
// stream and returns at once; the caller keeps `pinned_src` untouched until
// cuda_synchronize(device) (or a later device-to-host copy) has returned.
void cuda_copy_pinned_to_device_async(void* dst, const void* pinned_src, size_t bytes, int device);

// A device-to-host copy of a few bytes (a loss, a count) that does not wait: the constructor
// queues the copy on `device`'s compute stream, after the work queued so far, into a small pinned
// slot and records an event; wait_into() waits for that event only and copies the bytes out. A
// training loop reads step k's loss this way after it has queued step k+1, so the GPU never idles
// while the host waits. Slots (pinned memory and an event each) are pooled and reused; at most
// `readback_max_bytes` per copy.
constexpr size_t readback_max_bytes = 16;
class PinnedReadback {
 public:
  PinnedReadback() = default;
  PinnedReadback(const void* device_src, size_t bytes, int device);
  ~PinnedReadback();
  PinnedReadback(PinnedReadback&& other) noexcept;
  PinnedReadback& operator=(PinnedReadback&& other) noexcept;
  PinnedReadback(const PinnedReadback&) = delete;
  PinnedReadback& operator=(const PinnedReadback&) = delete;

  // Waits for the copy (rethrowing an asynchronous error of the work before it) and copies the
  // bytes to `dst`.
  void wait_into(void* dst) const;
  size_t bytes() const { return m_bytes; }

 private:
  void release();
  int m_slot = -1;
  size_t m_bytes = 0;
};

}  // namespace nidim
