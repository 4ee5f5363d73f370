// ssl_step: times one SimCLR or VICReg training step with noise injection (ssl/contrastive.h) on
// random images, the counterpart of bench/torch_ssl.py; bench/compare_ssl_step runs both.
//
//   build/bench/ssl_step --method simclr --batch 256 --size 32 --channels 3 --steps 5
// The step is the objective's own (train_dim's): both views through the ResNet-18 backbone and
// the projector, normalization and channel, the loss, the online probe, backward, LARS and the
// probe's SGD. Each step is timed (the first separately: it allocates); peak memory is the
// allocator's peak of the timed steps and the process's peak RSS (getrusage).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/parallel.h"
#include "core/storage.h"
#include "kernels/cpu/blas.h"
#include "kernels/ops.h"
#include "ssl/contrastive.h"

using namespace nidim;

int main(int argc, char** argv) try {
  CLI::App app{"ssl_step: times one SimCLR / VICReg step with noise injection (ResNet-18)"};
  RunConfig c;
  c.method = "simclr";
  c.encoder = "resnet18";
  c.batch = 256;
  int64_t size = 32, channels = 3, steps = 5;
  int threads = 0;
  bool no_noise = false, as_json = false;
  app.add_option("--method", c.method, "simclr | vicreg")->capture_default_str();
  app.add_option("--batch", c.batch, "samples per step (two views each)")->capture_default_str();
  app.add_option("--size", size, "image height = width")->capture_default_str();
  app.add_option("--channels", channels, "image channels")->capture_default_str();
  app.add_option("--steps", steps, "timed steps (after the first)")->capture_default_str();
  app.add_option("--threads", threads, "threads (0: all cores)")->capture_default_str();
  app.add_flag("--no-noise", no_noise, "the plain method");
  app.add_flag("--json", as_json, "one JSON object (bench/compare_resnet_step --method reads it)");
  CLI11_PARSE(app, argc, argv);
  set_num_threads(threads);
  c.dim = c.method == "simclr" ? 256 : 2048;
  c.lr = c.method == "simclr" ? 0.4 : 0.3;
  c.temperature = 0.2;
  c.augment = c.method;
  c.noise = !no_noise;
  c.channel.level = 0.1;
  c.epochs = 100;
  c.validate();
  Generator init(0), data(1), noise(0, 1);
  ObjectiveSetup setup{c, channels, size, size, 100, Device::cpu(), 10};
  std::unique_ptr<Objective> obj = make_objective(setup, init);
  Batch batch;
  batch.images = rand({c.batch, channels, size, size}, data);
  batch.images2 = rand({c.batch, channels, size, size}, data);
  std::vector<int32_t> labels(static_cast<size_t>(c.batch));
  for (int64_t i = 0; i < c.batch; ++i) labels[static_cast<size_t>(i)] = static_cast<int32_t>(i % 10);
  batch.labels = Tensor::from_vector(labels, Shape({c.batch}));
  std::vector<double> ms;
  for (int64_t s = 0; s <= steps; ++s) {
    if (s == 1) reset_peak_memory(DeviceType::cpu);
    const auto t0 = std::chrono::steady_clock::now();
    StepScalars out = obj->step(batch, s + 20, noise);  // past the warm-up's first steps
    for (auto& [name, item] : out) item.get();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::vector<double> timed(ms.begin() + 1, ms.end());
  std::sort(timed.begin(), timed.end());
  const double median = timed.empty() ? ms[0] : timed[timed.size() / 2];
  const double peak_alloc = memory_stats(DeviceType::cpu).peak_bytes / 1048576.0;
  if (as_json) {
    const nlohmann::json out = {{"impl", "nidim"},
                                {"model", c.method + " resnet18 cifar stem"},
                                {"batch", c.batch},
                                {"input", {c.batch, channels, size, size}},
                                {"threads", num_threads()},
                                {"step_ms", ms},
                                {"first_step_ms", ms[0]},
                                {"ms_per_step", median},
                                {"images_per_second", 1000.0 * static_cast<double>(c.batch) / median},
                                {"peak_alloc_mib", peak_alloc},
                                {"peak_rss_mib", ru.ru_maxrss / 1024.0},
                                {"conv_layers", nlohmann::json::array()},
                                {"blas", blas_info()}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::printf("ssl_step: %s, batch %lld x 2 views of %lldx%lldx%lld, %d threads, BLAS %s\n",
              c.method.c_str(), static_cast<long long>(c.batch), static_cast<long long>(channels),
              static_cast<long long>(size), static_cast<long long>(size), num_threads(),
              blas_info().c_str());
  std::printf("ssl_step: first %.0f ms; then", ms[0]);
  for (size_t i = 1; i < ms.size(); ++i) std::printf(" %.0f", ms[i]);
  std::printf(" ms per step\n");
  std::printf("ssl_step: median %.0f ms, allocator peak %.0f MiB, peak RSS %.0f MiB\n", median,
              peak_alloc, ru.ru_maxrss / 1024.0);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "ssl_step: error: %s\n", e.what());
  return 1;
}
