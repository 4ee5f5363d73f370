// nidim/nn/layers.cpp: see layers.h.
#include "nn/layers.h"

#include "core/autograd.h"
#include "kernels/ops.h"
#include "nn/init.h"

namespace nidim {

Linear::Linear(int64_t in, int64_t out, bool bias, Generator& gen) : Module("Linear") {
  NIDIM_CHECK(in > 0 && out > 0, "Linear: sizes must be positive, got in {} out {}", in, out);
  m_weight = register_parameter("weight", kaiming_uniform({out, in}, std::sqrt(5.0), gen));
  if (bias) m_bias = register_parameter("bias", bias_uniform({out}, in, gen));
}

Tensor Linear::forward(const Tensor& x) {
  NIDIM_CHECK(x.defined() && x.ndim() == 2 && x.size(1) == m_weight.size(1),
              "Linear: input {} does not match weight {} (want [N, {}])", x.shape(),
              m_weight.shape(), m_weight.size(1));
  Tensor y = matmul(x, m_weight, false, true);
  return m_bias.defined() ? y + reshape(m_bias, {1, -1}) : y;
}

Conv2d::Conv2d(int64_t in, int64_t out, int kernel, int stride, int padding, bool bias,
               Generator& gen, ConvInit init)
    : Module("Conv2d"), m_stride(stride), m_padding(padding) {
  NIDIM_CHECK(in > 0 && out > 0 && kernel > 0,
              "Conv2d: channels {} -> {} and kernel {} must be "
              "positive",
              in, out, kernel);
  const Shape shape{out, in, kernel, kernel};
  m_weight = register_parameter("weight", init == ConvInit::kaiming_normal_fan_out
                                              ? kaiming_normal_fan_out(shape, gen)
                                              : kaiming_uniform(shape, std::sqrt(5.0), gen));
  if (bias) m_bias = register_parameter("bias", bias_uniform({out}, in * kernel * kernel, gen));
}

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, m_weight, m_bias, m_stride, m_padding);
}

BatchNorm::BatchNorm(const char* type_name, int64_t channels, double eps, double momentum,
                     bool affine, bool track)
    : Module(type_name), m_eps(eps), m_momentum(momentum) {
  NIDIM_CHECK(channels > 0, "{}: channels must be positive, got {}", type_name, channels);
  if (affine) {
    m_weight = register_parameter("weight", ones({channels}));
    m_bias = register_parameter("bias", zeros({channels}));
  }
  if (track) {
    m_running_mean = register_buffer("running_mean", zeros({channels}));
    m_running_var = register_buffer("running_var", ones({channels}));
    m_num_batches = register_buffer("num_batches_tracked", zeros(Shape(), DType::i64));
  }
}

Tensor BatchNorm::forward(const Tensor& x) {
  NIDIM_CHECK(x.defined(), "{}: undefined input", type_name());
  if (m_expected_ndim == 4)
    NIDIM_CHECK(x.ndim() == 4, "{}: input must be [N, C, H, W], got {}", type_name(), x.shape());
  else
    NIDIM_CHECK(x.ndim() == 2 || x.ndim() == 3, "{}: input must be [N, C] or [N, C, L], got {}",
                type_name(), x.shape());
  const bool use_batch_stats = is_training() || !m_running_mean.defined();
  if (is_training() && m_num_batches.defined())
    m_num_batches.data<int64_t>()[0] += 1;  // a host counter
  return batch_norm(x, m_weight, m_bias, m_running_mean, m_running_var, use_batch_stats, m_momentum,
                    m_eps);
}

Tensor ReLU::forward(const Tensor& x) {
  return relu(x);
}
Tensor LeakyReLU::forward(const Tensor& x) {
  return leaky_relu(x, m_slope);
}
Tensor Tanh::forward(const Tensor& x) {
  return tanh(x);
}
Tensor Sigmoid::forward(const Tensor& x) {
  return sigmoid(x);
}
Tensor AvgPool2d::forward(const Tensor& x) {
  return avg_pool2d(x, m_kernel, m_stride, m_padding);
}
Tensor MaxPool2d::forward(const Tensor& x) {
  return max_pool2d(x, m_kernel, m_stride, m_padding);
}
Tensor Flatten::forward(const Tensor& x) {
  return flatten(x);
}

}  // namespace nidim
