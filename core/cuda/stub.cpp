// nidim/core/cuda/stub.cpp: stands in for the core/cuda/memory.h part of core/cuda/runtime.cu when
// nidim is built without CUDA (core/cuda_stub.cpp does the same for core/cuda_runtime.h): the
// counters read zero; buffers, copies and synchronization throw "built without CUDA".
#include "core/cuda/memory.h"
#include "core/error.h"

namespace nidim {

namespace {
[[noreturn]] void no_cuda(const char* what) {
  NIDIM_FAIL(
      "{}: nidim was built without CUDA (configure with -DNIDIM_CUDA=ON on a machine with the CUDA "
      "toolkit)",
      what);
}
}  // namespace

CudaMemoryStats cuda_memory_stats() {
  return {};
}
void reset_cuda_peak_memory() {}
void cuda_profiler(bool) {}
void cuda_synchronize(int, const char*) {
  no_cuda("cuda_synchronize");
}

CudaBuffer::CudaBuffer(size_t bytes, int) : m_bytes(bytes) {
  if (bytes > 0) no_cuda("CudaBuffer");
}
CudaBuffer::~CudaBuffer() = default;
void CudaBuffer::release() {}
CudaBuffer::CudaBuffer(CudaBuffer&& o) noexcept
    : m_ptr(o.m_ptr), m_bytes(o.m_bytes), m_device(o.m_device) {}
CudaBuffer& CudaBuffer::operator=(CudaBuffer&&) noexcept {
  return *this;
}

PinnedBuffer::PinnedBuffer(size_t bytes) : m_bytes(bytes) {
  if (bytes > 0) no_cuda("PinnedBuffer");
}
PinnedBuffer::~PinnedBuffer() = default;
void PinnedBuffer::release() {}
PinnedBuffer::PinnedBuffer(PinnedBuffer&& o) noexcept : m_ptr(o.m_ptr), m_bytes(o.m_bytes) {}
PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&&) noexcept {
  return *this;
}

void cuda_copy_pinned_to_device_async(void*, const void*, size_t, int) {
  no_cuda("cuda_copy_pinned_to_device_async");
}

PinnedReadback::PinnedReadback(const void*, size_t, int) {
  no_cuda("PinnedReadback");
}
PinnedReadback::~PinnedReadback() = default;
void PinnedReadback::release() {}
PinnedReadback::PinnedReadback(PinnedReadback&&) noexcept {}
PinnedReadback& PinnedReadback::operator=(PinnedReadback&&) noexcept {
  return *this;
}
void PinnedReadback::wait_into(void*) const {
  no_cuda("PinnedReadback::wait_into");
}

}  // namespace nidim
