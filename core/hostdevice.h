// nidim/core/hostdevice.h: NIDIM_HD marks inline functions compiled for both the CPU and the GPU
// (per-element math, Philox), so the two backends share one definition.
#pragma once

#if defined(__CUDACC__)
#define NIDIM_HD __host__ __device__
#else
#define NIDIM_HD
#endif
