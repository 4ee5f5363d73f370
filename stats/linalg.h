// nidim/stats/linalg.h: the small dense linear algebra the multivariate tests need: mean and
// covariance, eigenvalues of a symmetric matrix, Cholesky factorization, whitening.
//
// Matrices are std::vector<double>, row-major, sizes passed alongside. Sizes here are the
// embedding dimension d (tens to a few hundred), so plain O(d^3) loops are enough; nothing
// calls BLAS. Left out: general (non-symmetric) eigenproblems, pivoting, LAPACK-level speed.
//
// Legend: N rows (observations), D columns (dimensions).
#pragma once

#include <cstdint>
#include <vector>

namespace nidim::stats {

// Column means (D) of x (N x D, row-major).
std::vector<double> column_means(const double* x, int64_t n, int64_t d);

// Biased covariance (D x D): (1/N) sum_i (x_i - mean)(x_i - mean)^T, numpy's
// np.cov(x, rowvar=False, bias=True).
std::vector<double> covariance_biased(const double* x, int64_t n, int64_t d,
                                      const std::vector<double>& mean);

// Eigenvalues of the symmetric matrix s (D x D), ascending, by the cyclic Jacobi method
// (Golub & Van Loan, Matrix Computations, 4th ed., Algorithm 8.5.3), which is accurate to
// about eps * ||s|| for every eigenvalue, small ones included.
std::vector<double> symmetric_eigenvalues(std::vector<double> s, int64_t d);

// numpy.linalg.matrix_rank of a symmetric positive semi-definite matrix from its eigenvalues:
// the count above max|lambda| * D * eps.
int64_t rank_from_eigenvalues(const std::vector<double>& eig, int64_t d);

// Lower-triangular L with L L^T = s (D x D); false when s is not (numerically) positive
// definite.
bool cholesky(const std::vector<double>& s, int64_t d, std::vector<double>* l);

// Whitened, centred data in column-major order: z[c * N + i] = (L^{-1} (x_i - mean))_c, so that
// z_i^T z_j = (x_i - mean)^T S^{-1} (x_j - mean) for S = L L^T.
std::vector<double> whiten_columns(const double* x, int64_t n, int64_t d,
                                   const std::vector<double>& mean, const std::vector<double>& l);

}  // namespace nidim::stats
