// nidim/ssl/encoders.cpp: see encoders.h.
#include "ssl/encoders.h"

namespace nidim {

LayerOrder parse_layer_order(const std::string& name) {
  if (name == "paper") return LayerOrder::paper;
  if (name == "followup") return LayerOrder::followup;
  NIDIM_FAIL(
      "layer order '{}': expected paper (conv, avgpool, lrelu, bn) or followup (conv, maxpool, bn, "
      "lrelu)",
      name);
}

std::shared_ptr<Sequential> convnet_encoder(int64_t channels, int64_t height, int64_t width,
                                            int64_t dim, LayerOrder order, Generator& gen) {
  NIDIM_CHECK(dim > 0, "convnet encoder: embedding size must be > 0, got {}", dim);
  auto net = std::make_shared<Sequential>();
  const int64_t widths[3] = {32, 64, 128};
  int64_t c = channels, h = height, w = width;
  for (int k = 0; k < 3; ++k) {
    NIDIM_CHECK(h >= 4 && w >= 4,
                "convnet encoder: images {}x{}x{} are too small for three conv+pool blocks (use "
                "--encoder mlp)",
                channels, height, width);
    const std::string n = std::to_string(k + 1);
    net->add("conv" + n, std::make_shared<Conv2d>(c, widths[k], 3, 1, 0, true, gen));
    if (order == LayerOrder::paper) {
      net->add("pool" + n, std::make_shared<AvgPool2d>(2))
          .add("act" + n, std::make_shared<LeakyReLU>(0.01))
          .add("bn" + n, std::make_shared<BatchNorm2d>(widths[k]));
    } else {
      net->add("pool" + n, std::make_shared<MaxPool2d>(2))
          .add("bn" + n, std::make_shared<BatchNorm2d>(widths[k]))
          .add("act" + n, std::make_shared<LeakyReLU>(0.01));
    }
    c = widths[k];
    h = (h - 2) / 2;
    w = (w - 2) / 2;
  }
  net->add("flat", std::make_shared<Flatten>())
      .add("fc1", std::make_shared<Linear>(c * h * w, 128, true, gen))
      .add("act4", std::make_shared<LeakyReLU>(0.01))
      .add("fc2", std::make_shared<Linear>(128, dim, true, gen));
  return net;
}

std::shared_ptr<Sequential> mlp_encoder(int64_t in_features, const std::vector<int64_t>& hidden,
                                        int64_t dim, Generator& gen) {
  NIDIM_CHECK(in_features > 0 && dim > 0, "mlp encoder: sizes must be > 0, got {} -> {}",
              in_features, dim);
  auto net = std::make_shared<Sequential>();
  net->add("flat", std::make_shared<Flatten>());
  int64_t width = in_features;
  int k = 1;
  for (int64_t h : hidden) {
    NIDIM_CHECK(h > 0, "mlp encoder: hidden width {} must be > 0", h);
    net->add("fc" + std::to_string(k), std::make_shared<Linear>(width, h, true, gen))
        .add("act" + std::to_string(k), std::make_shared<LeakyReLU>(0.01));
    width = h;
    ++k;
  }
  net->add("fc" + std::to_string(k), std::make_shared<Linear>(width, dim, true, gen));
  return net;
}

std::shared_ptr<Module> resnet18_encoder(int64_t channels, ResNetStem stem, Generator& gen) {
  return std::make_shared<ResNet18>(channels, stem, gen);
}

}  // namespace nidim
