// nidim/kernels/cuda/stub.cpp: the settings part of kernels/cuda/kernels_cuda.h for builds without
// CUDA, so that tools can offer --tf32 and the like in every build: the switches are remembered
// and have no effect (no CUDA op can run). The launchers themselves are not stubbed: nothing calls
// them without CUDA (kernels/cuda_stub.cpp refuses every CUDA kernel call first).
#include <atomic>

#include "kernels/cuda/kernels_cuda.h"

namespace nidim {

namespace {
std::atomic<bool> tf32{false};
std::atomic<size_t> workspace_limit{size_t(256) << 20};
}  // namespace

void set_tf32_cuda(bool on) {
  tf32.store(on);
}
bool tf32_cuda() {
  return tf32.load();
}
void set_conv_workspace_limit_cuda(size_t bytes) {
  workspace_limit.store(bytes);
}
size_t conv_workspace_limit_cuda() {
  return workspace_limit.load();
}
std::string conv_algorithms_cuda(int) {
  return {};
}
int64_t set_conv_algorithms_cuda(const std::string&, int, std::string* why) {
  if (why) *why = "nidim was built without CUDA";
  return 0;
}

}  // namespace nidim
