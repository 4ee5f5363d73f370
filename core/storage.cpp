// nidim/core/storage.cpp: allocation, accounting and copies. See storage.h.
#include "core/storage.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "core/cuda_runtime.h"
#include "core/error.h"

namespace nidim {

namespace {

struct Counters {
  std::atomic<int64_t> in_use{0};
  std::atomic<int64_t> peak{0};
  std::atomic<int64_t> allocations{0};
};

Counters& counters(DeviceType type) {
  static Counters cpu, cuda;
  return type == DeviceType::cpu ? cpu : cuda;
}

void count_allocation(DeviceType type, int64_t bytes) {
  Counters& c = counters(type);
  int64_t now = c.in_use.fetch_add(bytes) + bytes;
  int64_t peak = c.peak.load();
  while (now > peak && !c.peak.compare_exchange_weak(peak, now)) {
  }
  c.allocations.fetch_add(1);
}

constexpr size_t cpu_alignment = 64;
constexpr size_t cached_block = size_t(64) << 10;  // blocks from this size up are cached
constexpr size_t huge_page = size_t(2) << 20;      // and from this size up huge-page backed

// Free large host blocks by capacity; a request takes the smallest block that fits, if it is at
// most twice the request.
struct HostPool {
  std::mutex mutex;
  std::multimap<size_t, void*> free_blocks;
  int64_t cached = 0;
};

HostPool& host_pool() {
  static HostPool* p = new HostPool();  // never destroyed: storages may die during teardown
  return *p;
}

}  // namespace

void* host_allocate(size_t bytes, size_t* capacity) {
  if (bytes < cached_block) {
    const size_t size =
        std::max<size_t>((bytes + cpu_alignment - 1) / cpu_alignment, 1) * cpu_alignment;
    void* p = std::aligned_alloc(cpu_alignment, size);
    NIDIM_CHECK(p != nullptr, "out of host memory allocating {} bytes", bytes);
    *capacity = size;
    return p;
  }
  const size_t unit = bytes >= huge_page ? huge_page : cached_block;
  const size_t size = (bytes + unit - 1) / unit * unit;
  {
    HostPool& pool = host_pool();
    std::lock_guard<std::mutex> lock(pool.mutex);
    auto it = pool.free_blocks.lower_bound(size);
    if (it != pool.free_blocks.end() && it->first <= 2 * size) {
      void* p = it->second;
      *capacity = it->first;
      pool.cached -= static_cast<int64_t>(it->first);
      pool.free_blocks.erase(it);
      return p;
    }
  }
  const size_t alignment = size >= huge_page ? huge_page : cpu_alignment;
  void* p = std::aligned_alloc(alignment, size);
  if (p == nullptr) {  // give the cache back and try once more
    host_empty_cache();
    p = std::aligned_alloc(alignment, size);
  }
  NIDIM_CHECK(p != nullptr, "out of host memory allocating {} bytes", bytes);
  if (size >= huge_page)
    ::madvise(p, size, MADV_HUGEPAGE);  // advisory: ignored where huge pages are off
  *capacity = size;
  return p;
}

void host_deallocate(void* ptr, size_t capacity) {
  if (ptr == nullptr) return;
  if (capacity < cached_block) {
    std::free(ptr);
    return;
  }
  HostPool& pool = host_pool();
  std::lock_guard<std::mutex> lock(pool.mutex);
  pool.free_blocks.emplace(capacity, ptr);
  pool.cached += static_cast<int64_t>(capacity);
}

void host_empty_cache() {
  HostPool& pool = host_pool();
  std::lock_guard<std::mutex> lock(pool.mutex);
  for (auto& [size, p] : pool.free_blocks) std::free(p);
  pool.free_blocks.clear();
  pool.cached = 0;
}

int64_t host_cached_bytes() {
  HostPool& pool = host_pool();
  std::lock_guard<std::mutex> lock(pool.mutex);
  return pool.cached;
}

MemoryStats memory_stats(DeviceType type) {
  Counters& c = counters(type);
  return {c.in_use.load(), c.peak.load(), c.allocations.load()};
}

void reset_peak_memory(DeviceType type) {
  Counters& c = counters(type);
  c.peak.store(c.in_use.load());
}

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    const std::string num = text.substr(5);
    NIDIM_CHECK(!num.empty() && num.find_first_not_of("0123456789") == std::string::npos,
                "device '{}': expected cpu, cuda or cuda:N", text);
    return Device::cuda(std::stoi(num));
  }
  NIDIM_FAIL("device '{}': expected cpu, cuda or cuda:N", text);
}

Storage::Storage(size_t bytes, Device device) : m_bytes(bytes), m_device(device) {
  if (device.is_cpu()) {
    m_data = host_allocate(bytes, &m_capacity);
  } else {
    // Round up so that a zero-byte tensor still has a valid, unique pointer.
    m_capacity = std::max<size_t>((bytes + cpu_alignment - 1) / cpu_alignment, 1) * cpu_alignment;
    m_data = cuda_allocate(m_capacity, device.index);
  }
  count_allocation(device.type, static_cast<int64_t>(bytes));
}

Storage::~Storage() {
  if (m_device.is_cpu())
    host_deallocate(m_data, m_capacity);
  else
    cuda_deallocate(m_data, m_capacity, m_device.index);
  counters(m_device.type).in_use.fetch_sub(static_cast<int64_t>(m_bytes));
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, bytes);
  } else if (dst_device.is_cuda() && src_device.is_cpu()) {
    cuda_copy(dst, src, bytes, CopyKind::host_to_device);
  } else if (dst_device.is_cpu() && src_device.is_cuda()) {
    cuda_copy(dst, src, bytes, CopyKind::device_to_host);
  } else {
    cuda_copy(dst, src, bytes, CopyKind::device_to_device);
  }
}

}  // namespace nidim
