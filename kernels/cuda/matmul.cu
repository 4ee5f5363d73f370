// nidim/kernels/cuda/matmul.cu: matrix multiply through cuBLAS (the CUDA twin of
// kernels/cpu/matmul.cpp, with the same backward formulas).
//
// nidim's matrices are row-major; cuBLAS's are column-major. A row-major X [r, c] with row
// stride ld is, read column-major, X^T [c, r] with leading dimension ld. So the row-major
//   C [M, N] = op(A) op(B)
// is the column-major C^T [N, M] = op(B)^T op(A)^T: one cublas<t>gemm with the operands swapped,
// m = N, n = M, and each transpose flag kept (a row-major operand that is used transposed is a
// column-major one used transposed). No copies. TF32 tensor cores only when set_tf32_cuda(true)
// (cuBLAS math mode, library.cu); otherwise float32 FMA, as the CPU.
#include <climits>

#include "core/error.h"
#include "kernels/cuda/kernels_cuda.h"
#include "kernels/cuda/library.h"

namespace nidim {

namespace {

int as_int(int64_t v, const char* what, const char* op) {
  NIDIM_CHECK(v >= 0 && v <= INT_MAX, "{}: {} = {} is beyond cuBLAS's 32-bit sizes", op, what, v);
  return static_cast<int>(v);
}

cublasStatus_t gemm_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                         int k, const float* alpha, const float* A, int lda, const float* B,
                         int ldb, const float* beta, float* C, int ldc) {
  return cublasSgemm(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

cublasStatus_t gemm_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                         int k, const double* alpha, const double* A, int lda, const double* B,
                         int ldb, const double* beta, double* C, int ldc) {
  return cublasDgemm(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace

template <class T>
void gemm_cuda(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
               int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc, const char* op) {
  if (M == 0 || N == 0) return;
  cublasHandle_t h = cublas_handle();
  // Scalars alpha and beta are read from host memory (the handle's default pointer mode).
  NIDIM_CUBLAS_CHECK(
      gemm_call(h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                as_int(N, "N", op), as_int(M, "M", op), as_int(K, "K", op), &alpha, B,
                as_int(ldb, "ldb", op), A, as_int(lda, "lda", op), &beta, C,
                as_int(ldc, "ldc", op)),
      op);
}

template <class T>
void matmul_forward_cuda(T* c, const T* a, const T* b, int64_t M, int64_t N, int64_t K, bool ta,
                         bool tb) {
  const int64_t lda = ta ? M : K, ldb = tb ? K : N;
  gemm_cuda(ta, tb, M, N, K, T(1), a, lda, b, ldb, T(0), c, N, "matmul");
}

template <class T>
void matmul_backward_cuda(T* da, T* db, const T* dc, const T* a, const T* b, int64_t M, int64_t N,
                          int64_t K, bool ta, bool tb) {
  const int64_t lda = ta ? M : K, ldb = tb ? K : N;
  if (da) {
    if (!ta)
      gemm_cuda(false, !tb, M, K, N, T(1), dc, N, b, ldb, T(0), da, K,
                "matmul backward");  // da [M, K] = dc op(b)^T
    else
      gemm_cuda(tb, true, K, M, N, T(1), b, ldb, dc, N, T(0), da, M,
                "matmul backward");  // da [K, M] = op(b) dc^T
  }
  if (db) {
    if (!tb)
      gemm_cuda(!ta, false, K, N, M, T(1), a, lda, dc, N, T(0), db, N,
                "matmul backward");  // db [K, N] = op(a)^T dc
    else
      gemm_cuda(true, ta, N, K, M, T(1), dc, N, a, lda, T(0), db, K,
                "matmul backward");  // db [N, K] = dc^T op(a)
  }
}

#define NIDIM_INSTANTIATE(T)                                                                    \
  template void gemm_cuda<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t,       \
                             const T*, int64_t, T, T*, int64_t, const char*);                   \
  template void matmul_forward_cuda<T>(T*, const T*, const T*, int64_t, int64_t, int64_t, bool, \
                                       bool);                                                   \
  template void matmul_backward_cuda<T>(T*, T*, const T*, const T*, const T*, int64_t, int64_t, \
                                        int64_t, bool, bool);
NIDIM_INSTANTIATE(float)
NIDIM_INSTANTIATE(double)
#undef NIDIM_INSTANTIATE

}  // namespace nidim
