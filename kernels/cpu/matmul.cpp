// nidim/kernels/cpu/matmul.cpp: matrix multiply through BLAS (kernels/cpu/blas.h).
//
// c = op(a) op(b) with op(x) = x or x^T. The backward pass needs
//   G_a = dc op(b)^T  [M, K]   and   G_b = op(a)^T dc  [K, N],
// stored transposed when the operand was used transposed: da = trans_a ? G_a^T : G_a, and the
// same for b. Each case is one GEMM with the right transpose flags, never an explicit copy.
#include "kernels/cpu/blas.h"
#include "kernels/cpu/kernels_cpu.h"

namespace nidim {

template <class T>
void matmul_forward_cpu(T* c, const T* a, const T* b, int64_t M, int64_t N, int64_t K, bool ta,
                        bool tb) {
  const int64_t lda = ta ? M : K, ldb = tb ? K : N;
  gemm(ta, tb, M, N, K, T(1), a, lda, b, ldb, T(0), c, N);
}

template <class T>
void matmul_backward_cpu(T* da, T* db, const T* dc, const T* a, const T* b, int64_t M, int64_t N,
                         int64_t K, bool ta, bool tb) {
  const int64_t lda = ta ? M : K, ldb = tb ? K : N;
  if (da) {
    if (!ta)
      gemm(false, !tb, M, K, N, T(1), dc, N, b, ldb, T(0), da, K);  // da [M, K] = dc op(b)^T
    else
      gemm(tb, true, K, M, N, T(1), b, ldb, dc, N, T(0), da, M);  // da [K, M] = op(b) dc^T
  }
  if (db) {
    if (!tb)
      gemm(!ta, false, K, N, M, T(1), a, lda, dc, N, T(0), db, N);  // db [K, N] = op(a)^T dc
    else
      gemm(true, ta, N, K, M, T(1), dc, N, a, lda, T(0), db, K);  // db [N, K] = dc^T op(a)
  }
}

template void matmul_forward_cpu<float>(float*, const float*, const float*, int64_t, int64_t,
                                        int64_t, bool, bool);
template void matmul_forward_cpu<double>(double*, const double*, const double*, int64_t, int64_t,
                                         int64_t, bool, bool);
template void matmul_backward_cpu<float>(float*, float*, const float*, const float*, const float*,
                                         int64_t, int64_t, int64_t, bool, bool);
template void matmul_backward_cpu<double>(double*, double*, const double*, const double*,
                                          const double*, int64_t, int64_t, int64_t, bool, bool);

}  // namespace nidim
