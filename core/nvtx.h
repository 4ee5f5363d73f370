// nidim/core/nvtx.h: NVTX ranges for Nsight Systems / Nsight Compute, free when off.
//
//   NIDIM_NVTX_RANGE("conv2d");   // a range from here to the end of the enclosing scope
//
// With the CMake option NIDIM_NVTX (CUDA builds only) this pushes an NVTX range (NVTX3, header
// only, from the CUDA toolkit) and pops it when the scope ends; otherwise it compiles to nothing,
// not even the evaluation of its argument. dispatch_cuda opens one range per op named after the op
// (core/op.h), so Nsight's timeline shows "conv2d", "batch_norm"... above the kernels they
// launched; training phases use the same macro (docs/PROFILING.md).
// The name must outlive the range (a string literal, or op_name()).
#pragma once

#if defined(NIDIM_NVTX)
#include <nvtx3/nvToolsExt.h>

namespace nidim {
class NvtxRange {
 public:
  explicit NvtxRange(const char* name) { nvtxRangePushA(name); }
  ~NvtxRange() { nvtxRangePop(); }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};
}  // namespace nidim

#define NIDIM_NVTX_CONCAT2(a, b) a##b
#define NIDIM_NVTX_CONCAT(a, b) NIDIM_NVTX_CONCAT2(a, b)
#define NIDIM_NVTX_RANGE(name) \
  ::nidim::NvtxRange NIDIM_NVTX_CONCAT(nidim_nvtx_range_, __LINE__)(name)
#else
#define NIDIM_NVTX_RANGE(name) ((void)0)
#endif
