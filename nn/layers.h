// nidim/nn/layers.h: the standard layers, with PyTorch's parameter names, shapes, defaults and
// initializations (nn/init.h).
//
// Linear        weight [out, in], bias [out]                      y = x W^T + b
// Conv2d        weight [out, in, k, k], bias [out]                zero padding, square kernel
// BatchNorm1d   weight, bias [C]; buffers running_mean, running_var [C], num_batches_tracked []
// BatchNorm2d   same over [N, C, H, W]
// ReLU, LeakyReLU(slope), Tanh, Sigmoid, AvgPool2d, MaxPool2d, Flatten: no parameters.
// Not here: dropout, groups, dilation, momentum=None (cumulative averages) in batch-norm.
#pragma once

#include <memory>

#include "core/random.h"
#include "nn/module.h"

namespace nidim {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias, Generator& gen);
  Tensor forward(const Tensor& x) override;  // x [N, in] -> [N, out]
  Tensor weight() const { return m_weight; }
  Tensor bias() const { return m_bias; }

 private:
  Tensor m_weight, m_bias;
};

// How Conv2d draws its weight: PyTorch's default (kaiming_uniform, a = sqrt 5) or torchvision
// ResNet's N(0, 2 / fan_out) (nn/init.h). The bias, if any, is PyTorch's default either way.
enum class ConvInit { pytorch_default, kaiming_normal_fan_out };

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int kernel, int stride, int padding, bool bias,
         Generator& gen, ConvInit init = ConvInit::pytorch_default);
  Tensor forward(const Tensor& x) override;  // [N, in, H, W] -> [N, out, OH, OW]
  Tensor weight() const { return m_weight; }
  Tensor bias() const { return m_bias; }

 private:
  Tensor m_weight, m_bias;
  int m_stride, m_padding;
};

class BatchNorm : public Module {
 public:
  // affine: learnable weight (ones) and bias (zeros); track_running_stats: keep the running
  // statistics used in evaluation mode (without them, evaluation uses batch statistics too).
  BatchNorm(const char* type_name, int64_t channels, double eps, double momentum, bool affine,
            bool track_running_stats);
  Tensor forward(const Tensor& x) override;
  Tensor running_mean() const { return m_running_mean; }
  Tensor running_var() const { return m_running_var; }

 protected:
  int m_expected_ndim = 0;  // 0: 2 or 3 (1d); 4 (2d)

 private:
  Tensor m_weight, m_bias, m_running_mean, m_running_var, m_num_batches;
  double m_eps, m_momentum;
};

class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t features, double eps = 1e-5, double momentum = 0.1,
                       bool affine = true, bool track_running_stats = true)
      : BatchNorm("BatchNorm1d", features, eps, momentum, affine, track_running_stats) {}
};

class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t channels, double eps = 1e-5, double momentum = 0.1,
                       bool affine = true, bool track_running_stats = true)
      : BatchNorm("BatchNorm2d", channels, eps, momentum, affine, track_running_stats) {
    m_expected_ndim = 4;
  }
};

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Tensor forward(const Tensor& x) override;
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : Module("LeakyReLU"), m_slope(negative_slope) {}
  Tensor forward(const Tensor& x) override;

 private:
  double m_slope;
};

class Tanh : public Module {
 public:
  Tanh() : Module("Tanh") {}
  Tensor forward(const Tensor& x) override;
};

class Sigmoid : public Module {
 public:
  Sigmoid() : Module("Sigmoid") {}
  Tensor forward(const Tensor& x) override;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int kernel, int stride = 0, int padding = 0)
      : Module("AvgPool2d"), m_kernel(kernel), m_stride(stride), m_padding(padding) {}
  Tensor forward(const Tensor& x) override;

 private:
  int m_kernel, m_stride, m_padding;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int kernel, int stride = 0, int padding = 0)
      : Module("MaxPool2d"), m_kernel(kernel), m_stride(stride), m_padding(padding) {}
  Tensor forward(const Tensor& x) override;

 private:
  int m_kernel, m_stride, m_padding;
};

class Flatten : public Module {
 public:
  Flatten() : Module("Flatten") {}
  Tensor forward(const Tensor& x) override;  // [N, ...] -> [N, rest]
};

}  // namespace nidim
