// nn/resnet: ResNet-18's names, shapes and initialization, and files for
// check_resnet_torchvision.py, which loads nidim's weights into torchvision's resnet18 and checks
// that it computes nidim's features (eval and train mode) and moves the batch-norm running
// statistics as nidim did. Leaves out: the trainer's use of the encoder (ssl), CUDA (the ops are
// covered by tests/cuda/test_parity.cpp).
#include <doctest/doctest.h>

#include <cmath>

#include "core/autograd.h"
#include "kernels/ops.h"
#include "nn/init.h"
#include "nn/optim.h"
#include "nn/resnet.h"
#include "nn/safetensors.h"
#include "ssl/encoders.h"
#include "test_util.h"

using namespace nidim;

namespace {

// How many keys contain `part`.
int64_t count_keys(const NamedTensors& t, const std::string& part) {
  int64_t n = 0;
  for (const auto& [name, v] : t) n += name.find(part) != std::string::npos;
  return n;
}

const Tensor& find(const NamedTensors& t, const std::string& name) {
  for (const auto& [k, v] : t)
    if (k == name) return v;
  NIDIM_FAIL("no tensor named '{}'", name);
}

}  // namespace

TEST_CASE("ResNet-18: torchvision's state_dict names, shapes and output size") {
  Generator gen(1);
  ResNet18 net(3, ResNetStem::cifar, gen);
  const NamedTensors sd = net.state_dict();
  // torchvision's resnet18 has 122 entries, of which fc.weight and fc.bias are not in a backbone.
  CHECK(sd.size() == 120);
  CHECK(sd[0].first == "conv1.weight");
  CHECK(sd[5].first == "bn1.num_batches_tracked");
  CHECK(sd[6].first == "layer1.0.conv1.weight");
  CHECK(sd.back().first == "layer4.1.bn2.num_batches_tracked");
  CHECK(count_keys(sd, "downsample") == 3 * 6);
  CHECK(count_keys(sd, "layer1.0.downsample") == 0);
  CHECK(find(sd, "conv1.weight").shape() == Shape{64, 3, 3, 3});
  CHECK(find(sd, "layer2.0.conv1.weight").shape() == Shape{128, 64, 3, 3});
  CHECK(find(sd, "layer2.0.downsample.0.weight").shape() == Shape{128, 64, 1, 1});
  CHECK(find(sd, "layer4.1.conv2.weight").shape() == Shape{512, 512, 3, 3});
  CHECK(find(sd, "layer3.1.bn2.running_var").shape() == Shape{256});
  // 11 689 512 parameters in torchvision's resnet18, less fc's 512 * 1000 + 1000 and the stem's
  // 64 * 3 * (7 * 7 - 3 * 3).
  CHECK(net.parameter_count() == 11689512 - 513000 - 7680);
  CHECK(ResNet18(1, ResNetStem::imagenet, gen).state_dict()[0].second.shape() ==
        Shape{64, 1, 7, 7});
  NoGradGuard no_grad;
  net.eval();
  CHECK(net.forward(randn({2, 3, 32, 32}, gen)).shape() == Shape{2, 512});
  ResNet18 mnist(1, ResNetStem::cifar, gen);
  CHECK(mnist.forward(randn({2, 1, 28, 28}, gen)).shape() == Shape{2, 512});
  auto enc = resnet18_encoder(3, ResNetStem::imagenet, gen);
  CHECK(enc->forward(randn({2, 3, 64, 64}, gen)).shape() == Shape{2, 512});
  CHECK(parse_resnet_stem("imagenet") == ResNetStem::imagenet);
  test::check_error([] { parse_resnet_stem("cifar10"); }, {"cifar10", "imagenet"});
  test::check_error(
      [&] {
        net.forward(randn({2, 1, 32, 32}, gen));
      },
      {"ResNet18", "[N, 3, H, W]", "[2, 1, 32, 32]"});
}

TEST_CASE("ResNet-18 initialization: N(0, 2 / fan_out) convolutions, batch-norm ones and zeros") {
  Generator gen(2);
  ResNet18 net(3, ResNetStem::cifar, gen);
  int convs = 0, bns = 0;
  for (const auto& [name, t] : net.state_dict()) {
    CAPTURE(name);
    if (t.ndim() == 4) {
      // Sample standard deviation of n normal draws: relative standard error 1/sqrt(2n); the
      // smallest weight (the cifar stem, n = 1728) gives 1.7%, so 5 standard errors (at most
      // 8.5%) cannot fail by chance; a wrong fan (fan_in instead of fan_out differs by
      // sqrt(C/O) = 0.22 for the stem, 0.71 for downsample convs) or a uniform law of the wrong
      // bound fails. The mean is within 5 standard errors sigma/sqrt(n) of 0.
      const std::vector<float> w = t.to_vector<float>();
      const double n = static_cast<double>(w.size());
      double s = 0, ss = 0, s4 = 0;
      for (float v : w) s += v, ss += double(v) * v, s4 += double(v) * v * v * v;
      const double mean = s / n, var = ss / n - mean * mean;
      const double want = std::sqrt(2.0 / static_cast<double>(fan_out(t.shape())));
      CHECK(std::fabs(std::sqrt(var) / want - 1) < 5 / std::sqrt(2 * n));
      CHECK(std::fabs(mean) < 5 * want / std::sqrt(n));
      // Normal, not uniform: the kurtosis E x^4 / sigma^4 is 3 (1.8 for a uniform law); its
      // standard error is sqrt(96 / n) <= 0.24.
      CHECK(s4 / n / (var * var) == doctest::Approx(3).epsilon(0.4));
      ++convs;
    } else if (name.find("num_batches_tracked") != std::string::npos) {
      CHECK(t.dtype() == DType::i64);
      CHECK(t.ndim() == 0);
      CHECK(t.to_vector<int64_t>()[0] == 0);
    } else {
      const bool one = name.size() > 7 && (name.substr(name.size() - 7) == ".weight" ||
                                           name.find("running_var") != std::string::npos);
      for (float v : t.to_vector<float>()) CHECK(v == (one ? 1.0f : 0.0f));
      bns += name.find(".weight") != std::string::npos;
    }
  }
  CHECK(convs == 20);  // stem, 16 in the blocks, 3 downsample
  CHECK(bns == 20);
}

// For check_resnet_torchvision.py (CTest runs it after this case, FIXTURES_REQUIRED): per model,
// resnet_<name>.safetensors holds the state after a few training steps, with the prefix
// "encoder." as the trainer's model.safetensors has, and resnet_<name>_io.safetensors an input
// x, nidim's eval-mode features y_eval, then its train-mode features y_train and, with the
// prefix "after.", the running statistics that train-mode pass left.
TEST_CASE("ResNet-18 weights after training steps, for torchvision to load") {
  struct Case {
    const char* name;
    int64_t channels, size;
    ResNetStem stem;
  };
  for (const Case& c : {Case{"cifar_c3_32", 3, 32, ResNetStem::cifar},
                        Case{"cifar_c1_28", 1, 28, ResNetStem::cifar},
                        Case{"imagenet_c3_64", 3, 64, ResNetStem::imagenet}}) {
    CAPTURE(c.name);
    Generator gen(10 + c.channels);
    ResNet18 net(c.channels, c.stem, gen);
    SgdOptions o;
    o.lr = 0.05;
    o.momentum = 0.9;
    SGD opt(net.parameters(), o);
    const Tensor target = randn({8, ResNet18::features}, gen);
    net.train();
    for (int step = 0; step < 3; ++step) {
      // Inputs with a non-zero mean and a scale per step, so the running statistics move.
      Tensor x = randn({8, c.channels, c.size, c.size}, gen, 0.5 * step, 1.0 + 0.5 * step);
      Tensor loss = mse_loss(net.forward(x), target);
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
    const NamedTensors sd = net.state_dict("encoder");
    CHECK(find(sd, "encoder.bn1.num_batches_tracked").to_vector<int64_t>()[0] == 3);
    CHECK(find(sd, "encoder.layer4.1.bn2.num_batches_tracked").to_vector<int64_t>()[0] == 3);
    const std::string name = c.name;
    save_safetensors("resnet_" + name + ".safetensors", sd,
                     {{"made_by", "test_resnet"}, {"stem", resnet_stem_name(c.stem)}});
    NoGradGuard no_grad;
    Tensor x = randn({4, c.channels, c.size, c.size}, gen, 0.2, 1.5);
    net.eval();
    Tensor y_eval = net.forward(x);
    net.train();
    Tensor y_train = net.forward(x);
    NamedTensors io = {{"x", x}, {"y_eval", y_eval}, {"y_train", y_train}};
    for (const auto& [k, v] : net.named_buffers("after")) io.push_back({k, v});
    save_safetensors("resnet_" + name + "_io.safetensors", io, {{"made_by", "test_resnet"}});
  }
}
