// nidim/core/cuda_stub.cpp: stands in for core/cuda/runtime.cu when nidim is built without
// CUDA, so that asking for a CUDA tensor gives a clear error instead of a link failure.
#include "core/cuda_runtime.h"
#include "core/error.h"

namespace nidim {

namespace {
[[noreturn]] void no_cuda(const char* what) {
  NIDIM_FAIL(
      "{}: nidim was built without CUDA (configure with -DNIDIM_CUDA=ON on a machine "
      "with the CUDA toolkit)",
      what);
}
}  // namespace

bool cuda_compiled() {
  return false;
}
int cuda_device_count() {
  return 0;
}
std::string cuda_device_name(int) {
  no_cuda("cuda_device_name");
}
void* cuda_allocate(size_t, int) {
  no_cuda("cuda_allocate");
}
void cuda_deallocate(void*, size_t, int) {
  no_cuda("cuda_deallocate");
}
void cuda_empty_cache() {}
void cuda_copy(void*, const void*, size_t, CopyKind) {
  no_cuda("cuda_copy");
}

}  // namespace nidim
