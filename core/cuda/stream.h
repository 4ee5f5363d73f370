// nidim/core/cuda/stream.h: RAII wrappers for CUDA streams and events, the device guard, and the
// one compute stream per device on which every op, copy and library call runs.
//
// CUDA code only (it names CUDA types); plain C++ uses core/cuda/memory.h and
// core/cuda_runtime.h instead.
//
// Ordering rule: all of nidim's device work on device d is queued on compute_stream(d), so work
// is ordered without explicit synchronization, and the caching allocator (core/cuda/runtime.cu)
// may hand a freed block to the next request at once: the next user of the block is queued behind
// the last one. The stream is created with cudaStreamDefault (it synchronizes with the legacy
// default stream), so a stray cudaMemcpy elsewhere stays ordered too.
// The per-device streams live until the process ends (never destroyed: the CUDA driver may be
// gone when static destructors run).
#pragma once

#include <cuda_runtime.h>

#include "core/cuda/check.h"

namespace nidim {

// The stream on which nidim queues work for `device`.
cudaStream_t compute_stream(int device);
// compute_stream() of the calling thread's current device (cudaGetDevice).
cudaStream_t current_stream();
// The calling thread's current device.
int current_device();

// Makes `device` current for the scope and restores the previous device after it.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    NIDIM_CUDA_CHECK(cudaGetDevice(&m_previous), "DeviceGuard");
    if (device != m_previous) NIDIM_CUDA_CHECK(cudaSetDevice(device), "DeviceGuard");
  }
  ~DeviceGuard() {
    int now = m_previous;
    if (cudaGetDevice(&now) == cudaSuccess && now != m_previous)
      NIDIM_CUDA_CHECK_LOG(cudaSetDevice(m_previous), "~DeviceGuard");
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int m_previous = 0;
};

// An owned stream (the kernel lab and tests; production uses compute_stream()).
class Stream {
 public:
  explicit Stream(unsigned flags = cudaStreamNonBlocking) {
    NIDIM_CUDA_CHECK(cudaStreamCreateWithFlags(&m_stream, flags), "Stream");
  }
  ~Stream() {
    if (m_stream) NIDIM_CUDA_CHECK_LOG(cudaStreamDestroy(m_stream), "~Stream");
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return m_stream; }
  void synchronize() const {
    NIDIM_CUDA_CHECK(cudaStreamSynchronize(m_stream), "Stream::synchronize");
  }

 private:
  cudaStream_t m_stream = nullptr;
};

// An owned event; timing events for the kernel lab, sync-only events (cudaEventDisableTiming)
// for ordering.
class Event {
 public:
  explicit Event(bool timing = true) {
    NIDIM_CUDA_CHECK(
        cudaEventCreateWithFlags(&m_event, timing ? cudaEventDefault : cudaEventDisableTiming),
        "Event");
  }
  ~Event() {
    if (m_event) NIDIM_CUDA_CHECK_LOG(cudaEventDestroy(m_event), "~Event");
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return m_event; }
  void record(cudaStream_t stream) {
    NIDIM_CUDA_CHECK(cudaEventRecord(m_event, stream), "Event::record");
  }
  void synchronize() const {
    NIDIM_CUDA_CHECK(cudaEventSynchronize(m_event), "Event::synchronize");
  }
  // Milliseconds from `start` to this event (both recorded and complete).
  float elapsed_ms_since(const Event& start) const {
    float ms = 0;
    NIDIM_CUDA_CHECK(cudaEventElapsedTime(&ms, start.m_event, m_event), "Event::elapsed_ms_since");
    return ms;
  }

 private:
  cudaEvent_t m_event = nullptr;
};

}  // namespace nidim
