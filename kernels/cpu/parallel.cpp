// nidim/kernels/cpu/parallel.cpp: see parallel.h.
#include "kernels/cpu/parallel.h"

#include "kernels/cpu/blas.h"

namespace nidim {

void set_num_threads(int n) {
  if (n <= 0) n = omp_get_num_procs();
  omp_set_num_threads(n);
  blas_set_num_threads(n);
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace nidim
