// nidim/core/cuda/runtime.cu: device queries, the per-device compute streams, the caching device
// allocator, pinned host memory and copies, for builds with the CUDA backend (core/cuda_runtime.h,
// core/cuda/memory.h, core/cuda/stream.h).
//
// Caching allocator. Requests are rounded up (to 512 bytes below 1 MiB, to 64 KiB above) and
// served from the device's free blocks: the smallest cached block that fits and wastes at most a
// quarter of itself. Only when none fits does it call cudaMalloc; when that fails, every cached
// block of the device is released and cudaMalloc tried once more. A training step repeats the same
// shapes, so from its second iteration on every request is a cache hit (tests/cuda checks that
// device_mallocs stays constant over steps). Freed blocks are reusable at once because all work is
// ordered on one stream per device (core/cuda/stream.h). One mutex guards the pool: allocations
// are rare next to kernel launches. The counters (bytes in use, reserved, peaks, cudaMalloc calls)
// are what tools report as "peak device memory".
//
// Copies. Host-to-device copies go through a ring of four pinned staging buffers (each up to
// 16 MiB; larger copies go in chunks): the host copies into a free slot and queues the DMA on the
// compute stream, then returns; a slot is reused once the event recorded after its last DMA has
// completed. So Tensor::to(cuda) never waits for the GPU to finish the step in flight.
// Device-to-host copies wait for the stream (the caller reads the data next), except
// PinnedReadback's: a few bytes into a pooled pinned slot, with an event to wait for later.
// Device-to-device copies are queued; between two GPUs they wait for both devices' streams.
//
// Streams, the pool and the staging ring are never destroyed: blocks may be freed during static
// teardown, when the driver may already be unloading.
#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <cuda_profiler_api.h>

#include "core/cuda/check.h"
#include "core/cuda/memory.h"
#include "core/cuda/stream.h"
#include "core/cuda_runtime.h"

namespace nidim {

namespace {

constexpr int max_devices = 64;

// ---- caching allocator ----------------------------------------------------------------------

struct DevicePool {
  std::multimap<size_t, void*> free_blocks;  // size -> block
  std::unordered_map<void*, size_t> live;    // handed-out block -> size
};

struct Pool {
  std::mutex mutex;
  DevicePool devices[max_devices];
  CudaMemoryStats stats;
};

Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

size_t round_up(size_t bytes) {
  const size_t unit = bytes < (size_t(1) << 20) ? 512 : (size_t(64) << 10);
  return std::max<size_t>((bytes + unit - 1) / unit * unit, unit);
}

void note_reserved(CudaMemoryStats& s, int64_t delta) {
  s.bytes_reserved += delta;
  s.peak_bytes_reserved = std::max(s.peak_bytes_reserved, s.bytes_reserved);
}

void note_in_use(CudaMemoryStats& s, int64_t delta) {
  s.bytes_in_use += delta;
  s.peak_bytes_in_use = std::max(s.peak_bytes_in_use, s.bytes_in_use);
}

// Frees every cached block of `device`; the caller holds the pool's mutex.
void release_cached(int device) {
  DevicePool& d = pool().devices[device];
  if (d.free_blocks.empty()) return;
  DeviceGuard guard(device);
  NIDIM_CUDA_CHECK_LOG(cudaDeviceSynchronize(), "cuda_empty_cache");
  for (auto& [size, p] : d.free_blocks) {
    NIDIM_CUDA_CHECK_LOG(cudaFree(p), "cuda_empty_cache");
    note_reserved(pool().stats, -static_cast<int64_t>(size));
  }
  d.free_blocks.clear();
}

// ---- streams --------------------------------------------------------------------------------

struct Streams {
  std::mutex mutex;
  cudaStream_t stream[max_devices] = {};
};

Streams& streams() {
  static Streams* s = new Streams();
  return *s;
}

// ---- pinned staging ring ----------------------------------------------------------------------

constexpr int staging_slots = 4;
constexpr size_t staging_cap = size_t(16) << 20;
constexpr size_t staging_min = size_t(1) << 20;

struct StagingSlot {
  void* host = nullptr;
  size_t bytes = 0;
  cudaEvent_t done = nullptr;  // recorded after the slot's last DMA
  int device = -1;             // the device `done` belongs to
};

struct Staging {
  std::mutex mutex;
  StagingSlot slots[staging_slots];
  int next = 0;
};

Staging& staging() {
  static Staging* s = new Staging();
  return *s;
}

void count_pinned(int64_t delta) {
  std::lock_guard<std::mutex> lock(pool().mutex);
  pool().stats.pinned_bytes += delta;
}

int device_of(const void* ptr, const char* what) {
  cudaPointerAttributes attr;
  NIDIM_CUDA_CHECK(cudaPointerGetAttributes(&attr, ptr), what);
  NIDIM_CHECK(attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged,
              "{}: pointer {} is not device memory", what, ptr);
  return attr.device;
}

void copy_host_to_device(void* dst, const void* src, size_t bytes) {
  const int device = device_of(dst, "cuda_copy (host to device)");
  DeviceGuard guard(device);
  cudaStream_t stream = compute_stream(device);
  Staging& st = staging();
  std::lock_guard<std::mutex> lock(st.mutex);
  for (size_t done = 0; done < bytes;) {
    const size_t chunk = std::min(bytes - done, staging_cap);
    StagingSlot& slot = st.slots[st.next];
    st.next = (st.next + 1) % staging_slots;
    if (slot.done) NIDIM_CUDA_CHECK(cudaEventSynchronize(slot.done), "cuda_copy (staging slot)");
    if (slot.device != device) {
      // The new event first: should its creation fail, the slot keeps a valid one.
      cudaEvent_t made = nullptr;
      NIDIM_CUDA_CHECK(cudaEventCreateWithFlags(&made, cudaEventDisableTiming),
                       "cuda_copy (staging event)");
      if (slot.done) NIDIM_CUDA_CHECK_LOG(cudaEventDestroy(slot.done), "cuda_copy (staging event)");
      slot.done = made;
      slot.device = device;
    }
    if (slot.bytes < chunk) {
      if (slot.host) {
        NIDIM_CUDA_CHECK(cudaFreeHost(slot.host), "cuda_copy (staging buffer)");
        count_pinned(-static_cast<int64_t>(slot.bytes));
        slot.host = nullptr;
        slot.bytes = 0;  // should the allocation below fail, the slot is empty, not dangling
      }
      const size_t size = std::clamp(chunk, staging_min, staging_cap);
      NIDIM_CUDA_CHECK(cudaHostAlloc(&slot.host, size, cudaHostAllocDefault),
                       fmt::format("cuda_copy (staging buffer of {} bytes)", size));
      slot.bytes = size;
      count_pinned(static_cast<int64_t>(size));
    }
    std::memcpy(slot.host, static_cast<const char*>(src) + done, chunk);
    NIDIM_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(dst) + done, slot.host, chunk,
                                     cudaMemcpyHostToDevice, stream),
                     "cuda_copy (host to device)");
    NIDIM_CUDA_CHECK(cudaEventRecord(slot.done, stream), "cuda_copy (staging event)");
    done += chunk;
  }
}

// ---- pinned readback slots (PinnedReadback) ----------------------------------------------------

struct ReadbackSlot {
  void* host = nullptr;        // readback_max_bytes of pinned memory
  cudaEvent_t done = nullptr;  // recorded after the slot's last copy
  int device = -1;             // the device `done` belongs to
};

struct Readbacks {
  std::mutex mutex;
  std::vector<ReadbackSlot> slots;
  std::vector<int> free;  // indices of slots no PinnedReadback holds
};

Readbacks& readbacks() {
  static Readbacks* r = new Readbacks();
  return *r;
}

}  // namespace

// ---- core/cuda_runtime.h ------------------------------------------------------------------------

bool cuda_compiled() {
  return true;
}

int cuda_device_count() {
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky "no driver" error
      return 0;
    }
    return std::min(n, max_devices);
  }();
  return count;
}

std::string cuda_device_name(int index) {
  cudaDeviceProp prop;
  NIDIM_CUDA_CHECK(cudaGetDeviceProperties(&prop, index), "cuda_device_name");
  return prop.name;
}

void* cuda_allocate(size_t bytes, int device) {
  NIDIM_CHECK(device >= 0 && device < cuda_device_count(),
              "cuda_allocate: no CUDA device {} (this machine has {})", device,
              cuda_device_count());
  const size_t size = round_up(bytes);
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  DevicePool& d = p.devices[device];
  auto it = d.free_blocks.lower_bound(size);
  if (it != d.free_blocks.end() && it->first - size <= it->first / 4) {
    void* block = it->second;
    const size_t block_size = it->first;
    d.free_blocks.erase(it);
    d.live[block] = block_size;
    note_in_use(p.stats, static_cast<int64_t>(block_size));
    ++p.stats.cache_hits;
    return block;
  }
  DeviceGuard guard(device);
  void* block = nullptr;
  cudaError_t err = cudaMalloc(&block, size);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    release_cached(device);
    err = cudaMalloc(&block, size);
  }
  NIDIM_CUDA_CHECK(
      err, fmt::format("cuda_allocate({} bytes on cuda:{}; {} bytes in use, {} reserved)", bytes,
                       device, p.stats.bytes_in_use, p.stats.bytes_reserved));
  d.live[block] = size;
  ++p.stats.device_mallocs;
  note_reserved(p.stats, static_cast<int64_t>(size));
  note_in_use(p.stats, static_cast<int64_t>(size));
  return block;
}

void cuda_deallocate(void* ptr, size_t /*bytes: the pool knows the block's size*/, int device) {
  if (ptr == nullptr) return;
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  DevicePool& d = p.devices[device];
  auto it = d.live.find(ptr);
  if (it == d.live.end()) {
    NIDIM_CHECK_LOG(false, "cuda_deallocate: {} was not allocated by nidim on cuda:{}", ptr,
                    device);
    return;
  }
  const size_t size = it->second;
  d.live.erase(it);
  d.free_blocks.emplace(size, ptr);
  note_in_use(p.stats, -static_cast<int64_t>(size));
}

void cuda_empty_cache() {
  std::lock_guard<std::mutex> lock(pool().mutex);
  for (int d = 0; d < max_devices; ++d) release_cached(d);
}

void cuda_copy(void* dst, const void* src, size_t bytes, CopyKind kind) {
  if (bytes == 0) return;
  if (kind == CopyKind::host_to_device) {
    copy_host_to_device(dst, src, bytes);
    return;
  }
  if (kind == CopyKind::device_to_host) {
    const int device = device_of(src, "cuda_copy (device to host)");
    DeviceGuard guard(device);
    cudaStream_t stream = compute_stream(device);
    NIDIM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream),
                     "cuda_copy (device to host)");
    NIDIM_CUDA_CHECK(cudaStreamSynchronize(stream),
                     "cuda_copy (device to host; an earlier kernel may have failed)");
    return;
  }
  const int device = device_of(dst, "cuda_copy (device to device)");
  const int from = device_of(src, "cuda_copy (device to device)");
  if (from != device) {
    // Each device has its own stream, and the two are not ordered: let the source's kernels
    // finish before the copy reads, and the copy finish before the source's stream may reuse
    // (free) the block.
    DeviceGuard guard(from);
    NIDIM_CUDA_CHECK(cudaStreamSynchronize(compute_stream(from)),
                     "cuda_copy (device to device; an earlier kernel may have failed)");
  }
  DeviceGuard guard(device);
  NIDIM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, compute_stream(device)),
                   "cuda_copy (device to device)");
  if (from != device)
    NIDIM_CUDA_CHECK(cudaStreamSynchronize(compute_stream(device)), "cuda_copy (device to device)");
}

// ---- core/cuda/stream.h -------------------------------------------------------------------------

cudaStream_t compute_stream(int device) {
  NIDIM_CHECK(device >= 0 && device < max_devices, "compute_stream: device {} out of range",
              device);
  Streams& s = streams();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.stream[device]) {
    DeviceGuard guard(device);
    NIDIM_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream[device], cudaStreamDefault),
                     "compute_stream");
  }
  return s.stream[device];
}

int current_device() {
  int d = 0;
  NIDIM_CUDA_CHECK(cudaGetDevice(&d), "current_device");
  return d;
}

cudaStream_t current_stream() {
  return compute_stream(current_device());
}

// ---- core/cuda/memory.h -------------------------------------------------------------------------

CudaMemoryStats cuda_memory_stats() {
  std::lock_guard<std::mutex> lock(pool().mutex);
  return pool().stats;
}

void reset_cuda_peak_memory() {
  std::lock_guard<std::mutex> lock(pool().mutex);
  CudaMemoryStats& s = pool().stats;
  s.peak_bytes_in_use = s.bytes_in_use;
  s.peak_bytes_reserved = s.bytes_reserved;
}

void cuda_profiler(bool on) {
  if (on)
    NIDIM_CUDA_CHECK(cudaProfilerStart(), "cudaProfilerStart");
  else
    NIDIM_CUDA_CHECK(cudaProfilerStop(), "cudaProfilerStop");
}

void cuda_synchronize(int device, const char* what) {
  DeviceGuard guard(device);
  NIDIM_CUDA_CHECK(cudaStreamSynchronize(compute_stream(device)), what);
  NIDIM_CUDA_CHECK(cudaGetLastError(), what);
}

CudaBuffer::CudaBuffer(size_t bytes, int device) : m_bytes(bytes), m_device(device) {
  if (bytes > 0) m_ptr = cuda_allocate(bytes, device);
}

CudaBuffer::~CudaBuffer() {
  release();
}

void CudaBuffer::release() {
  if (m_ptr) cuda_deallocate(m_ptr, m_bytes, m_device);
  m_ptr = nullptr;
  m_bytes = 0;
}

CudaBuffer::CudaBuffer(CudaBuffer&& o) noexcept
    : m_ptr(o.m_ptr), m_bytes(o.m_bytes), m_device(o.m_device) {
  o.m_ptr = nullptr;
  o.m_bytes = 0;
}

CudaBuffer& CudaBuffer::operator=(CudaBuffer&& o) noexcept {
  if (this != &o) {
    release();
    m_ptr = o.m_ptr;
    m_bytes = o.m_bytes;
    m_device = o.m_device;
    o.m_ptr = nullptr;
    o.m_bytes = 0;
  }
  return *this;
}

PinnedBuffer::PinnedBuffer(size_t bytes) : m_bytes(bytes) {
  if (bytes == 0) return;
  NIDIM_CUDA_CHECK(cudaHostAlloc(&m_ptr, bytes, cudaHostAllocDefault),
                   fmt::format("PinnedBuffer({} bytes)", bytes));
  count_pinned(static_cast<int64_t>(bytes));
}

PinnedBuffer::~PinnedBuffer() {
  release();
}

void PinnedBuffer::release() {
  if (m_ptr) {
    NIDIM_CUDA_CHECK_LOG(cudaFreeHost(m_ptr), "~PinnedBuffer");
    count_pinned(-static_cast<int64_t>(m_bytes));
  }
  m_ptr = nullptr;
  m_bytes = 0;
}

PinnedBuffer::PinnedBuffer(PinnedBuffer&& o) noexcept : m_ptr(o.m_ptr), m_bytes(o.m_bytes) {
  o.m_ptr = nullptr;
  o.m_bytes = 0;
}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  if (this != &o) {
    release();
    m_ptr = o.m_ptr;
    m_bytes = o.m_bytes;
    o.m_ptr = nullptr;
    o.m_bytes = 0;
  }
  return *this;
}

void cuda_copy_pinned_to_device_async(void* dst, const void* pinned_src, size_t bytes, int device) {
  if (bytes == 0) return;
  DeviceGuard guard(device);
  NIDIM_CUDA_CHECK(
      cudaMemcpyAsync(dst, pinned_src, bytes, cudaMemcpyHostToDevice, compute_stream(device)),
      "cuda_copy_pinned_to_device_async");
}

PinnedReadback::PinnedReadback(const void* device_src, size_t bytes, int device) : m_bytes(bytes) {
  NIDIM_CHECK(bytes > 0 && bytes <= readback_max_bytes,
              "PinnedReadback: {} bytes, expected 1 to {}", bytes, readback_max_bytes);
  DeviceGuard guard(device);
  Readbacks& r = readbacks();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (r.free.empty()) {
    ReadbackSlot slot;
    NIDIM_CUDA_CHECK(cudaHostAlloc(&slot.host, readback_max_bytes, cudaHostAllocDefault),
                     "PinnedReadback (pinned slot)");
    count_pinned(static_cast<int64_t>(readback_max_bytes));
    r.slots.push_back(slot);
    r.free.push_back(static_cast<int>(r.slots.size()) - 1);
  }
  const int index = r.free.back();
  ReadbackSlot& slot = r.slots[static_cast<size_t>(index)];
  // The slot leaves the free list only once its copy is queued: an error below leaves it there.
  if (slot.device != device) {
    // A copy of another device's stream may still be writing the slot: wait for it. The new
    // event is made first, so that a failure leaves the slot with a valid one.
    cudaEvent_t made = nullptr;
    if (slot.done) NIDIM_CUDA_CHECK(cudaEventSynchronize(slot.done), "PinnedReadback (slot reuse)");
    NIDIM_CUDA_CHECK(cudaEventCreateWithFlags(&made, cudaEventDisableTiming),
                     "PinnedReadback (event)");
    if (slot.done) NIDIM_CUDA_CHECK_LOG(cudaEventDestroy(slot.done), "PinnedReadback (event)");
    slot.done = made;
    slot.device = device;
  }
  // On the same stream as every earlier copy into this slot, so those land first.
  cudaStream_t stream = compute_stream(device);
  NIDIM_CUDA_CHECK(cudaMemcpyAsync(slot.host, device_src, bytes, cudaMemcpyDeviceToHost, stream),
                   "PinnedReadback (device to host)");
  NIDIM_CUDA_CHECK(cudaEventRecord(slot.done, stream), "PinnedReadback (event)");
  r.free.pop_back();
  m_slot = index;
}

PinnedReadback::~PinnedReadback() {
  release();
}

void PinnedReadback::release() {
  if (m_slot < 0) return;
  Readbacks& r = readbacks();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.free.push_back(m_slot);
  m_slot = -1;
  m_bytes = 0;
}

PinnedReadback::PinnedReadback(PinnedReadback&& o) noexcept : m_slot(o.m_slot), m_bytes(o.m_bytes) {
  o.m_slot = -1;
  o.m_bytes = 0;
}

PinnedReadback& PinnedReadback::operator=(PinnedReadback&& o) noexcept {
  if (this != &o) {
    release();
    m_slot = o.m_slot;
    m_bytes = o.m_bytes;
    o.m_slot = -1;
    o.m_bytes = 0;
  }
  return *this;
}

void PinnedReadback::wait_into(void* dst) const {
  NIDIM_CHECK(m_slot >= 0, "PinnedReadback::wait_into: nothing was copied");
  ReadbackSlot slot;
  {
    std::lock_guard<std::mutex> lock(readbacks().mutex);
    slot = readbacks().slots[static_cast<size_t>(m_slot)];  // the vector may grow meanwhile
  }
  NIDIM_CUDA_CHECK(cudaEventSynchronize(slot.done),
                   "PinnedReadback (device to host; an earlier kernel may have failed)");
  std::memcpy(dst, slot.host, m_bytes);
}

}  // namespace nidim
