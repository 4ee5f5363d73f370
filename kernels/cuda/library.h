// nidim/kernels/cuda/library.h: cuBLAS and cuDNN for the CUDA backend: their members of the
// check-macro family, RAII handles and descriptors, and the per-device handles bound to the
// compute stream.
//
//   NIDIM_CUBLAS_CHECK(call, "matmul")   throws nidim::Error naming the op, the cuBLAS status and
//   NIDIM_CUDNN_CHECK(call, "conv2d")    the source line, like NIDIM_CUDA_CHECK (core/cuda/check.h)
//
// cublas_handle() / cudnn_handle() give the current device's handle, created on first use, bound
// to compute_stream() and kept for the life of the process (like the streams: destroying library
// handles during static teardown races the driver's own teardown). cuBLAS gets a workspace from
// the caching allocator, so it never calls cudaMalloc itself.
#pragma once

#include <cublas_v2.h>
#include <cudnn.h>

#include "core/cuda/check.h"

#define NIDIM_CUBLAS_CHECK(call, what)                                                          \
  do {                                                                                          \
    cublasStatus_t nidim_status_ = (call);                                                      \
    if (nidim_status_ != CUBLAS_STATUS_SUCCESS)                                                 \
      NIDIM_FAIL("{}: cuBLAS error {} ({}) at {}:{}", what, cublasGetStatusName(nidim_status_), \
                 cublasGetStatusString(nidim_status_), __FILE__, __LINE__);                     \
  } while (0)

#define NIDIM_CUDNN_CHECK(call, what)                                                     \
  do {                                                                                    \
    cudnnStatus_t nidim_status_ = (call);                                                 \
    if (nidim_status_ != CUDNN_STATUS_SUCCESS)                                            \
      NIDIM_FAIL("{}: cuDNN error {} at {}:{}", what, cudnnGetErrorString(nidim_status_), \
                 __FILE__, __LINE__);                                                     \
  } while (0)

#define NIDIM_CUDNN_CHECK_LOG(call, what)                                                       \
  do {                                                                                          \
    cudnnStatus_t nidim_status_ = (call);                                                       \
    NIDIM_CHECK_LOG(nidim_status_ == CUDNN_STATUS_SUCCESS, "{}: cuDNN error {} at {}:{}", what, \
                    cudnnGetErrorString(nidim_status_), __FILE__, __LINE__);                    \
  } while (0)

namespace nidim {

// The current device's handles, bound to its compute stream.
cublasHandle_t cublas_handle();
cudnnHandle_t cudnn_handle();

// RAII cuDNN descriptors (one class per kind; each creates in its constructor and destroys in its
// destructor, logging instead of throwing there).
class TensorDescriptor {
 public:
  TensorDescriptor() {
    NIDIM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&m_desc), "cudnnCreateTensorDescriptor");
  }
  ~TensorDescriptor() {
    NIDIM_CUDNN_CHECK_LOG(cudnnDestroyTensorDescriptor(m_desc), "cudnnDestroyTensorDescriptor");
  }
  TensorDescriptor(const TensorDescriptor&) = delete;
  TensorDescriptor& operator=(const TensorDescriptor&) = delete;
  cudnnTensorDescriptor_t get() const { return m_desc; }

 private:
  cudnnTensorDescriptor_t m_desc = nullptr;
};

class FilterDescriptor {
 public:
  FilterDescriptor() {
    NIDIM_CUDNN_CHECK(cudnnCreateFilterDescriptor(&m_desc), "cudnnCreateFilterDescriptor");
  }
  ~FilterDescriptor() {
    NIDIM_CUDNN_CHECK_LOG(cudnnDestroyFilterDescriptor(m_desc), "cudnnDestroyFilterDescriptor");
  }
  FilterDescriptor(const FilterDescriptor&) = delete;
  FilterDescriptor& operator=(const FilterDescriptor&) = delete;
  cudnnFilterDescriptor_t get() const { return m_desc; }

 private:
  cudnnFilterDescriptor_t m_desc = nullptr;
};

class ConvolutionDescriptor {
 public:
  ConvolutionDescriptor() {
    NIDIM_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&m_desc),
                      "cudnnCreateConvolutionDescriptor");
  }
  ~ConvolutionDescriptor() {
    NIDIM_CUDNN_CHECK_LOG(cudnnDestroyConvolutionDescriptor(m_desc),
                          "cudnnDestroyConvolutionDescriptor");
  }
  ConvolutionDescriptor(const ConvolutionDescriptor&) = delete;
  ConvolutionDescriptor& operator=(const ConvolutionDescriptor&) = delete;
  cudnnConvolutionDescriptor_t get() const { return m_desc; }

 private:
  cudnnConvolutionDescriptor_t m_desc = nullptr;
};

}  // namespace nidim
