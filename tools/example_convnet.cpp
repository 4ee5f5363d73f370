// example_convnet: a minimal training program on nidim's engine (the README's tour of the API).
//
// Trains a small ConvNet to tell four kinds of synthetic 16x16 images apart (a bright square in
// one of the four quadrants, on noise), with Adam, printing loss and accuracy per epoch, then
// saves the weights as safetensors.
//   build/bin/example_convnet [--epochs 5] [--threads 0] [--out example_convnet.safetensors]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include <CLI/CLI.hpp>

#include "core/autograd.h"
#include "core/parallel.h"
#include "kernels/cpu/blas.h"
#include "kernels/ops.h"
#include "nn/layers.h"
#include "nn/optim.h"
#include "nn/safetensors.h"

using namespace nidim;

namespace {

// n images [n, 1, 16, 16] and labels [n]: class k has a bright 6x6 square in quadrant k.
std::pair<Tensor, Tensor> make_images(int64_t n, Generator& gen) {
  Tensor x = randn({n, 1, 16, 16}, gen, 0.0, 0.5);
  std::vector<int32_t> labels(static_cast<size_t>(n));
  float* px = x.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const int k = static_cast<int>(gen.uniform_int(4));
    labels[static_cast<size_t>(i)] = k;
    const int r0 = (k / 2) * 8 + 1, c0 = (k % 2) * 8 + 1;
    for (int r = r0; r < r0 + 6; ++r)
      for (int c = c0; c < c0 + 6; ++c) px[i * 256 + r * 16 + c] += 1.5f;
  }
  return {x, Tensor::from_vector(labels, {n})};
}

double accuracy(Module& net, const Tensor& x, const Tensor& y) {
  NoGradGuard no_grad;
  const std::vector<int64_t> pred = max_with_index(net(x), 1).second.to_vector<int64_t>();
  const std::vector<int32_t> truth = y.to_vector<int32_t>();
  int64_t correct = 0;
  for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == truth[i];
  return static_cast<double>(correct) / static_cast<double>(pred.size());
}

}  // namespace

int main(int argc, char** argv) try {
  int epochs = 5, threads = 0;
  std::string out = "example_convnet.safetensors";
  CLI::App app{"example_convnet: a small ConvNet classifier trained with nidim's engine"};
  app.add_option("--epochs", epochs, "epochs")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--threads", threads, "threads (0: all cores)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  app.add_option("--out", out, "weights file (safetensors)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  set_num_threads(threads);
  Generator gen(2025);
  auto [train_x, train_y] = make_images(2048, gen);
  auto [test_x, test_y] = make_images(512, gen);

  Sequential net;
  net.add("conv1", std::make_shared<Conv2d>(1, 16, 3, 1, 1, true, gen))
      .add("bn1", std::make_shared<BatchNorm2d>(16))
      .add("act1", std::make_shared<ReLU>())
      .add("pool1", std::make_shared<MaxPool2d>(2))
      .add("conv2", std::make_shared<Conv2d>(16, 32, 3, 1, 1, true, gen))
      .add("act2", std::make_shared<ReLU>())
      .add("pool2", std::make_shared<AvgPool2d>(8))
      .add("flat", std::make_shared<Flatten>())
      .add("fc", std::make_shared<Linear>(32, 4, true, gen));
  Adam opt(net.parameters(), AdamOptions{1e-2});
  std::printf("example_convnet: %lld parameters, %d threads, BLAS %s\n",
              static_cast<long long>(net.parameter_count()), num_threads(), blas_info().c_str());

  const int64_t batch = 128, steps = train_x.size(0) / batch;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    net.train();
    const auto start = std::chrono::steady_clock::now();
    double total = 0;
    for (int64_t s = 0; s < steps; ++s) {
      opt.zero_grad();
      Tensor loss = cross_entropy(net(slice(train_x, s * batch, (s + 1) * batch)),
                                  slice(train_y, s * batch, (s + 1) * batch));
      total += loss.item();
      loss.backward();
      opt.step();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    net.eval();
    std::printf("epoch %d/%d  loss %.4f  test accuracy %.3f  %.0f images/s\n", epoch, epochs,
                total / static_cast<double>(steps), accuracy(net, test_x, test_y),
                static_cast<double>(steps * batch) / seconds);
  }
  save_module(out, net, {{"made_by", "example_convnet"}});
  std::printf("weights: %s\n", out.c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "example_convnet: %s\n", e.what());
  return 1;
}
