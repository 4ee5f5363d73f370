// nidim/kernels/cpu/blas.h: general matrix multiply through OpenBLAS's CBLAS interface.
//
// OpenBLAS is opened at run time (dlopen) rather than linked, so that its core type can be set
// before it initializes: Debian's OpenBLAS 0.3.21 does not recognize recent AVX-512 CPUs (Zen 4/5,
// some Xeons) and falls back to its Haswell kernel, about half the speed of its SkylakeX kernel on
// this project's machines (bench/README.md has the numbers). When the CPU has AVX-512 (F, BW, DQ,
// VL, CD) and OPENBLAS_CORETYPE is unset or names a core without AVX-512 (the machines here
// inherit OPENBLAS_CORETYPE=Haswell from their environment), nidim sets it to SkylakeX before
// opening the library. NIDIM_BLAS_CORETYPE=<name> forces any core instead.
// Threads: OpenBLAS uses num_threads() (core/parallel.h); its OpenMP runtime, loaded with it,
// gets GOMP_SPINCOUNT=1000 unless the user set a wait policy.
#pragma once

#include <cstdint>
#include <string>

namespace nidim {

// Row-major C[M, N] = alpha * op(A) op(B) + beta * C, op(X) = X or X^T; lda, ldb, ldc are the
// row strides of A, B, C as stored.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
          const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
          int64_t ldc);

// "OpenBLAS 0.3.21 (core SkylakeX, from /usr/lib/...)" after the first gemm, for logs and benchmarks.
std::string blas_info();

}  // namespace nidim
