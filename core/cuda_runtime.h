// nidim/core/cuda_runtime.h: the part of the CUDA runtime that core needs (device count,
// memory, copies), callable from plain C++. Implemented in core/cuda/runtime.cu when the CUDA
// backend is built, and by core/cuda_stub.cpp otherwise, where every call but
// cuda_device_count() throws "built without CUDA".
#pragma once

#include <cstddef>
#include <string>

namespace nidim {

bool cuda_compiled();     // was the CUDA backend built?
int cuda_device_count();  // 0 without a driver or a GPU; never throws
std::string cuda_device_name(int index);

// Caching allocator: freed blocks go back to a per-size pool, so a training step that repeats
// the same shapes does not call cudaMalloc after its first iteration.
void* cuda_allocate(size_t bytes, int device);
void cuda_deallocate(void* ptr, size_t bytes, int device);
void cuda_empty_cache();

enum class CopyKind { host_to_device, device_to_host, device_to_device };
void cuda_copy(void* dst, const void* src, size_t bytes, CopyKind kind);

}  // namespace nidim
