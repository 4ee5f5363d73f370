// nidim/kernels/cuda/optim.cu: the fused parameter updates of SGD (also LARS's inner step) and
// Adam/AdamW, one kernel each, with PyTorch's formulas and operation order (the CUDA twin of
// kernels/cpu/optim.cpp). The per-step scalars (bias corrections, step size) are computed once on
// the host in double, exactly as the CPU computes them, and passed to the kernel.
// One thread per parameter element; parameters, moments and buffers are updated in place.
// Kernel names start with "optim_".
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels_cuda.h"
#include "kernels/math.h"

namespace nidim {

using namespace gpu;

namespace {

template <class T>
__global__ void optim_sgd_kernel(T* p, const T* grad, T* buf, int64_t n, T lr, T mom, T damp, T wd,
                                 T sc, bool use_wd, bool use_scale, bool use_momentum,
                                 bool nesterov, bool first) {
  NIDIM_GRID_LOOP(i, n) {
    T g = grad[i];
    if (use_wd) g = g + wd * p[i];
    if (use_scale) g = g * sc;
    if (use_momentum) {
      buf[i] = first ? g : mom * buf[i] + damp * g;
      g = nesterov ? g + mom * buf[i] : buf[i];
    }
    p[i] = p[i] - lr * g;
  }
}

template <class T>
__global__ void optim_adam_kernel(T* p, const T* grad, T* m, T* v, int64_t n, T step_size,
                                  T bias2_sqrt, T b1, T b2, T eps, T wd, T decay, bool use_wd,
                                  bool decoupled) {
  NIDIM_GRID_LOOP(i, n) {
    T g = grad[i];
    if (use_wd) {
      if (decoupled)
        p[i] = p[i] * decay;  // AdamW
      else
        g = g + wd * p[i];  // Adam's L2 penalty
    }
    m[i] = m[i] * b1 + (T(1) - b1) * g;
    v[i] = v[i] * b2 + (T(1) - b2) * g * g;
    const T denom = m_sqrt(v[i]) / bias2_sqrt + eps;
    p[i] = p[i] + (-step_size * m[i]) / denom;
  }
}

}  // namespace

template <class T>
void sgd_step_cuda(T* p, const T* grad, T* buf, int64_t n, double lr, double momentum,
                   double dampening, double weight_decay, double scale, bool nesterov, bool first) {
  optim_sgd_kernel<<<grid_for(n), block_threads, 0, current_stream()>>>(
      p, grad, buf, n, static_cast<T>(lr), static_cast<T>(momentum), static_cast<T>(1 - dampening),
      static_cast<T>(weight_decay), static_cast<T>(scale), weight_decay != 0, scale != 1,
      momentum != 0, nesterov, first);
}

template <class T>
void adam_step_cuda(T* p, const T* grad, T* m, T* v, int64_t n, double lr, double beta1,
                    double beta2, double eps, double weight_decay, int64_t step, bool decoupled) {
  const double bias1 = 1 - std::pow(beta1, static_cast<double>(step));
  const double bias2 = 1 - std::pow(beta2, static_cast<double>(step));
  optim_adam_kernel<<<grid_for(n), block_threads, 0, current_stream()>>>(
      p, grad, m, v, n, static_cast<T>(lr / bias1), static_cast<T>(std::sqrt(bias2)),
      static_cast<T>(beta1), static_cast<T>(beta2), static_cast<T>(eps),
      static_cast<T>(weight_decay), static_cast<T>(1 - lr * weight_decay), weight_decay != 0,
      decoupled);
}

#define NIDIM_INSTANTIATE(T)                                                                     \
  template void sgd_step_cuda<T>(T*, const T*, T*, int64_t, double, double, double, double,      \
                                 double, bool, bool);                                            \
  template void adam_step_cuda<T>(T*, const T*, T*, T*, int64_t, double, double, double, double, \
                                  double, int64_t, bool);
NIDIM_INSTANTIATE(float)
NIDIM_INSTANTIATE(double)
#undef NIDIM_INSTANTIATE

}  // namespace nidim
