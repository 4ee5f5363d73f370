// ssl methods: SimCLR and VICReg with noise injection. Their losses against direct formulas, the
// online probe's isolation from the backbone, bit-identical resume, and one step of each written
// out for PyTorch (tests/ssl/check_ssl_step.py, run by CTest after this suite): the same initial
// weights, batch and channel noise must give the same loss, every parameter's gradient and the
// LARS / SGD update.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/autograd.h"
#include "core/io.h"
#include "data/npy.h"
#include "kernels/ops.h"
#include "nn/safetensors.h"
#include "ssl/contrastive.h"
#include "ssl/dim.h"
#include "test_util.h"

using namespace nidim;

namespace {

RunConfig ssl_config(const std::string& method) {
  RunConfig c;
  c.method = method;
  c.data.name = "synthetic";
  c.encoder = "mlp";
  c.mlp_hidden = {32};
  c.feature_dim = 24;
  c.projector_hidden = 40;
  c.dim = 16;
  c.batch = 64;
  c.epochs = 2;
  c.lr = method == "simclr" ? 0.4 : 0.3;
  c.temperature = 0.2;
  c.augment = method;
  c.warmup_epochs = 1;
  c.metric_repetitions = 32;
  c.loader_workers = 0;
  return c;
}

std::string fresh_dir(const std::string& name) {
  std::filesystem::remove_all(name);
  return name;
}

// A batch of n random images [n, c, hw, hw] (both views) with labels in [0, 4): N(0, 1) pixels,
// as normalized images have. (Uniform [0, 1) pixels, all positive, make the ResNet's first
// batch-norms subtract a large mean from little spread: float32 gradients then differ from a
// float64 reference by ~1e-2 in PyTorch itself, depending on its convolution algorithm, and no
// tolerance could tell rounding from a mistake.)
Batch random_batch(int64_t n, int64_t c, int64_t hw, uint64_t seed) {
  Generator g(seed);
  Batch b;
  b.images = randn({n, c, hw, hw}, g);
  b.images2 = randn({n, c, hw, hw}, g);
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = static_cast<int32_t>(i % 4);
  b.labels = Tensor::from_vector(labels, Shape({n}));
  return b;
}

void check_same_bits(const NamedTensors& a, const NamedTensors& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CAPTURE(a[i].first);
    CHECK(a[i].first == b[i].first);
    REQUIRE(a[i].second.nbytes() == b[i].second.nbytes());
    CHECK(std::memcmp(a[i].second.raw(), b[i].second.raw(), a[i].second.nbytes()) == 0);
  }
}

}  // namespace

TEST_CASE("NT-Xent equals its definition computed in double precision") {
  // Direct formula over the 2B rows r = [a; b]: with s_ij = cos(r_i, r_j) / tau,
  // loss = mean_i ( -s_{i, i+-B} + log sum_{j != i} exp s_ij ).
  const int64_t n = 5, d = 3;
  const double tau = 0.2;
  Generator g(3);
  Tensor a = randn({n, d}, g), b = randn({n, d}, g);
  std::vector<float> r = concat({a, b}, 0).to_vector<float>();
  double expected = 0;
  auto cosine = [&](int64_t i, int64_t j) {
    double dot = 0, ni = 0, nj = 0;
    for (int64_t k = 0; k < d; ++k) {
      dot += double(r[i * d + k]) * r[j * d + k];
      ni += double(r[i * d + k]) * r[i * d + k];
      nj += double(r[j * d + k]) * r[j * d + k];
    }
    return dot / std::sqrt(ni * nj) / tau;
  };
  for (int64_t i = 0; i < 2 * n; ++i) {
    double lse = 0;
    for (int64_t j = 0; j < 2 * n; ++j)
      if (j != i) lse += std::exp(cosine(i, j));
    expected += -cosine(i, (i + n) % (2 * n)) + std::log(lse);
  }
  expected /= 2 * n;
  // float32 scores of size 1/tau = 5 and a sum of 9 exponentials: about 1e-6 relative.
  CHECK(nt_xent_loss(a, b, tau).item() == doctest::Approx(expected).epsilon(1e-5));
}

TEST_CASE("VICReg's terms equal their definitions computed in double precision") {
  const int64_t n = 6, d = 4;
  Generator g(5);
  Tensor a = randn({n, d}, g) * 0.5, b = randn({n, d}, g) * 2.0;
  const std::vector<float> va = a.to_vector<float>(), vb = b.to_vector<float>();
  double inv = 0;
  for (size_t i = 0; i < va.size(); ++i) inv += (double(va[i]) - vb[i]) * (double(va[i]) - vb[i]);
  inv /= static_cast<double>(n * d);
  double var = 0, cov = 0;
  for (const std::vector<float>* x : {&va, &vb}) {
    std::vector<double> m(d, 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < d; ++k) m[k] += (*x)[i * d + k] / double(n);
    for (int64_t k = 0; k < d; ++k)
      for (int64_t l = 0; l < d; ++l) {
        double c = 0;
        for (int64_t i = 0; i < n; ++i)
          c += ((*x)[i * d + k] - m[k]) * ((*x)[i * d + l] - m[l]);
        c /= double(n - 1);
        if (k == l) var += std::max(0.0, 1 - std::sqrt(c + 1e-4)) / double(d) / 2;
        else cov += c * c / double(d);
      }
  }
  const VicregTerms t = vicreg_terms(a, b);
  // float32 sums of a few dozen terms of order 1: 1e-5 relative is ample.
  CHECK(t.invariance.item() == doctest::Approx(inv).epsilon(1e-5));
  CHECK(t.variance.item() == doctest::Approx(var).epsilon(1e-5));
  CHECK(t.covariance.item() == doctest::Approx(cov).epsilon(1e-5));
  CHECK(var > 0.1);  // a's std is about 0.5: the hinge is active for it
}

TEST_CASE("the warm-up and cosine schedule") {
  CHECK(warmup_cosine(1, 10, 100) == doctest::Approx(0.1));
  CHECK(warmup_cosine(10, 10, 100) == doctest::Approx(1.0));
  CHECK(warmup_cosine(11, 10, 100) == doctest::Approx(1.0));
  CHECK(warmup_cosine(56, 10, 100) == doctest::Approx(0.5));  // halfway through the cosine
  CHECK(warmup_cosine(100, 10, 100) > 0);
  CHECK(warmup_cosine(100, 10, 100) < 0.001);
  CHECK(warmup_cosine(1, 0, 4) == doctest::Approx(1.0));
}

TEST_CASE("the online probe never changes the backbone") {
  // Two objectives with the same backbone and projector but different classifiers take one step
  // on the same batch: backbone and projector must end bit-identical (the probe's input is
  // detached), and the classifiers must have moved.
  for (const char* method : {"simclr", "vicreg"}) {
    CAPTURE(method);
    RunConfig c = ssl_config(method);
    NamedTensors after[2];
    for (int k = 0; k < 2; ++k) {
      Generator init(7);
      ObjectiveSetup setup{c, 1, 8, 8, 10, Device::cpu(), 4};
      std::unique_ptr<Objective> obj = make_objective(setup, init);
      auto& model = static_cast<SslObjective&>(*obj).ssl_model();
      if (k == 1) {
        Generator other(99);
        NamedTensors replaced;
        for (const auto& [name, p] : model.classifier().named_parameters())
          replaced.emplace_back(name, randn(p.shape(), other));
        model.classifier().load_state_dict(replaced);
      }
      const NamedTensors before = model.classifier().state_dict();
      std::vector<std::vector<float>> start;
      for (const auto& [name, p] : before) start.push_back(p.to_vector<float>());
      Generator noise(1, 1);
      obj->step(random_batch(64, 1, 8, 11), 1, noise);
      NamedTensors moved = model.classifier().state_dict();
      for (size_t i = 0; i < moved.size(); ++i) CHECK(moved[i].second.to_vector<float>() != start[i]);
      NamedTensors kept = model.backbone().state_dict("backbone.");
      for (auto& t : model.projector().state_dict("projector.")) kept.push_back(t);
      for (auto& [name, t] : kept) t = t.clone();
      after[k] = kept;
    }
    check_same_bits(after[0], after[1]);
  }
}

TEST_CASE("SimCLR and VICReg runs stopped and resumed end with the same bits") {
  for (const char* method : {"simclr", "vicreg"}) {
    CAPTURE(method);
    RunConfig c = ssl_config(method);
    c.eval_every = 1;
    const std::string whole_dir = std::string("ssl_methods_whole_") + method;
    const std::string parts_dir = std::string("ssl_methods_parts_") + method;
    {
      TrainingRun whole(c, fresh_dir(whole_dir));
      CHECK(whole.run({}) == RunOutcome::finished);
    }
    {
      std::atomic<bool> stop{false};
      TrainHooks hooks;
      int steps = 0;
      hooks.stop = &stop;
      hooks.on_step = [&](const StepInfo&) { stop = ++steps == 37; };  // mid first epoch
      TrainingRun part(c, fresh_dir(parts_dir));
      CHECK(part.run(hooks) == RunOutcome::interrupted);
    }
    {
      std::atomic<bool> stop{false};
      TrainHooks hooks;
      hooks.stop = &stop;
      hooks.on_step = [&](const StepInfo& s) { stop = s.epoch == 2 && s.step == 3; };
      CHECK(TrainingRun::resume(parts_dir)->run(hooks) == RunOutcome::interrupted);
    }
    CHECK(TrainingRun::resume(parts_dir)->run({}) == RunOutcome::finished);
    check_same_bits(load_safetensors(whole_dir + "/model.safetensors"),
                    load_safetensors(parts_dir + "/model.safetensors"));
    check_same_bits(load_safetensors(whole_dir + "/checkpoint/checkpoint.safetensors"),
                    load_safetensors(parts_dir + "/checkpoint/checkpoint.safetensors"));
    for (const char* f : {"features_test.npy", "embeddings_test.npy"})
      CHECK(read_file(whole_dir + "/" + f) == read_file(parts_dir + "/" + f));
    // The epoch lines carry the method's numbers; the eval lines the probe's accuracy.
    std::ifstream log(parts_dir + "/log.jsonl");
    int epochs = 0, evals = 0;
    for (std::string line; std::getline(log, line);) {
      const nlohmann::json l = nlohmann::json::parse(line);
      if (l["type"] == "epoch") {
        ++epochs;
        CHECK(l.contains("probe_train_top1"));
        CHECK(l.contains(std::string(method) == "simclr" ? "kl_bound" : "covariance"));
      } else {
        ++evals;
        CHECK(l.contains("probe_test_top1"));
      }
    }
    CHECK(epochs == 2);
    CHECK(evals == 2);
  }
}

TEST_CASE("one SimCLR and one VICReg step, written out for PyTorch") {
  // Each case: the model before the step, the batch, the channel's noise (replayed from a copy of
  // the generator: the channel of a zero input is its noise term), then nidim's loss, gradients and
  // parameters after the step. check_ssl_step.py recomputes all of it with PyTorch.
  struct Case {
    const char* name;
    const char* method;
    bool noise;
    const char* encoder;
    int64_t channels, size;
  };
  const Case cases[] = {{"simclr_noise", "simclr", true, "mlp", 1, 8},
                        {"simclr_plain", "simclr", false, "mlp", 1, 8},
                        {"vicreg_noise", "vicreg", true, "mlp", 1, 8},
                        {"vicreg_plain", "vicreg", false, "mlp", 1, 8},
                        {"simclr_resnet18", "simclr", true, "resnet18", 3, 16}};
  const std::string root = fresh_dir("ssl_step_reference");
  for (const Case& k : cases) {
    CAPTURE(k.name);
    RunConfig c = ssl_config(k.method);
    c.noise = k.noise;
    c.encoder = k.encoder;
    c.channel.level = 0.3;  // strong enough that a missing noise term shows
    const std::string dir = root + "/" + k.name;
    make_directories(dir);
    const int64_t ch = k.channels, hw = k.size, n = 16;
    Generator init(21);
    ObjectiveSetup setup{c, ch, hw, hw, 10, Device::cpu(), 4};
    std::unique_ptr<Objective> obj = make_objective(setup, init);
    save_module(dir + "/before.safetensors", obj->model());
    const Batch batch = random_batch(n, ch, hw, 31);
    write_npy(dir + "/x1.npy", batch.images);
    write_npy(dir + "/x2.npy", batch.images2);
    write_npy(dir + "/labels.npy", batch.labels);
    Generator noise(5, 1);
    if (k.noise) {
      Generator replay = noise;
      NoGradGuard no_grad;
      write_npy(dir + "/noise1.npy", apply_channel(zeros({n, c.dim}), c.channel, replay));
      write_npy(dir + "/noise2.npy", apply_channel(zeros({n, c.dim}), c.channel, replay));
    }
    const int64_t step = 3;  // inside the warm-up: lr = scaled lr * 3 / 10
    const NamedTensors start = obj->model().state_dict();
    std::vector<std::vector<float>> before;
    for (const auto& [name, t] : start)
      if (t.dtype() == DType::f32) before.push_back(t.to_vector<float>());
    StepScalars scalars = obj->step(batch, step, noise);
    // Here too, not only in PyTorch: a finite loss, and the step moved every weight matrix and
    // convolution kernel (a bias that a batch-norm or VICReg's centring cancels has a gradient of
    // rounding size and may not move; the checks of the values themselves are check_ssl_step.py's).
    CHECK(std::isfinite(scalars.front().second.get()));
    size_t i = 0;
    for (const auto& [name, t] : obj->model().state_dict()) {
      if (t.dtype() != DType::f32) continue;
      const bool weight = t.ndim() >= 2;
      if (weight) CHECK_MESSAGE(t.to_vector<float>() != before[i], name << " did not move");
      ++i;
    }
    NamedTensors grads;
    for (const auto& [name, p] : obj->model().named_parameters())
      if (p.grad().defined()) grads.emplace_back(name, p.grad());
    save_safetensors(dir + "/grads.safetensors", grads);
    save_module(dir + "/after.safetensors", obj->model());
    nlohmann::json info = {{"method", k.method},
                           {"noise", k.noise},
                           {"encoder", k.encoder},
                           {"mlp_hidden", c.mlp_hidden},
                           {"feature_dim", c.feature_dim},
                           {"projector_hidden", c.projector_hidden},
                           {"dim", c.dim},
                           {"p", c.channel.level},
                           {"temperature", c.temperature},
                           {"lr", c.scaled_lr() * static_cast<SslObjective&>(*obj).schedule(step)},
                           {"probe_lr", c.probe_lr * static_cast<SslObjective&>(*obj).schedule(step)},
                           {"weight_decay", c.weight_decay},
                           {"lars_eta", c.lars_eta},
                           {"vicreg_weights",
                            {c.vicreg_invariance, c.vicreg_variance, c.vicreg_covariance}}};
    for (const auto& [name, item] : scalars) info["scalars"][name] = item.get();
    write_file_atomic(dir + "/case.json", info.dump(2));
  }
}
