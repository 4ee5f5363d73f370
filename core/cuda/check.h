// nidim/core/cuda/check.h: the CUDA member of the check-macro family (see core/error.h).
// NIDIM_CUDA_CHECK(call, "what") throws nidim::Error naming `what`, the CUDA error and the source
// line; NIDIM_CUDA_CHECK_LOG is the variant for destructors.
#pragma once

#include <cuda_runtime.h>

#include "core/error.h"

#define NIDIM_CUDA_CHECK(call, what)                                                    \
  do {                                                                                  \
    cudaError_t nidim_err_ = (call);                                                    \
    if (nidim_err_ != cudaSuccess)                                                      \
      NIDIM_FAIL("{}: CUDA error {} ({}) at {}:{}", what, cudaGetErrorName(nidim_err_), \
                 cudaGetErrorString(nidim_err_), __FILE__, __LINE__);                   \
  } while (0)

#define NIDIM_CUDA_CHECK_LOG(call, what)                                           \
  do {                                                                             \
    cudaError_t nidim_err_ = (call);                                               \
    NIDIM_CHECK_LOG(nidim_err_ == cudaSuccess, "{}: CUDA error {} at {}:{}", what, \
                    cudaGetErrorName(nidim_err_), __FILE__, __LINE__);             \
  } while (0)
