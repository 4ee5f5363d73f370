// nidim/nn/resnet.h: ResNet-18 as a backbone (He et al. 2016, "Deep Residual Learning for Image
// Recognition", table 1), in torchvision's layout and with its state_dict names, so weights
// trained here load into torchvision.models.resnet18 with strict=True (docs/TRAINING.md).
//
//   conv1, bn1, relu          stem: cifar    Conv2d(C -> 64, 3x3, stride 1, pad 1), no max-pool
//   [maxpool]                       imagenet Conv2d(C -> 64, 7x7, stride 2, pad 3), bn1, relu,
//                                            MaxPool2d(3, stride 2, pad 1)
//   layer1 .. layer4          two BasicBlocks each, widths 64, 128, 256, 512; the first block of
//                             layer2..4 has stride 2 and a projection shortcut
//   global average pool       [N, 512, h, w] -> [N, 512]; no fc (torchvision's fc is left out)
// BasicBlock(in -> out, stride): conv1 3x3/stride, bn1, relu, conv2 3x3/1, bn2, plus the shortcut
// (identity, or downsample = Sequential(0: Conv2d 1x1/stride, 1: BatchNorm2d) where the shape
// changes), then relu. Every convolution has no bias; BatchNorm2d has eps 1e-5, momentum 0.1.
// Initialization as torchvision: convolutions N(0, 2 / fan_out) (nn/init.h), batch-norm weight 1
// and bias 0 (torchvision's zero_init_residual = False).
// Shapes for the cifar stem on 32x32: 32 -> 32 (layer1) -> 16 -> 8 -> 4; on 28x28: 28 -> 14 -> 7
// -> 4. Not here: Bottleneck blocks (ResNet-50 and deeper), groups and dilation, the fc head.
#pragma once

#include <memory>
#include <string>

#include "core/random.h"
#include "nn/layers.h"

namespace nidim {

enum class ResNetStem { cifar, imagenet };
ResNetStem parse_resnet_stem(const std::string& name);  // "cifar" or "imagenet"
const char* resnet_stem_name(ResNetStem stem);

class BasicBlock : public Module {
 public:
  BasicBlock(int64_t in_channels, int64_t out_channels, int stride, Generator& gen);
  Tensor forward(const Tensor& x) override;  // [N, in, H, W] -> [N, out, H / stride, W / stride]
  bool has_downsample() const { return m_downsample != nullptr; }

 private:
  std::shared_ptr<Conv2d> m_conv1, m_conv2;
  std::shared_ptr<BatchNorm2d> m_bn1, m_bn2;
  std::shared_ptr<Sequential> m_downsample;  // null: identity shortcut
};

class ResNet18 : public Module {
 public:
  static constexpr int64_t features = 512;  // the width of the output

  ResNet18(int64_t in_channels, ResNetStem stem, Generator& gen);
  Tensor forward(const Tensor& x) override;  // [N, C, H, W] -> [N, 512]
  ResNetStem stem() const { return m_stem; }

 private:
  ResNetStem m_stem;
  std::shared_ptr<Conv2d> m_conv1;
  std::shared_ptr<BatchNorm2d> m_bn1;
  std::shared_ptr<MaxPool2d> m_maxpool;  // imagenet stem only
  std::shared_ptr<Sequential> m_layers[4];
};

}  // namespace nidim
