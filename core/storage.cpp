// nidim/core/storage.cpp: allocation, accounting and copies. See storage.h.
#include "core/storage.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

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

}  // namespace

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
  // Round up so that a zero-byte tensor still has a valid, unique pointer.
  const size_t padded = ((bytes + cpu_alignment - 1) / cpu_alignment + (bytes == 0)) * cpu_alignment;
  if (device.is_cpu()) {
    m_data = std::aligned_alloc(cpu_alignment, padded);
    NIDIM_CHECK(m_data != nullptr, "out of host memory allocating {} bytes", bytes);
  } else {
    m_data = cuda_allocate(padded, device.index);
  }
  count_allocation(device.type, static_cast<int64_t>(bytes));
}

Storage::~Storage() {
  if (m_device.is_cpu()) {
    std::free(m_data);
  } else {
    const size_t padded =
        ((m_bytes + cpu_alignment - 1) / cpu_alignment + (m_bytes == 0)) * cpu_alignment;
    cuda_deallocate(m_data, padded, m_device.index);
  }
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
