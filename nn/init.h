// nidim/nn/init.h: PyTorch's default initializations, drawn from a nidim Generator.
//
// PyTorch initializes Linear and Conv2d weights with kaiming_uniform_(a = sqrt(5)), which is
// U(-b, b) with b = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2)); for a = sqrt(5) this is
// b = 1 / sqrt(fan_in). Biases are U(-1/sqrt(fan_in), 1/sqrt(fan_in)). fan_in is the number of
// inputs feeding one output: in_features, or in_channels * KH * KW.
// torchvision's ResNet initializes its convolutions with kaiming_normal_(mode='fan_out',
// nonlinearity='relu'): N(0, 2 / fan_out), fan_out = out_channels * KH * KW (the number of
// outputs one input feeds), which keeps the gradients' variance through ReLU layers (He et al.
// 2015, "Delving Deep into Rectifiers", eq. 14 with the backward pass's n).
// The values differ from PyTorch's (a different generator) but follow the same distributions.
#pragma once

#include "core/random.h"
#include "core/tensor.h"

namespace nidim {

int64_t fan_in(const Shape& weight_shape);
int64_t fan_out(const Shape& weight_shape);  // weight [O, I, KH, KW]: O * KH * KW
Tensor kaiming_uniform(const Shape& shape, double a, Generator& gen);
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
// N(0, 2 / fan_out): kaiming_normal_(mode='fan_out', nonlinearity='relu').
Tensor kaiming_normal_fan_out(const Shape& shape, Generator& gen);
Tensor bias_uniform(const Shape& shape, int64_t fan_in, Generator& gen);

}  // namespace nidim
