// One whole noise-injected DIM training step (ssl/dim.h: embed both views, channel noise, critic,
// bound, backward, Adam for encoder and critic) on the CPU and on CUDA, from the same initial
// weights (one Generator seed), the same batch and the same Philox noise stream, then compared:
// loss and MI estimate, every parameter's gradient, the parameters after the Adam step, and the
// batch-norm running statistics. Seven more steps compare the losses and count the caching
// allocator's cudaMalloc calls (Memory, below).
//
// Tolerances (float32): a step chains ~30 ops; each contributes relative errors of a few eps
// (1e-7..1e-6, tests/cuda/test_parity.cpp), and the batch-norm backward and the InfoNCE gradient
// both subtract nearly equal sums, which can lift them to ~1e-4 of a tensor's scale. Hence
// gradients: |cuda - cpu| <= 2e-3 |cpu| + 2e-3 max|cpu| + 1e-5 G, where G is the largest gradient
// of the whole model. The last term is for gradients that are zero analytically: a bias followed
// by a batch-norm, and the critic's output bias under InfoNCE and DV (a constant added to every
// score cancels). What each device computes there is the rounding residue of a sum of B terms of
// the size of the incoming gradients, about B eps ~ 1e-5 of G, and differs between the devices.
// Parameters after one Adam step: the first step moves each weight by lr * g / (|g| + eps), about
// lr * sign(g). Where |g| is well above the rounding noise the two devices agree to ~1e-6; where
// g is itself at the noise level (the analytically zero gradients above) its sign may differ, and
// the weights by up to 2 lr. So: 1e-5 where |g_cpu| > 1e-3 G, 2 lr + 1e-5 elsewhere. Later steps'
// losses drift apart, as two trajectories that differ by rounding do (on an H200, for the ConvNet
// with InfoNCE, whose loss is near 0: 2e-3 by the fifth step, 7e-3 by the eighth):
// |cuda - cpu| <= 2e-2 (1 + |cpu|) after the first step. The first step's tight checks above are
// the precise ones.
// Memory: Adam allocates its moments during the first update, from blocks the first step's
// activations left in the cache, so the next steps may still call cudaMalloc while the cache
// settles (best fit can hand a request a block up to a quarter larger, which a later request of
// that size then misses; seen on an H200: 48 calls in the second step, 1 in the four after). After four steps a step must be
// served from the cache alone: steps 5 to 8 call cudaMalloc zero times.
#include <doctest/doctest.h>

#include <memory>

#include "core/autograd.h"
#include "core/cuda/memory.h"
#include "core/cuda_runtime.h"
#include "kernels/ops.h"
#include "ssl/dim.h"
#include "test_util.h"

using namespace nidim;

namespace {

struct Side {
  Device device;
  std::unique_ptr<DimModel> model;
  std::unique_ptr<Adam> enc, crit;
  MiBound bound;
  Generator noise{0, 1};

  Side(const DimConfig& c, Device d, int64_t channels, int64_t size)
      : device(d), bound(c.bound, c.dv_ema) {
    Generator init(c.seed, 0);
    model = std::make_unique<DimModel>(c, channels, size, size, init);
    model->to(d);
    AdamOptions o;
    o.lr = c.lr;
    enc = std::make_unique<Adam>(model->encoder().parameters(), o);
    std::vector<Tensor> cp = model->critic().parameters();
    if (!cp.empty()) crit = std::make_unique<Adam>(cp, o);
  }

  // One step as DimTrainer::step; returns the loss and keeps the gradients (before the update).
  double step(const DimConfig& c, const Tensor& x, const Tensor& x2, double* mi,
              NamedTensors* grads) {
    model->train();
    Tensor a = apply_channel(model->embed(x.to(device)), c.channel, noise);
    Tensor b = apply_channel(model->embed(x2.to(device)), c.channel, noise);
    MiBound::Result r = bound.compute(model->critic(), a, b);
    const double loss = r.loss.item();
    enc->zero_grad();
    if (crit) crit->zero_grad();
    r.loss.backward();
    if (grads) {
      grads->clear();
      for (const auto& [name, p] : model->named_parameters())
        if (p.grad().defined()) grads->emplace_back(name, p.grad().to(Device::cpu()));
    }
    enc->step();
    if (crit) crit->step();
    *mi = r.estimate.item();
    return loss;
  }
};

std::vector<double> host_values(const Tensor& t) {
  return test::values(cast(t.detach().to(Device::cpu()), DType::f64));
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

void compare_step(DimConfig c, int64_t channels, int64_t size, const std::string& label) {
  CAPTURE(label);
  c.validate();
  Side cpu(c, Device::cpu(), channels, size), gpu(c, Device::cuda(0), channels, size);
  Generator data(c.seed, 2);
  double mi_c = 0, mi_g = 0;
  std::vector<int64_t> mallocs;  // cudaMalloc calls per step
  int64_t before = cuda_memory_stats().device_mallocs;
  CudaMemoryStats after_warmup;
  for (int s = 0; s < 8; ++s) {
    CAPTURE(s);
    Tensor x = rand({c.batch, channels, size, size}, data);
    Tensor x2 = x + randn(x.shape(), data, 0, c.augment_sigma);
    NamedTensors gc, gg;
    const double lc = cpu.step(c, x, x2, &mi_c, s == 0 ? &gc : nullptr);
    const double lg = gpu.step(c, x, x2, &mi_g, s == 0 ? &gg : nullptr);
    MESSAGE(label << " step " << s << ": loss cpu " << lc << ", cuda " << lg);
    const double rel = s == 0 ? 1e-4 : 2e-2;
    CHECK(lg == doctest::Approx(lc).epsilon(rel).scale(1.0));
    CHECK(mi_g == doctest::Approx(mi_c).epsilon(rel).scale(1.0));
    if (s == 0) {
      // Gradients, then the parameters they moved.
      REQUIRE(gc.size() == gg.size());
      std::map<std::string, std::vector<double>> gcpu;
      double G = 0;  // the model's largest gradient
      for (size_t k = 0; k < gc.size(); ++k) {
        gcpu[gc[k].first] = host_values(gc[k].second);
        G = std::max(G, max_abs(gcpu[gc[k].first]));
      }
      for (size_t k = 0; k < gc.size(); ++k) {
        REQUIRE(gc[k].first == gg[k].first);
        const std::vector<double>& e = gcpu[gc[k].first];
        const std::vector<double> a = host_values(gg[k].second);
        test::check_close(a, e, 2e-3, 2e-3 * max_abs(e) + 1e-5 * G,
                          label + " gradient of " + gc[k].first);
      }
      const NamedTensors pc = cpu.model->named_parameters(), pg = gpu.model->named_parameters();
      for (size_t k = 0; k < pc.size(); ++k) {
        const std::vector<double> e = host_values(pc[k].second), a = host_values(pg[k].second);
        const std::vector<double>& g = gcpu[pc[k].first];
        int bad = 0;
        for (size_t i = 0; i < e.size(); ++i) {
          const bool clear_sign = !g.empty() && std::fabs(g[i]) > 1e-3 * G;
          const double tol = clear_sign ? 1e-5 : 2 * c.lr + 1e-5;
          if (!(std::fabs(a[i] - e[i]) <= tol) && bad++ < 3)
            FAIL_CHECK(label << " parameter " << pc[k].first << "[" << i << "]: cuda " << a[i]
                             << ", cpu " << e[i] << " (gradient " << (g.empty() ? 0.0 : g[i])
                             << ")");
        }
        CHECK_MESSAGE(bad == 0,
                      label << " parameter " << pc[k].first << ": " << bad << " values off");
      }
      const NamedTensors bc = cpu.model->named_buffers(), bg = gpu.model->named_buffers();
      for (size_t k = 0; k < bc.size(); ++k) {
        if (!is_floating(bc[k].second.dtype())) continue;
        const std::vector<double> e = host_values(bc[k].second), a = host_values(bg[k].second);
        test::check_close(a, e, 1e-4, 1e-5 * max_abs(e), label + " buffer " + bc[k].first);
      }
    }
    const int64_t now = cuda_memory_stats().device_mallocs;
    mallocs.push_back(now - before);
    before = now;
    if (s == 3) after_warmup = cuda_memory_stats();
  }
  const CudaMemoryStats end = cuda_memory_stats();
  std::string per_step;
  for (int64_t m : mallocs) per_step += (per_step.empty() ? "" : " ") + std::to_string(m);
  MESSAGE(label << ": cudaMalloc calls per step: " << per_step << "; peak device memory in use "
                << end.peak_bytes_in_use / (1 << 20) << " MiB, reserved "
                << end.peak_bytes_reserved / (1 << 20) << " MiB");
  CHECK(end.device_mallocs == after_warmup.device_mallocs);
}

}  // namespace

TEST_CASE(
    "a DIM step: ConvNet encoder, joint MLP critic, InfoNCE, Gaussian prior (the paper's MNIST "
    "setup)") {
  DimConfig c;
  c.batch = 64;
  compare_step(c, 1, 28, "convnet/mlp/infonce/gaussian");
}

TEST_CASE("a DIM step: MLP encoder, joint MLP critic, DV bound, uniform prior") {
  DimConfig c;
  c.encoder = "mlp";
  c.mlp_hidden = {64, 64};
  c.critic_hidden = 64;
  c.batch = 128;
  c.bound = BoundKind::dv;
  c.channel.prior = Prior::uniform;
  c.channel.form = NoiseForm::rescaled;
  compare_step(c, 1, 8, "mlp/mlp/dv/uniform");
}

TEST_CASE("a DIM step: ConvNet (follow-up layer order), dot-product critic with heads, NWJ") {
  DimConfig c;
  c.batch = 64;
  c.layer_order = LayerOrder::followup;
  c.critic = "dot";
  c.head_dim = 32;
  c.bound = BoundKind::nwj;
  compare_step(c, 1, 28, "convnet-followup/dot/nwj/gaussian");
}

TEST_CASE("a DIM step: MLP encoder, Gaussian-kernel critic, InfoNCE") {
  DimConfig c;
  c.encoder = "mlp";
  c.mlp_hidden = {64, 64};
  c.critic = "gaussian";
  c.batch = 128;
  compare_step(c, 1, 8, "mlp/gaussian/infonce");
}
