// nidim/kernels/cuda/library.cu: the per-device cuBLAS and cuDNN handles (kernels/cuda/library.h)
// and the backend's settings (TF32, the convolution workspace cap; kernels_cuda.h).
//
// Handles are created on first use for the current device, bound to its compute stream, and kept
// until the process ends. cuBLAS gets a 32 MiB workspace from the caching allocator (NVIDIA's
// recommendation for Hopper), so none of its calls allocate. Math mode: CUBLAS_DEFAULT_MATH
// (plain float32 FMA) unless TF32 is on, then CUBLAS_TF32_TENSOR_OP_MATH.
#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "core/cuda/memory.h"
#include "core/cuda/stream.h"
#include "kernels/cuda/kernels_cuda.h"
#include "kernels/cuda/library.h"

namespace nidim {

namespace {

constexpr int max_devices = 64;
constexpr size_t cublas_workspace_bytes = size_t(32) << 20;

struct Handles {
  std::mutex mutex;
  cublasHandle_t cublas[max_devices] = {};
  bool cublas_tf32[max_devices] = {};
  cudnnHandle_t cudnn[max_devices] = {};
  CudaBuffer* cublas_workspace[max_devices] = {};
};

Handles& handles() {
  static Handles* h = new Handles();  // never destroyed (see library.h)
  return *h;
}

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && v[0] != '\0' && v[0] != '0';
}

std::atomic<bool>& tf32_flag() {
  static std::atomic<bool> on{env_flag("NIDIM_TF32")};
  return on;
}

std::atomic<size_t>& workspace_limit() {
  static std::atomic<size_t> bytes{[] {
    const char* v = std::getenv("NIDIM_CUDNN_WORKSPACE_MIB");
    const long mib = v ? std::atol(v) : 0;
    return (mib > 0 ? static_cast<size_t>(mib) : size_t(256)) << 20;
  }()};
  return bytes;
}

}  // namespace

void set_tf32_cuda(bool on) {
  tf32_flag().store(on);
}
bool tf32_cuda() {
  return tf32_flag().load();
}
void set_conv_workspace_limit_cuda(size_t bytes) {
  workspace_limit().store(bytes);
}
size_t conv_workspace_limit_cuda() {
  return workspace_limit().load();
}

cublasHandle_t cublas_handle() {
  const int device = current_device();
  Handles& h = handles();
  std::lock_guard<std::mutex> lock(h.mutex);
  if (!h.cublas[device]) {
    // Configured before it is published: a failed setting destroys it, and the next call starts
    // over instead of getting a handle on the wrong stream or without its workspace.
    cublasHandle_t handle = nullptr;
    NIDIM_CUBLAS_CHECK(cublasCreate(&handle), "cublasCreate");
    try {
      auto workspace = std::make_unique<CudaBuffer>(cublas_workspace_bytes, device);
      NIDIM_CUBLAS_CHECK(cublasSetStream(handle, compute_stream(device)), "cublasSetStream");
      NIDIM_CUBLAS_CHECK(cublasSetWorkspace(handle, workspace->get(), cublas_workspace_bytes),
                         "cublasSetWorkspace");
      NIDIM_CUBLAS_CHECK(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
      h.cublas_workspace[device] = workspace.release();
    } catch (...) {
      const cublasStatus_t status = cublasDestroy(handle);  // logged only: the first error wins
      NIDIM_CHECK_LOG(status == CUBLAS_STATUS_SUCCESS, "cublasDestroy: cuBLAS error {}",
                      cublasGetStatusName(status));
      throw;
    }
    h.cublas[device] = handle;
    h.cublas_tf32[device] = false;
  }
  const bool tf32 = tf32_cuda();
  if (h.cublas_tf32[device] != tf32) {
    NIDIM_CUBLAS_CHECK(cublasSetMathMode(h.cublas[device],
                                         tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
                       "cublasSetMathMode");
    h.cublas_tf32[device] = tf32;
  }
  return h.cublas[device];
}

cudnnHandle_t cudnn_handle() {
  const int device = current_device();
  Handles& h = handles();
  std::lock_guard<std::mutex> lock(h.mutex);
  if (!h.cudnn[device]) {
    cudnnHandle_t handle = nullptr;  // published once bound to the stream, as cuBLAS's above
    NIDIM_CUDNN_CHECK(cudnnCreate(&handle), "cudnnCreate");
    try {
      NIDIM_CUDNN_CHECK(cudnnSetStream(handle, compute_stream(device)), "cudnnSetStream");
    } catch (...) {
      NIDIM_CUDNN_CHECK_LOG(cudnnDestroy(handle), "cudnnDestroy");  // logged: the first error wins
      throw;
    }
    h.cudnn[device] = handle;
  }
  return h.cudnn[device];
}

}  // namespace nidim
