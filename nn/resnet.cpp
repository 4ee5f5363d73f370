// nidim/nn/resnet.cpp: see resnet.h.
#include "nn/resnet.h"

#include "kernels/ops.h"

namespace nidim {

namespace {

std::shared_ptr<Conv2d> resnet_conv(int64_t in, int64_t out, int kernel, int stride, int padding,
                                    Generator& gen) {
  return std::make_shared<Conv2d>(in, out, kernel, stride, padding, /*bias=*/false, gen,
                                  ConvInit::kaiming_normal_fan_out);
}

}  // namespace

ResNetStem parse_resnet_stem(const std::string& name) {
  if (name == "cifar") return ResNetStem::cifar;
  if (name == "imagenet") return ResNetStem::imagenet;
  NIDIM_FAIL(
      "ResNet stem '{}': expected cifar (conv 3x3 stride 1, no max-pool) or imagenet (conv 7x7 "
      "stride 2, max-pool 3/2)",
      name);
}

const char* resnet_stem_name(ResNetStem stem) {
  return stem == ResNetStem::cifar ? "cifar" : "imagenet";
}

BasicBlock::BasicBlock(int64_t in, int64_t out, int stride, Generator& gen) : Module("BasicBlock") {
  NIDIM_CHECK(in > 0 && out > 0 && stride >= 1,
              "BasicBlock: channels {} -> {} must be positive and stride {} >= 1", in, out, stride);
  // Registration order is torchvision's: conv1, bn1, (relu), conv2, bn2, downsample.
  m_conv1 = register_module("conv1", resnet_conv(in, out, 3, stride, 1, gen));
  m_bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(out));
  m_conv2 = register_module("conv2", resnet_conv(out, out, 3, 1, 1, gen));
  m_bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(out));
  if (stride != 1 || in != out) {
    auto d = std::make_shared<Sequential>();
    d->add(resnet_conv(in, out, 1, stride, 0, gen)).add(std::make_shared<BatchNorm2d>(out));
    m_downsample = register_module("downsample", d);
  }
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor h = relu(m_bn1->forward(m_conv1->forward(x)));
  h = m_bn2->forward(m_conv2->forward(h));
  return relu(h + (m_downsample ? m_downsample->forward(x) : x));
}

ResNet18::ResNet18(int64_t in_channels, ResNetStem stem, Generator& gen)
    : Module("ResNet18"), m_stem(stem) {
  NIDIM_CHECK(in_channels > 0, "ResNet18: input channels must be positive, got {}", in_channels);
  if (stem == ResNetStem::cifar) {
    m_conv1 = register_module("conv1", resnet_conv(in_channels, 64, 3, 1, 1, gen));
  } else {
    m_conv1 = register_module("conv1", resnet_conv(in_channels, 64, 7, 2, 3, gen));
  }
  m_bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(64));
  if (stem == ResNetStem::imagenet)
    m_maxpool = register_module("maxpool", std::make_shared<MaxPool2d>(3, 2, 1));
  const int64_t widths[4] = {64, 128, 256, 512};
  int64_t c = 64;
  for (int k = 0; k < 4; ++k) {
    auto layer = std::make_shared<Sequential>();
    layer->add(std::make_shared<BasicBlock>(c, widths[k], k == 0 ? 1 : 2, gen))
        .add(std::make_shared<BasicBlock>(widths[k], widths[k], 1, gen));
    m_layers[k] = register_module("layer" + std::to_string(k + 1), layer);
    c = widths[k];
  }
}

Tensor ResNet18::forward(const Tensor& x) {
  NIDIM_CHECK(x.defined() && x.ndim() == 4 && x.size(1) == m_conv1->weight().size(1),
              "ResNet18: input must be [N, {}, H, W], got {}", m_conv1->weight().size(1),
              x.defined() ? x.shape().str() : std::string("undefined"));
  Tensor h = relu(m_bn1->forward(m_conv1->forward(x)));
  if (m_maxpool) h = m_maxpool->forward(h);
  for (auto& layer : m_layers) h = layer->forward(h);
  // Global average pool: [N, 512, h, w] -> [N, 512, h*w] -> mean over the last axis.
  return mean(reshape(h, {h.size(0), h.size(1), -1}), -1);
}

}  // namespace nidim
