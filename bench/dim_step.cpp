// dim_step: times nidim's noise-injected DIM training step (ssl/dim.h) on random MNIST-shaped
// batches, the counterpart of bench/torch_dim.py's "step" mode; bench/compare_dim_step runs both.
//
//   build/bench/dim_step --batch 1024 --critic mlp --steps 5 --warmup 1 [--prior gaussian]
//                        [--device cpu|cuda[:N]] [--tf32] [--json]
// Reports ms/step (mean and each step), images/s (2 views count as 1 image: the batch size per
// step), the process's peak resident set size (getrusage), the page faults per timed step, the
// BLAS in use and, on a GPU, the device memory peak of the timed steps (the allocator's count).
// On a GPU the timer stops after the device has finished the step. Then the same number of steps
// run back to back, as train_dim runs them (no wait between steps): ms_per_step_pipelined (on the
// CPU, the step time itself).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/args.h"
#include "core/cuda/memory.h"
#include "core/nvtx.h"
#include "core/parallel.h"
#include "kernels/cpu/blas.h"
#include "kernels/cuda/kernels_cuda.h"
#include "kernels/ops.h"
#include "ssl/dim.h"

using namespace nidim;

int main(int argc, char** argv) try {
  DimConfig c;
  c.batch = 256;
  c.critic = "mlp";
  int64_t steps = 5, warmup = 1;
  bool as_json = false, tf32 = false;
  std::string device_name = "cpu";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf(
          "dim_step: times one training step of noise-injected DIM (MNIST-shaped input)\n"
          "  --batch N (256)  --critic mlp|dot|cosine|gaussian (mlp)  --steps N (5)\n"
          "  --warmup N (1)  --prior NAME (gaussian)  --threads N (0: all cores)\n"
          "  --tile-rows N (0: automatic)  --device cpu|cuda[:N] (cpu)  --tf32  --json\n");
      return 0;
    }
    auto value = [&]() -> std::string {
      NIDIM_CHECK(i + 1 < argc, "{}: missing value", a);
      return argv[++i];
    };
    auto number = [&](int64_t least) { return parse_whole_number(a, value(), least); };
    if (a == "--batch")
      c.batch = number(1);
    else if (a == "--critic")
      c.critic = value();
    else if (a == "--steps")
      steps = number(1);
    else if (a == "--warmup")
      warmup = number(0);
    else if (a == "--prior")
      c.channel.prior = parse_prior_name(value());
    else if (a == "--threads")
      c.threads = static_cast<int>(number(0));
    else if (a == "--tile-rows")
      c.tile_rows = number(0);
    else if (a == "--json")
      as_json = true;
    else if (a == "--device")
      device_name = value();
    else if (a == "--tf32")
      tf32 = true;
    else
      NIDIM_FAIL(
          "unknown flag {} (--batch --critic --steps --warmup --prior --threads --tile-rows "
          "--device --tf32 "
          "--json)",
          a);
  }
  if (uniform_base(c.channel.prior)) c.channel.form = NoiseForm::rescaled;
  c.device = device_name;
  c.validate();
  const Device dev = parse_device(device_name);
  set_num_threads(c.threads);
  set_tf32_cuda(tf32);
  Generator gen(0, 0), data(0, 2), noise(0, 1);
  DimModel model(c, 1, 28, 28, gen);
  model.to(dev);  // before the optimizers, whose moments are made like the parameters
  AdamOptions o;
  Adam enc(model.encoder().parameters(), o);
  std::vector<Tensor> cp = model.critic().parameters();
  std::unique_ptr<Adam> crit = cp.empty() ? nullptr : std::make_unique<Adam>(cp, o);
  MiBound bound(c.bound);
  // One step as DimTrainer::step: queued whole (the loss is checked by the caller, later), the
  // estimate read back without waiting.
  auto run_step = [&](const Tensor& x, const Tensor& x2) {
    NIDIM_NVTX_RANGE("step");
    model.train();
    Tensor a = apply_channel(model.embed(x.to(dev)), c.channel, noise);
    Tensor b = apply_channel(model.embed(x2.to(dev)), c.channel, noise);
    MiBound::Result r = bound.compute(model.critic(), a, b);
    PendingItem mi = r.estimate.item_async();
    enc.zero_grad();
    if (crit) crit->zero_grad();
    r.loss.backward(/*check_finite=*/false);
    enc.step();
    if (crit) crit->step();
    return mi;
  };
  // x in [0, 1) and x' = x + N(0, 0.2^2), as the MNIST views.
  auto make_batch = [&] {
    Tensor x = rand({c.batch, 1, 28, 28}, data);
    return std::make_pair(x, x + randn({c.batch, 1, 28, 28}, data, 0, c.augment_sigma));
  };
  std::vector<double> ms;
  double last_mi = 0;
  long faults_before = 0;
  int64_t mallocs_before = 0;  // cudaMalloc calls before the timed steps
  for (int64_t s = 0; s < warmup + steps; ++s) {
    const auto [x, x2] = make_batch();
    if (s == warmup) {
      struct rusage r0;
      getrusage(RUSAGE_SELF, &r0);
      faults_before = r0.ru_minflt;
      if (dev.is_cuda()) {
        reset_cuda_peak_memory();
        mallocs_before = cuda_memory_stats().device_mallocs;
        cuda_profiler(true);  // ncu --profile-from-start off records the timed steps only
      }
    }
    const auto t0 = std::chrono::steady_clock::now();
    PendingItem mi = run_step(x, x2);
    if (dev.is_cuda()) cuda_synchronize(dev.index, "dim_step");
    const double t =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    last_mi = mi.get();
    if (s >= warmup) ms.push_back(t);
  }
  if (dev.is_cuda()) cuda_profiler(false);
  const int64_t mallocs_timed =
      dev.is_cuda() ? cuda_memory_stats().device_mallocs - mallocs_before : 0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const double peak_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;
  const double faults_per_step =
      static_cast<double>(ru.ru_minflt - faults_before) / static_cast<double>(ms.size());
  const double peak_device_mib =
      dev.is_cuda() ? static_cast<double>(cuda_memory_stats().peak_bytes_in_use) / (1024.0 * 1024.0)
                    : 0.0;
  double mean = 0;
  for (double t : ms) mean += t;
  mean /= static_cast<double>(ms.size());
  // On a GPU, the same number of steps back to back, as train_dim runs them: step k's estimate is
  // read after step k+1 is queued, and the device is waited for once, at the end. On the CPU,
  // where nothing is queued, that is the step time itself.
  double pipelined = mean;
  if (dev.is_cuda()) {
    std::vector<std::pair<Tensor, Tensor>> batches;
    for (int64_t s = 0; s < steps; ++s) batches.push_back(make_batch());
    const auto p0 = std::chrono::steady_clock::now();
    PendingItem previous;
    for (const auto& [x, x2] : batches) {
      PendingItem mi = run_step(x, x2);
      if (previous.valid()) previous.get();
      previous = mi;
    }
    cuda_synchronize(dev.index, "dim_step");
    last_mi = previous.get();
    pipelined =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - p0).count() /
        static_cast<double>(steps);
  }
  nlohmann::json out = {{"impl", "nidim"},
                        {"device", dev.str()},
                        {"tf32", tf32},
                        {"peak_device_mib", peak_device_mib},
                        {"cuda_mallocs_in_timed_steps", mallocs_timed},
                        {"batch", c.batch},
                        {"critic", c.critic},
                        {"prior", prior_label(c.channel.prior)},
                        {"threads", num_threads()},
                        {"ms_per_step", mean},
                        {"step_ms", ms},
                        {"ms_per_step_pipelined", pipelined},
                        {"images_per_second", 1000.0 * static_cast<double>(c.batch) / mean},
                        {"peak_rss_mib", peak_mib},
                        {"page_faults_per_step", faults_per_step},
                        {"mi_estimate_last", last_mi},
                        {"blas", blas_info()}};
  if (as_json) {
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf(
        "nidim DIM step on %s: batch %lld, critic %s, %d threads: %.1f ms/step (%.1f back to "
        "back), %.0f images/s, peak RSS %.0f MiB, %.0f page faults/step\n",
        dev.str().c_str(), static_cast<long long>(c.batch), c.critic.c_str(), num_threads(), mean,
        pipelined, 1000.0 * static_cast<double>(c.batch) / mean, peak_mib, faults_per_step);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "dim_step: %s\n", e.what());
  return 1;
}
