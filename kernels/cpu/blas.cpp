// nidim/kernels/cpu/blas.cpp: see blas.h.
#include "kernels/cpu/blas.h"

#include <cblas.h>
#include <dlfcn.h>

#include <cctype>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"

#ifndef NIDIM_OPENBLAS_CANDIDATES
#define NIDIM_OPENBLAS_CANDIDATES "libopenblas.so.0"
#endif

namespace nidim {

namespace {

using SgemmFn = void (*)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint,
                         float, const float*, blasint, const float*, blasint, float, float*,
                         blasint);
using DgemmFn = void (*)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint,
                         double, const double*, blasint, const double*, blasint, double, double*,
                         blasint);
using SetThreadsFn = void (*)(int);
using CorenameFn = char* (*)();
using ConfigFn = char* (*)();

struct Blas {
  SgemmFn sgemm = nullptr;
  DgemmFn dgemm = nullptr;
  SetThreadsFn set_threads = nullptr;
  CorenameFn corename = nullptr;
  ConfigFn config = nullptr;
  std::string path;
  std::string core_note;  // how the core type was chosen, for blas_info()
};

// OpenBLAS core names whose kernels use AVX-512 (0.3.21).
bool is_avx512_core(const std::string& name) {
  std::string n;
  for (char c : name) n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return n == "skylakex" || n == "cooperlake" || n == "sapphirerapids";
}

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512cd");
}

int g_blas_threads = 0;  // the thread count last given to OpenBLAS

Blas& blas() {
  static Blas b;
  static std::once_flag once;
  std::call_once(once, [] {
    // The core type is read once, when the library initializes. NIDIM_BLAS_CORETYPE forces a
    // choice; otherwise, on an AVX-512 CPU, a missing or non-AVX-512 OPENBLAS_CORETYPE (one
    // inherited from the environment, or OpenBLAS's own misdetection) becomes SkylakeX.
    const char* forced = std::getenv("NIDIM_BLAS_CORETYPE");
    const char* inherited = std::getenv("OPENBLAS_CORETYPE");
    if (forced) {
      setenv("OPENBLAS_CORETYPE", forced, 1);
      b.core_note = "from NIDIM_BLAS_CORETYPE";
    } else if (cpu_has_avx512() && (!inherited || !is_avx512_core(inherited))) {
      b.core_note = inherited
                        ? fmt::format("set by nidim, replacing OPENBLAS_CORETYPE={}", inherited)
                        : std::string("set by nidim");
      setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    }
    // OpenBLAS's OpenMP runtime is loaded by the dlopen below, so its spin count can still be
    // chosen here (core/parallel.h explains why a short one).
    if (!std::getenv("GOMP_SPINCOUNT") && !std::getenv("OMP_WAIT_POLICY"))
      setenv("GOMP_SPINCOUNT", "1000", 1);
    std::string tried;
    std::stringstream candidates(NIDIM_OPENBLAS_CANDIDATES);
    std::string path;
    void* handle = nullptr;
    while (!handle && std::getline(candidates, path, ';')) {
      handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      tried += (tried.empty() ? "" : ", ") + path;
      if (handle) b.path = path;
    }
    NIDIM_CHECK(handle, "BLAS: could not open OpenBLAS (tried {}); install libopenblas0-openmp",
                tried);
    b.sgemm = reinterpret_cast<SgemmFn>(dlsym(handle, "cblas_sgemm"));
    b.dgemm = reinterpret_cast<DgemmFn>(dlsym(handle, "cblas_dgemm"));
    b.set_threads = reinterpret_cast<SetThreadsFn>(dlsym(handle, "openblas_set_num_threads"));
    b.corename = reinterpret_cast<CorenameFn>(dlsym(handle, "openblas_get_corename"));
    b.config = reinterpret_cast<ConfigFn>(dlsym(handle, "openblas_get_config"));
    NIDIM_CHECK(b.sgemm && b.dgemm, "BLAS: {} has no cblas_sgemm/cblas_dgemm", b.path);
  });
  // Follow nidim's thread count (core/parallel.h), checked on every call: one comparison.
  const int want = num_threads();
  if (want != g_blas_threads && b.set_threads) {
    b.set_threads(want);
    g_blas_threads = want;
  }
  return b;
}

void check_dims(int64_t M, int64_t N, int64_t K) {
  constexpr int64_t limit = 2147483647;
  NIDIM_CHECK(M <= limit && N <= limit && K <= limit,
              "gemm: dimensions [{}, {}, {}] exceed the 32-bit BLAS interface", M, N, K);
}

}  // namespace

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  check_dims(M, N, K);
  blas().sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
               static_cast<blasint>(M), static_cast<blasint>(N), static_cast<blasint>(K), alpha, A,
               static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C,
               static_cast<blasint>(ldc));
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
          int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  check_dims(M, N, K);
  blas().dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
               static_cast<blasint>(M), static_cast<blasint>(N), static_cast<blasint>(K), alpha, A,
               static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C,
               static_cast<blasint>(ldc));
}

std::string blas_info() {
  Blas& b = blas();
  std::string core = b.corename ? b.corename() : "?";
  std::string config = b.config ? b.config() : "OpenBLAS";
  return fmt::format("{} (core {}{}{}, from {})", config, core, b.core_note.empty() ? "" : ", ",
                     b.core_note, b.path);
}

}  // namespace nidim
