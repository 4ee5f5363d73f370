// nidim/ssl/encoders.h: the encoders g of METHOD.md §1.
//
// ConvNet (the paper's MNIST encoder), three blocks then two dense layers:
//   conv{k} = Conv2d(c_in -> 32 / 64 / 128, 3x3, no padding), then either
//     order "paper":     pool{k} AvgPool2d(2), act{k} LeakyReLU(0.01), bn{k} BatchNorm2d
//     order "followup":  pool{k} MaxPool2d(2), bn{k} BatchNorm2d, act{k} LeakyReLU(0.01)
//   flat, fc1 Linear(128 * s * s, 128), act4 LeakyReLU, fc2 Linear(128, d)
//   For 28x28 inputs the spatial size goes 28 -> 26 -> 13 -> 11 -> 5 -> 3 -> 1 (s = 1); for
//   32x32 (CIFAR) it ends at s = 2.
// MLP, for vector data (or small images, flattened): flat, then fc1..fcK Linear with
//   LeakyReLU(0.01) between them, widths hidden..., ending in d.
// ResNet-18 (nn/resnet.h), any channel count, 28x28 images and larger: torchvision's resnet18 without its fc,
//   output [N, 512] (ResNet18::features) after global average pooling; the stem is cifar (3x3
//   conv, no max-pool) or imagenet (7x7 stride 2 and max-pool). Its weights load into
//   torchvision with strict=True (docs/TRAINING.md). A projection to d, if wanted, comes after.
// Module names follow PyTorch's conventions, e.g. "encoder.conv1.weight", "encoder.bn1.running_mean".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/random.h"
#include "nn/layers.h"
#include "nn/resnet.h"

namespace nidim {

enum class LayerOrder { paper, followup };
LayerOrder parse_layer_order(const std::string& name);

std::shared_ptr<Sequential> convnet_encoder(int64_t channels, int64_t height, int64_t width,
                                            int64_t dim, LayerOrder order, Generator& gen);
std::shared_ptr<Sequential> mlp_encoder(int64_t in_features, const std::vector<int64_t>& hidden,
                                        int64_t dim, Generator& gen);
// [N, channels, H, W] -> [N, 512].
std::shared_ptr<Module> resnet18_encoder(int64_t channels, ResNetStem stem, Generator& gen);

}  // namespace nidim
