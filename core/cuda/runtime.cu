// nidim/core/cuda/runtime.cu: device queries, the caching device allocator and copies, for
// builds with the CUDA backend (see core/cuda_runtime.h).
//
// The allocator keeps freed blocks in per-(device, size) free lists and hands them out again,
// so the steady state of a training loop never calls cudaMalloc. Sizes are rounded up to 512
// bytes. cuda_empty_cache() returns every cached block to the driver. One mutex guards the pool;
// allocations are rare next to kernel launches.
#include <map>
#include <mutex>
#include <vector>

#include "core/cuda/check.h"
#include "core/cuda_runtime.h"

namespace nidim {

namespace {

struct Pool {
  std::mutex mutex;
  std::map<std::pair<int, size_t>, std::vector<void*>> free_blocks;
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: blocks may be freed during static teardown
  return *p;
}

size_t round_up(size_t bytes) { return (bytes + 511) / 512 * 512; }

}  // namespace

bool cuda_compiled() { return true; }

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
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
  {
    std::lock_guard<std::mutex> lock(pool().mutex);
    auto it = pool().free_blocks.find({device, size});
    if (it != pool().free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      return p;
    }
  }
  NIDIM_CUDA_CHECK(cudaSetDevice(device), "cuda_allocate");
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, size);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    cuda_empty_cache();
    err = cudaMalloc(&p, size);
  }
  NIDIM_CUDA_CHECK(err, fmt::format("cuda_allocate({} bytes)", bytes));
  return p;
}

void cuda_deallocate(void* ptr, size_t bytes, int device) {
  std::lock_guard<std::mutex> lock(pool().mutex);
  pool().free_blocks[{device, round_up(bytes)}].push_back(ptr);
}

void cuda_empty_cache() {
  std::lock_guard<std::mutex> lock(pool().mutex);
  for (auto& [key, blocks] : pool().free_blocks) {
    for (void* p : blocks) NIDIM_CUDA_CHECK_LOG(cudaFree(p), "cuda_empty_cache");
    blocks.clear();
  }
}

void cuda_copy(void* dst, const void* src, size_t bytes, CopyKind kind) {
  const cudaMemcpyKind k = kind == CopyKind::host_to_device   ? cudaMemcpyHostToDevice
                           : kind == CopyKind::device_to_host ? cudaMemcpyDeviceToHost
                                                              : cudaMemcpyDeviceToDevice;
  NIDIM_CUDA_CHECK(cudaMemcpy(dst, src, bytes, k), "cuda_copy");
}

}  // namespace nidim
