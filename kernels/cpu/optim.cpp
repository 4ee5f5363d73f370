// nidim/kernels/cpu/optim.cpp: fused parameter updates of SGD (also LARS's inner step) and
// Adam/AdamW, with PyTorch's formulas and operation order (torch.optim, single-tensor form),
// so that a float32 step matches PyTorch's to rounding.
#include <cmath>

#include "core/parallel.h"
#include "kernels/cpu/kernels_cpu.h"

namespace nidim {

template <class T>
void sgd_step_cpu(T* p, const T* grad, T* buf, int64_t n, double lr, double momentum,
                  double dampening, double weight_decay, double scale, bool nesterov, bool first) {
  const T lr_t = static_cast<T>(lr), mom = static_cast<T>(momentum),
          damp = static_cast<T>(1 - dampening), wd = static_cast<T>(weight_decay),
          sc = static_cast<T>(scale);
  parallel_for(n, 1 << 15, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      T g = grad[i];
      if (weight_decay != 0) g = g + wd * p[i];
      if (scale != 1) g = g * sc;
      if (momentum != 0) {
        buf[i] = first ? g : mom * buf[i] + damp * g;
        g = nesterov ? g + mom * buf[i] : buf[i];
      }
      p[i] = p[i] - lr_t * g;
    }
  });
}

template <class T>
void adam_step_cpu(T* p, const T* grad, T* m, T* v, int64_t n, double lr, double beta1,
                   double beta2, double eps, double weight_decay, int64_t step, bool decoupled) {
  const double bias1 = 1 - std::pow(beta1, static_cast<double>(step));
  const double bias2 = 1 - std::pow(beta2, static_cast<double>(step));
  const T step_size = static_cast<T>(lr / bias1);
  const T bias2_sqrt = static_cast<T>(std::sqrt(bias2));
  const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2), e = static_cast<T>(eps);
  const T wd = static_cast<T>(weight_decay), decay = static_cast<T>(1 - lr * weight_decay);
  parallel_for(n, 1 << 15, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      T g = grad[i];
      if (weight_decay != 0) {
        if (decoupled)
          p[i] = p[i] * decay;  // AdamW
        else
          g = g + wd * p[i];  // Adam's L2 penalty
      }
      m[i] = m[i] * b1 + (T(1) - b1) * g;  // torch: exp_avg.mul_(beta1).add_(grad, alpha=1-beta1)
      v[i] = v[i] * b2 + (T(1) - b2) * g * g;
      const T denom = std::sqrt(v[i]) / bias2_sqrt + e;
      p[i] = p[i] + (-step_size * m[i]) /
                        denom;  // torch: param.addcdiv_(exp_avg, denom, value=-step_size)
    }
  });
}

#define NIDIM_INSTANTIATE(T)                                                                       \
  template void sgd_step_cpu<T>(T*, const T*, T*, int64_t, double, double, double, double, double, \
                                bool, bool);                                                       \
  template void adam_step_cpu<T>(T*, const T*, T*, T*, int64_t, double, double, double, double,    \
                                 double, int64_t, bool);
NIDIM_INSTANTIATE(float)
NIDIM_INSTANTIATE(double)
#undef NIDIM_INSTANTIATE

}  // namespace nidim
