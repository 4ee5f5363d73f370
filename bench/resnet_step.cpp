// resnet_step: times nidim's ResNet-18 training step on the CPU (random CIFAR-shaped batches),
// the counterpart of bench/torch_resnet.py; bench/compare_resnet_step runs both.
//
//   build/bench/resnet_step --batch 256 --steps 3 [--size 32] [--channels 3] [--threads N]
//                           [--no-layers] [--json]
// The step: features = ResNet18(cifar stem)(x) [N, 512], loss = mse(features, target), backward,
// SGD (lr 0.01, momentum 0.9). Every step is timed; the first (which allocates everything and
// faults its pages in) is reported apart, the others by their median. Memory: the peak of
// nidim's host allocator counter (bytes held by live tensors) and the process's peak resident
// set size (getrusage; includes libraries, scratch buffers and the allocator's cached blocks).
// Then, unless --no-layers, each distinct convolution shape of the model is timed alone
// (forward, and backward with dx and dw as in the model: the stem needs no dx) and reported in
// GFLOP/s, 2 N O OH OW C KH KW per pass (backward: one such product per gradient).
// Left out: data loading and augmentation (the trainer's), CUDA (dim_step --device covers it).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/args.h"
#include "core/autograd.h"
#include "core/parallel.h"
#include "core/storage.h"
#include "kernels/cpu/blas.h"
#include "kernels/ops.h"
#include "nn/optim.h"
#include "nn/resnet.h"

using namespace nidim;

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// One convolution of the model: input [N, C, H, W], weight [O, C, K, K].
struct ConvShape {
  std::string where;
  int64_t C, H, O;
  int K, stride, padding;
  bool needs_dx;
};

// The distinct convolutions of ResNet-18 with the cifar stem on H x H inputs of `channels`.
std::vector<ConvShape> resnet_convs(int64_t channels, int64_t H) {
  std::vector<ConvShape> s = {{"conv1 (stem)", channels, H, 64, 3, 1, 1, false},
                              {"layer1 3x3", 64, H, 64, 3, 1, 1, true}};
  int64_t c = 64, h = H;
  for (int k = 2; k <= 4; ++k) {
    const int64_t o = c * 2, oh = (h - 1) / 2 + 1;
    const std::string l = "layer" + std::to_string(k);
    s.push_back({l + ".0.conv1 3x3 s2", c, h, o, 3, 2, 1, true});
    s.push_back({l + ".0.downsample 1x1 s2", c, h, o, 1, 2, 0, true});
    s.push_back({l + " 3x3", o, oh, o, 3, 1, 1, true});
    c = o;
    h = oh;
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) try {
  int64_t batch = 256, steps = 3, size = 32, channels = 3;
  int threads = 0;
  bool as_json = false, layers = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto number = [&](int64_t least) {
      NIDIM_CHECK(i + 1 < argc, "{}: missing value", a);
      return parse_whole_number(a, argv[++i], least);
    };
    if (a == "--help" || a == "-h") {
      std::printf(
          "resnet_step: times nidim's ResNet-18 (cifar stem) training step on the CPU\n"
          "  --batch N (256)  --steps N (3, the first reported apart)  --size N (32)\n"
          "  --channels N (3)  --threads N (0: all cores)  --no-layers  --json\n");
      return 0;
    } else if (a == "--batch") {
      batch = number(2);
    } else if (a == "--steps") {
      steps = number(2);
    } else if (a == "--size") {
      size = number(8);
    } else if (a == "--channels") {
      channels = number(1);
    } else if (a == "--threads") {
      threads = static_cast<int>(number(0));
    } else if (a == "--no-layers") {
      layers = false;
    } else if (a == "--json") {
      as_json = true;
    } else {
      NIDIM_FAIL("unknown flag {} (--batch --steps --size --channels --threads --no-layers --json)",
                 a);
    }
  }
  set_num_threads(threads);
  Generator gen(0), data(0, 1);
  ResNet18 net(channels, ResNetStem::cifar, gen);
  net.train();
  SgdOptions o;
  o.lr = 0.01;
  o.momentum = 0.9;
  SGD opt(net.parameters(), o);
  const Tensor target = randn({batch, ResNet18::features}, data);
  reset_peak_memory(DeviceType::cpu);
  std::vector<double> ms;
  double loss_last = 0;
  for (int64_t s = 0; s < steps; ++s) {
    Tensor x = randn({batch, channels, size, size}, data);
    const double t0 = now_ms();
    Tensor loss = mse_loss(net.forward(x), target);
    opt.zero_grad();
    loss.backward();
    opt.step();
    ms.push_back(now_ms() - t0);
    loss_last = loss.item();
  }
  const double peak_alloc_mib =
      static_cast<double>(memory_stats(DeviceType::cpu).peak_bytes) / (1024.0 * 1024.0);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const double peak_rss_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;
  const std::vector<double> rest(ms.begin() + 1, ms.end());
  const double step_ms = median(rest);

  nlohmann::json conv = nlohmann::json::array();
  if (layers) {
    for (const ConvShape& c : resnet_convs(channels, size)) {
      Tensor x = randn({batch, c.C, c.H, c.H}, data);
      Tensor w = randn({c.O, c.C, c.K, c.K}, data, 0, 0.05).set_requires_grad(true);
      if (c.needs_dx) x.set_requires_grad(true);
      const int64_t oh = (c.H + 2 * c.padding - c.K) / c.stride + 1;
      const double flop = 2.0 * static_cast<double>(batch * c.O * oh * oh * c.C * c.K * c.K);
      double fwd = 1e30, bwd = 1e30;
      for (int rep = 0; rep < 2; ++rep) {  // the better of 2: the first faults its buffers in
        double t0 = now_ms();
        Tensor y = conv2d(x, w, Tensor(), c.stride, c.padding);
        fwd = std::min(fwd, now_ms() - t0);
        Tensor g = ones_like(y);
        t0 = now_ms();
        y.grad_fn()->apply(g);  // the convolution's backward alone
        bwd = std::min(bwd, now_ms() - t0);
      }
      const double bwd_flop = flop * (c.needs_dx ? 2 : 1);
      conv.push_back({{"layer", c.where},
                      {"input", {batch, c.C, c.H, c.H}},
                      {"weight", {c.O, c.C, c.K, c.K}},
                      {"stride", c.stride},
                      {"padding", c.padding},
                      {"forward_ms", fwd},
                      {"backward_ms", bwd},
                      {"forward_gflops", flop / fwd / 1e6},
                      {"backward_gflops", bwd_flop / bwd / 1e6}});
    }
  }
  nlohmann::json out = {{"impl", "nidim"},
                        {"model", "resnet18 cifar stem"},
                        {"batch", batch},
                        {"input", {batch, channels, size, size}},
                        {"threads", num_threads()},
                        {"step_ms", ms},
                        {"first_step_ms", ms[0]},
                        {"ms_per_step", step_ms},
                        {"images_per_second", 1000.0 * static_cast<double>(batch) / step_ms},
                        {"peak_alloc_mib", peak_alloc_mib},
                        {"peak_rss_mib", peak_rss_mib},
                        {"loss_last", loss_last},
                        {"conv_layers", conv},
                        {"blas", blas_info()}};
  if (as_json) {
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::printf(
      "nidim ResNet-18 step, batch %lld of %lldx%lldx%lld, %d threads: %.0f ms/step (median of "
      "%zu; first %.0f ms), peak allocated %.0f MiB, peak RSS %.0f MiB\n  %s\n",
      static_cast<long long>(batch), static_cast<long long>(channels), static_cast<long long>(size),
      static_cast<long long>(size), num_threads(), step_ms, rest.size(), ms[0], peak_alloc_mib,
      peak_rss_mib, blas_info().c_str());
  for (const auto& c : conv)
    std::printf("  %-26s fwd %7.1f ms %6.1f GFLOP/s   bwd %7.1f ms %6.1f GFLOP/s\n",
                c["layer"].get<std::string>().c_str(), c["forward_ms"].get<double>(),
                c["forward_gflops"].get<double>(), c["backward_ms"].get<double>(),
                c["backward_gflops"].get<double>());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "resnet_step: %s\n", e.what());
  return 1;
}
