// ssl: capacities and certificates against their closed forms, the channels' moments, the
// priors' change of variables, critics and bounds against direct formulas, encoders' shapes and
// names, and whole training runs: distribution matching on the synthetic set, bit-identical
// resume, and the stop on a non-finite loss.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "core/autograd.h"
#include "core/io.h"
#include "core/json.h"
#include "kernels/ops.h"
#include "nn/safetensors.h"
#include "ssl/dim.h"
#include "test_util.h"

using namespace nidim;
using nidim::test::check_close;
using nidim::test::check_error;

namespace {

ChannelSpec spec(Prior prior, NoiseForm form, double level) {
  ChannelSpec s;
  s.prior = prior;
  s.form = form;
  s.level = level;
  s.validate();
  return s;
}

double phi(double x) {
  return 0.5 * std::erfc(-x / std::sqrt(2.0));
}

std::string fresh_dir(const std::string& name) {
  std::filesystem::remove_all(name);
  return name;
}

DimConfig synthetic_config(const std::string& out_name) {
  (void)out_name;
  DimConfig c;
  c.data.name = "synthetic";
  c.encoder = "mlp";
  c.mlp_hidden = {64, 64};
  c.critic_hidden = 64;
  c.batch = 128;
  c.epochs = 2;
  c.metric_repetitions = 128;
  c.loader_workers = 0;
  return c;
}

}  // namespace

TEST_CASE("capacities match their closed forms") {
  // Gaussian: C = 1/2 log(1 + 1/sigma^2); variance-preserving p gives sigma = p / sqrt(1 - p^2)
  // and C = -log p.
  const double p = 0.0995, sigma = p / std::sqrt(1 - p * p);
  const ChannelSpec vp = spec(Prior::gaussian, NoiseForm::variance_preserving, p);
  const ChannelSpec add = spec(Prior::gaussian, NoiseForm::additive, sigma);
  CHECK(vp.capacity_per_dim() == doctest::Approx(-std::log(p)).epsilon(1e-14));
  CHECK(add.capacity_per_dim() ==
        doctest::Approx(0.5 * std::log(1 + 1 / (sigma * sigma))).epsilon(1e-14));
  CHECK(add.capacity_per_dim() == doctest::Approx(vp.capacity_per_dim()).epsilon(1e-12));
  CHECK(spec(Prior::gaussian, NoiseForm::additive, 0.1).capacity_per_dim() ==
        doctest::Approx(0.5 * std::log(101.0)).epsilon(1e-14));
  // Uniform: C = log((1 + eps) / eps); rescaled p gives eps = p / (1 - p) and C = -log p.
  const ChannelSpec ue = spec(Prior::uniform, NoiseForm::additive, 0.25);
  CHECK(ue.capacity_per_dim() == doctest::Approx(std::log(5.0)).epsilon(1e-14));
  const ChannelSpec ur = spec(Prior::uniform, NoiseForm::rescaled, 0.2);
  CHECK(ur.epsilon() == doctest::Approx(0.25).epsilon(1e-14));
  CHECK(ur.capacity_per_dim() == doctest::Approx(-std::log(0.2)).epsilon(1e-14));
  // The ideal MI of an exactly uniform y: log(1/eps) + eps/2 per dimension, below C.
  CHECK(ue.uniform_ideal_per_dim() == doctest::Approx(std::log(4.0) + 0.125).epsilon(1e-14));
  CHECK(ue.uniform_ideal_per_dim() < ue.capacity_per_dim());
  // References: the additive channels widen the prior, the rescaled ones keep its support.
  CHECK(vp.reference() == "N(0, I)");
  CHECK(spec(Prior::gaussian, NoiseForm::additive, 0.5).reference() == "N(0, 1.25 I)");
  CHECK(ue.reference() == "U[0, 1.25]^d");
  CHECK(ur.reference() == "U[0, 1]^d");
  check_error([] { spec(Prior::gaussian, NoiseForm::rescaled, 0.1); }, {"rescaled", "uniform"});
  check_error([] { spec(Prior::uniform, NoiseForm::variance_preserving, 0.1); },
              {"variance-preserving"});
  check_error([] { spec(Prior::gaussian, NoiseForm::variance_preserving, 1.5); }, {"(0, 1)"});
}

TEST_CASE("channels have the moments of their definitions") {
  // 400 000 draws: standard errors of the variances below 0.003 (relative), tolerance 1%.
  Generator gen(1, 3);
  const int64_t n = 400000;
  auto moments = [](const Tensor& t) {
    const double m = mean(t).item();
    return std::pair<double, double>{m, mean((t - m) * (t - m)).item()};
  };
  Tensor y = randn({n, 1}, gen, 0, 1, DType::f64);
  auto [m1, v1] =
      moments(apply_channel(y, spec(Prior::gaussian, NoiseForm::variance_preserving, 0.3), gen));
  CHECK(std::fabs(m1) < 0.01);
  CHECK(v1 == doctest::Approx(1.0).epsilon(0.01));  // sqrt(1 - p^2)^2 + p^2 = 1
  auto [m2, v2] = moments(apply_channel(y, spec(Prior::gaussian, NoiseForm::additive, 0.5), gen));
  CHECK(v2 == doctest::Approx(1.25).epsilon(0.01));  // 1 + sigma^2
  Tensor u = rand({n, 1}, gen, 0, 1, DType::f64);
  auto [m3, v3] = moments(apply_channel(u, spec(Prior::uniform, NoiseForm::rescaled, 0.2), gen));
  CHECK(m3 == doctest::Approx(0.5).epsilon(0.01));
  CHECK(v3 == doctest::Approx((0.8 * 0.8 + 0.2 * 0.2) / 12).epsilon(0.01));  // ((1-p)^2 + p^2) / 12
  auto [m4, v4] = moments(apply_channel(u, spec(Prior::uniform, NoiseForm::additive, 0.25), gen));
  CHECK(m4 == doctest::Approx(0.5 + 0.125).epsilon(0.01));
  CHECK(v4 == doctest::Approx((1 + 0.0625) / 12).epsilon(0.01));  // (1 + eps^2) / 12
}

TEST_CASE("channels apply their formulas to the generator's noise") {
  // The same generator state replayed: y~ must be the formula of channel.h on that noise, exactly.
  Generator seed_gen(5, 1);
  const Tensor y = randn({64, 3}, seed_gen, 0, 1, DType::f64);
  const Tensor yu = rand({64, 3}, seed_gen, 0, 1, DType::f64);
  struct Case {
    ChannelSpec s;
    std::function<double(double, double)> formula;  // (y, noise) -> y~
  };
  const double p = 0.3, c = std::sqrt(1 - p * p);
  const std::vector<Case> cases = {
      {spec(Prior::gaussian, NoiseForm::variance_preserving, p),
       [&](double v, double e) { return c * v + p * e; }},
      {spec(Prior::gaussian, NoiseForm::additive, p),
       [&](double v, double e) { return v + p * e; }},
      {spec(Prior::uniform, NoiseForm::rescaled, p),
       [&](double v, double u) { return (1 - p) * v + p * u; }},
      {spec(Prior::uniform, NoiseForm::additive, p), [&](double v, double u) { return v + p * u; }},
  };
  for (const Case& k : cases) {
    CAPTURE(k.s.describe());
    const bool uni = uniform_base(k.s.prior);
    const Tensor x = uni ? yu : y;
    Generator gen(11, 2), replay(11, 2);
    const std::vector<double> got = apply_channel(x, k.s, gen).to_vector<double>();
    const std::vector<double> noise = (uni ? rand(x.shape(), replay, 0, 1, DType::f64)
                                           : randn(x.shape(), replay, 0, 1, DType::f64))
                                          .to_vector<double>();
    const std::vector<double> xs = x.to_vector<double>();
    for (size_t i = 0; i < got.size(); ++i)
      CHECK(got[i] == doctest::Approx(k.formula(xs[i], noise[i])).epsilon(1e-15));
    CHECK(gen.offset() == replay.offset());
  }
}

TEST_CASE("the priors' change of variables maps N(0, 1) onto Laplace(0, 1) and Logistic(0, 1)") {
  const std::vector<float> ys = {-3.0f, -1.0f, 0.0f, 0.5f, 2.5f};
  Tensor y = Tensor::from_vector(ys, {5, 1});
  const std::vector<float> lap = to_prior_coordinates(y, Prior::laplace).to_vector<float>();
  const std::vector<float> logi = to_prior_coordinates(y, Prior::logistic).to_vector<float>();
  for (size_t i = 0; i < ys.size(); ++i) {
    const double u = phi(ys[i]);
    const double want_lap = u < 0.5 ? std::log(2 * u) : -std::log(2 * (1 - u));
    const double want_log = std::log(u / (1 - u));
    CHECK(lap[i] == doctest::Approx(want_lap).epsilon(1e-6));
    CHECK(logi[i] == doctest::Approx(want_log).epsilon(1e-6));
  }
  CHECK(to_prior_coordinates(y, Prior::gaussian).shares_storage(y));
}

TEST_CASE("bounds from scores match their formulas") {
  // S [3, 3] by hand; the bounds computed with loops in double.
  const std::vector<double> s = {2.0, 0.5, -1.0, 0.3, 1.5, 0.2, -0.4, 0.1, 2.5};
  Tensor S = Tensor::from_vector(s, {3, 3});
  double nce = 0, diag = 0, off = 0;
  for (int i = 0; i < 3; ++i) {
    double row = 0;
    for (int j = 0; j < 3; ++j) row += std::exp(s[static_cast<size_t>(i * 3 + j)]);
    nce += s[static_cast<size_t>(i * 4)] - std::log(row / 3);
    diag += s[static_cast<size_t>(i * 4)];
    for (int j = 0; j < 3; ++j)
      if (i != j) off += std::exp(s[static_cast<size_t>(i * 3 + j)]);
  }
  nce /= 3, diag /= 3, off /= 6;
  CHECK(-infonce_from_scores(S).item() == doctest::Approx(nce).epsilon(1e-14));
  CHECK(-infonce_from_scores(S).item() <= std::log(3.0));

  // A critic that returns S whatever its input, to run MiBound on known scores.
  struct Fixed : Critic {
    Tensor m_S;
    explicit Fixed(Tensor S) : Critic("Fixed"), m_S(std::move(S)) {}
    Tensor scores(const Tensor&, const Tensor&) override { return m_S; }
  };
  Tensor leaf = S.clone().set_requires_grad(true);
  Fixed critic(leaf);
  const Tensor dummy = zeros({3, 1}, DType::f64);
  MiBound nwj(BoundKind::nwj);
  CHECK(nwj.compute(critic, dummy, dummy).estimate.item() ==
        doctest::Approx(diag - std::exp(-1.0) * off).epsilon(1e-14));
  MiBound dv(BoundKind::dv, 0.5);
  MiBound::Result r = dv.compute(critic, dummy, dummy);
  CHECK(r.estimate.item() == doctest::Approx(diag - std::log(off)).epsilon(1e-14));
  // The DV gradient with moving average ma: d/dS_ij = -[i = j]/3 + exp(S_ij) / (6 ma) off the
  // diagonal, checked on the scores' leaf after backward.
  auto check_dv_gradient = [](const Tensor& scores_leaf, const std::vector<double>& scores,
                              double ma) {
    const std::vector<double> g = scores_leaf.grad().to_vector<double>();
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        const double want =
            i == j ? -1.0 / 3 : std::exp(scores[static_cast<size_t>(i * 3 + j)]) / (6 * ma);
        CHECK(g[static_cast<size_t>(i * 3 + j)] == doctest::Approx(want).epsilon(1e-12));
      }
  };
  // First step: the moving average is mean exp S itself, so the corrected gradient equals the
  // true gradient of -DV.
  r.loss.backward();
  check_dv_gradient(leaf, s, off);
  // Second step on other scores S2 = S + t (t = 0.7 at the diagonal, -0.4 off it) with rate
  // a = 0.25: ma = (1 - a) off + a off2, and the gradient off the diagonal is
  // exp(S2_ij) / (6 ma), while the estimate is DV's own.
  auto shifted = [&](double t_diag, double t_off) {
    std::vector<double> v = s;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) v[static_cast<size_t>(i * 3 + j)] += i == j ? t_diag : t_off;
    return v;
  };
  const std::vector<double> s2 = shifted(0.7, -0.4);
  const double diag2 = diag + 0.7, off2 = off * std::exp(-0.4);
  auto second_step = [&](double rate) {
    MiBound bound(BoundKind::dv, rate);
    critic.m_S = S.clone().set_requires_grad(true);
    bound.compute(critic, dummy, dummy);
    Tensor leaf2 = Tensor::from_vector(s2, {3, 3}).set_requires_grad(true);
    critic.m_S = leaf2;
    MiBound::Result r2 = bound.compute(critic, dummy, dummy);
    CHECK(r2.estimate.item() == doctest::Approx(diag2 - std::log(off2)).epsilon(1e-14));
    const double ma = (1 - rate) * off + rate * off2;
    CHECK(bound.log_moving_average() == doctest::Approx(std::log(ma)).epsilon(1e-14));
    r2.loss.backward();
    check_dv_gradient(leaf2, s2, ma);
  };
  second_step(0.25);
  // Rate 1 keeps no memory: ma = mean exp S2, the plain (biased) DV gradient.
  second_step(1.0);
}

TEST_CASE("the Gaussian kernel critic's constant lifts NWJ to DV") {
  // NWJ(T + c) = mean T_ii + c - e^(c - 1) M with M = mean_{i != j} exp T_ij: its gradient in c is
  // 1 - e^(c - 1) M, zero at c = 1 - log M, where NWJ equals DV = mean T_ii - log M.
  Generator gen(8);
  const Tensor a = randn({5, 2}, gen), b = randn({5, 2}, gen);
  GaussianKernelCritic plain(0.9, false), kern(0.9, true);
  CHECK(plain.named_parameters().empty());
  REQUIRE(kern.named_parameters().size() == 1);
  CHECK(kern.named_parameters()[0].first == "offset");
  Tensor offset = kern.named_parameters()[0].second;
  const std::vector<float> t = plain.scores(a, b).to_vector<float>();
  double diag = 0, m = 0;
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j) {
      const double tij = t[static_cast<size_t>(i * 5 + j)];
      if (i == j)
        diag += tij / 5;
      else
        m += std::exp(tij) / 20;
    }
  const float c = 0.3f;
  offset.data<float>()[0] = c;
  const std::vector<float> s = kern.scores(a, b).to_vector<float>();
  for (size_t k = 0; k < s.size(); ++k) CHECK(s[k] == doctest::Approx(t[k] + c).epsilon(1e-6));
  MiBound nwj(BoundKind::nwj);
  MiBound::Result r = nwj.compute(kern, a, b);
  CHECK(r.estimate.item() == doctest::Approx(diag + c - std::exp(c - 1) * m).epsilon(1e-5));
  r.loss.backward();  // the loss is -NWJ
  CHECK(offset.grad().to_vector<float>()[0] ==
        doctest::Approx(-(1 - std::exp(c - 1) * m)).epsilon(1e-5));
  offset.data<float>()[0] = static_cast<float>(1 - std::log(m));
  const double lifted = nwj.compute(kern, a, b).estimate.item();
  CHECK(lifted == doctest::Approx(diag - std::log(m)).epsilon(1e-5));
  CHECK(lifted ==
        doctest::Approx(MiBound(BoundKind::dv).compute(plain, a, b).estimate.item()).epsilon(1e-5));
}

TEST_CASE("critic_has_parameters says whether the model's critic has any (--critic-lr)") {
  DimConfig c = synthetic_config("critic_params");
  for (const char* critic : {"mlp", "dot", "cosine", "gaussian"})
    for (BoundKind bound : {BoundKind::infonce, BoundKind::dv, BoundKind::nwj})
      for (int64_t head : {0, 4})
        for (bool offset : {false, true}) {
          c.critic = critic;
          c.bound = bound;
          c.head_dim = head;
          c.kernel_offset = offset;
          Generator gen(1);
          DimModel model(c, 1, 8, 8, gen);
          INFO(critic << " bound " << bound_label(bound) << " head " << head << " offset "
                      << offset);
          CHECK(c.critic_has_parameters() == !model.critic().parameters().empty());
        }
}

TEST_CASE("config.json records the kernel bandwidth the critic used") {
  DimConfig c = synthetic_config("bandwidth");
  CHECK(c.to_json()["kernel_bandwidth_used"].is_null());  // the joint MLP critic has none
  c.critic = "gaussian";
  c.channel = spec(Prior::gaussian, NoiseForm::variance_preserving, 0.2);
  CHECK(c.to_json()["kernel_bandwidth"].get<double>() == 0.0);  // automatic
  CHECK(c.to_json()["kernel_bandwidth_used"].get<double>() ==
        doctest::Approx(std::sqrt(2.0) * 0.2));
  c.channel = spec(Prior::gaussian, NoiseForm::additive, 0.5);
  CHECK(c.to_json()["kernel_bandwidth_used"].get<double>() ==
        doctest::Approx(std::sqrt(2.0) * 0.5));
  c.kernel_bandwidth = 0.7;
  CHECK(c.to_json()["kernel_bandwidth_used"].get<double>() == 0.7);
}

TEST_CASE("runs made before the kernel critic's constant resume without it") {
  DimConfig c = synthetic_config("offset");
  c.critic = "gaussian";
  c.bound = BoundKind::nwj;
  auto has_offset = [](const DimConfig& config) {
    Generator gen(1);
    DimModel model(config, 1, 8, 8, gen);
    for (const auto& [name, t] : model.state_dict())
      if (name == "critic.offset") return true;
    return false;
  };
  CHECK(has_offset(DimConfig::from_json(c.to_json())));
  nlohmann::json old = c.to_json();
  old.erase("kernel_offset");  // config.json of a run made before
  CHECK_FALSE(DimConfig::from_json(old).kernel_offset);
  CHECK_FALSE(has_offset(DimConfig::from_json(old)));
  c.bound = BoundKind::infonce;  // the constant only matters to NWJ
  CHECK_FALSE(has_offset(c));
  // config.json says whether the critic has it.
  CHECK_FALSE(c.to_json()["kernel_offset"].get<bool>());
  c.critic = "mlp";
  c.bound = BoundKind::nwj;
  CHECK_FALSE(c.to_json()["kernel_offset"].get<bool>());
  c.critic = "gaussian";
  CHECK(c.to_json()["kernel_offset"].get<bool>());
}

TEST_CASE("critics compute their definitions") {
  Generator gen(5);
  Tensor a = randn({4, 3}, gen, 0, 1, DType::f64), b = randn({4, 3}, gen, 0, 1, DType::f64);
  const std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>();
  auto dot = [&](int i, int j) {
    double s = 0;
    for (int k = 0; k < 3; ++k)
      s += av[static_cast<size_t>(i * 3 + k)] * bv[static_cast<size_t>(j * 3 + k)];
    return s;
  };
  auto norm2 = [](const std::vector<double>& v, int i) {
    double s = 0;
    for (int k = 0; k < 3; ++k)
      s += v[static_cast<size_t>(i * 3 + k)] * v[static_cast<size_t>(i * 3 + k)];
    return s;
  };
  SeparableCritic dotc(3, Similarity::dot, 0.5, 0, gen), cosc(3, Similarity::cosine, 0.1, 0, gen);
  GaussianKernelCritic kern(0.7, false);
  const std::vector<double> sd = dotc.scores(a, b).to_vector<double>(),
                            sc = cosc.scores(a, b).to_vector<double>(),
                            sk = kern.scores(a, b).to_vector<double>();
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const size_t k = static_cast<size_t>(i * 4 + j);
      CHECK(sd[k] == doctest::Approx(dot(i, j) / 0.5).epsilon(1e-12));
      CHECK(
          sc[k] ==
          doctest::Approx(dot(i, j) / std::sqrt(norm2(av, i) * norm2(bv, j)) / 0.1).epsilon(1e-9));
      const double dist2 = norm2(av, i) + norm2(bv, j) - 2 * dot(i, j);
      CHECK(sk[k] == doctest::Approx(-dist2 / (2 * 0.49)).epsilon(1e-10));
    }
  // The joint critic with its first layer split equals the MLP applied to each pair [a_i; b_j].
  JointMlpCritic joint(3, 5, gen, 0.01, 2);
  auto keys = joint.named_parameters();
  CHECK(keys[0].first == "fc1.weight");
  CHECK(keys[0].second.shape() == Shape{5, 6});
  NoGradGuard no_grad;
  Tensor Sj = cast(joint.scores(cast(a, DType::f32), cast(b, DType::f32)), DType::f64);
  NamedTensors state = joint.state_dict();  // the same weights, applied to each concatenated pair
  const std::vector<double> sj = Sj.to_vector<double>();
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      Tensor pair =
          concat({slice(cast(a, DType::f32), i, i + 1), slice(cast(b, DType::f32), j, j + 1)}, 1);
      Tensor h = leaky_relu(matmul(pair, state[0].second, false, true) +
                            reshape(state[1].second, {1, -1}));
      h = leaky_relu(matmul(h, state[2].second, false, true) + reshape(state[3].second, {1, -1}));
      const double want = (matmul(h, state[4].second, false, true) + state[5].second).item();
      CHECK(sj[static_cast<size_t>(i * 4 + j)] == doctest::Approx(want).epsilon(1e-5));  // float32
    }
}

TEST_CASE("encoders: the paper's ConvNet in both layer orders, and the MLP") {
  Generator gen(6);
  auto paper = convnet_encoder(1, 28, 28, 2, LayerOrder::paper, gen);
  auto follow = convnet_encoder(1, 28, 28, 2, LayerOrder::followup, gen);
  auto cifar = convnet_encoder(3, 32, 32, 16, LayerOrder::paper, gen);
  NoGradGuard no_grad;
  CHECK(paper->forward(randn({3, 1, 28, 28}, gen)).shape() == Shape{3, 2});
  CHECK(follow->forward(randn({3, 1, 28, 28}, gen)).shape() == Shape{3, 2});
  CHECK(cifar->forward(randn({2, 3, 32, 32}, gen)).shape() == Shape{2, 16});
  std::vector<std::string> names;
  for (auto& [name, child] : paper->children()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"conv1", "pool1", "act1", "bn1", "conv2", "pool2", "act2",
                                          "bn2", "conv3", "pool3", "act3", "bn3", "flat", "fc1",
                                          "act4", "fc2"});
  names.clear();
  for (auto& [name, child] : follow->children()) names.push_back(name);
  CHECK(names[1] == "pool1");
  CHECK(names[2] == "bn1");
  CHECK(follow->children()[1].second->type_name() == "MaxPool2d");
  CHECK(paper->named_parameters("encoder")[0].first == "encoder.conv1.weight");
  auto mlp = mlp_encoder(64, {32, 16}, 4, gen);
  CHECK(mlp->forward(randn({5, 1, 8, 8}, gen)).shape() == Shape{5, 4});
  check_error([&] { convnet_encoder(1, 8, 8, 2, LayerOrder::paper, gen); }, {"too small"});
}

TEST_CASE("training matches the embedding to the Gaussian prior on the synthetic set") {
  // Seed 0, 8 epochs of 32 steps. Training first separates the four classes (a clustered,
  // non-Gaussian embedding after epoch 1) and then spreads them into a Gaussian. The bootstrapped
  // Henze-Zirkler mean p-value (128 repetitions of 64 test rows) goes from < 0.01 to > 0.05.
  DimConfig c = synthetic_config("dm");
  c.epochs = 8;
  c.eval_every = 1;
  DimTrainer t(c, fresh_dir("ssl_test_dm"));
  std::vector<double> hz, eval_seconds;
  using Clock = std::chrono::steady_clock;
  Clock::time_point epoch_logged;
  TrainHooks hooks;
  hooks.on_log = [&](const nlohmann::json& l) {
    if (l["type"] == "eval") {
      hz.push_back(l.at("henze_zirkler_pvalue").get<double>());
      // From the epoch line before (then the checkpoint and this evaluation) to this line.
      eval_seconds.push_back(std::chrono::duration<double>(Clock::now() - epoch_logged).count());
    }
    if (l["type"] == "epoch") {
      // The certificate's pieces: C = d * (-log p) for the variance-preserving channel, and
      // the KL bound C - I_hat.
      CHECK(l["capacity"].get<double>() == doctest::Approx(2 * -std::log(0.0995)).epsilon(1e-12));
      CHECK(l["kl_bound"].get<double>() ==
            doctest::Approx(l["capacity"].get<double>() - l["mi_estimate"].get<double>())
                .epsilon(1e-12));
      CHECK(l["mi_estimate"].get<double>() <= std::log(128.0));  // InfoNCE <= log B
      // wall_seconds spans the steps, and from the second epoch on the evaluation before them.
      const double steps = l["seconds"].get<double>(), wall = l["wall_seconds"].get<double>();
      CHECK(wall >= steps);
      // (eval_seconds starts a few microseconds before the trainer's mark: hence the 1 ms.)
      if (l["epoch"].get<int>() > 1) CHECK(wall - steps >= eval_seconds.back() - 1e-3);
      epoch_logged = Clock::now();
    }
  };
  CHECK(t.run(hooks) == RunOutcome::finished);
  REQUIRE(hz.size() == 8);
  MESSAGE(
      "Henze-Zirkler mean p-value after each epoch: " << fmt::format("{}", fmt::join(hz, ", ")));
  CHECK(hz.front() < 0.01);
  CHECK(hz.back() > 0.05);
}

// With InfoNCE, and with DV, whose moving average lives on the device and goes into the checkpoint.
TEST_CASE("a run stopped and resumed ends with the same weights, bit for bit") {
  for (BoundKind bound : {BoundKind::infonce, BoundKind::dv}) {
    CAPTURE(bound_label(bound));
    const std::string whole_dir = std::string("ssl_test_whole_") + bound_label(bound);
    const std::string parts_dir = std::string("ssl_test_parts_") + bound_label(bound);
    DimConfig c = synthetic_config("resume");
    c.bound = bound;
    c.epochs = 2;
    c.eval_every = 0;
    c.quick_metrics = false;
    {
      DimTrainer whole(c, fresh_dir(whole_dir));
      CHECK(whole.run({}) == RunOutcome::finished);
    }
    {
      // Stop after 9 steps of the first epoch (a Ctrl-C), then resume twice more: once stopping
      // again in the second epoch, once to the end.
      std::atomic<bool> stop{false};
      TrainHooks hooks;
      int steps = 0;
      hooks.stop = &stop;
      hooks.on_step = [&](const StepInfo&) { stop = ++steps == 9; };
      DimTrainer part(c, fresh_dir(parts_dir));
      CHECK(part.run(hooks) == RunOutcome::interrupted);
      CHECK(part.epoch() == 0);
      // Step k is reported once step k+1 is queued (DimTrainer::run reads losses one step late), so
      // the stop set while reporting step 9 takes effect after step 10, which is saved too.
      CHECK(part.next_batch() == 10);
    }
    {
      std::atomic<bool> stop{false};
      TrainHooks hooks;
      hooks.stop = &stop;
      hooks.on_step = [&](const StepInfo& s) { stop = s.epoch == 2 && s.step == 5; };
      auto again = DimTrainer::resume(parts_dir);
      CHECK(again->run(hooks) == RunOutcome::interrupted);
    }
    auto last = DimTrainer::resume(parts_dir);
    CHECK(last->run({}) == RunOutcome::finished);
    const NamedTensors a = load_safetensors(whole_dir + "/model.safetensors");
    const NamedTensors b = load_safetensors(parts_dir + "/model.safetensors");
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      CAPTURE(a[i].first);
      CHECK(a[i].first == b[i].first);
      REQUIRE(a[i].second.nbytes() == b[i].second.nbytes());
      CHECK(std::memcmp(a[i].second.raw(), b[i].second.raw(), a[i].second.nbytes()) == 0);
    }
    // The log covers each epoch once.
    std::ifstream log(parts_dir + "/log.jsonl");
    int epoch_lines = 0;
    for (std::string line; std::getline(log, line);)
      epoch_lines += nlohmann::json::parse(line)["type"] == "epoch";
    CHECK(epoch_lines == 2);
  }
}

TEST_CASE("a stop during an evaluation ends the run there; the resumed run redoes it") {
  DimConfig c = synthetic_config("evalstop");
  c.epochs = 2;
  c.eval_every = 1;
  c.metric_repetitions = 64;
  auto eval_lines = [](const std::string& dir) {
    std::vector<nlohmann::json> out;
    std::ifstream log(dir + "/log.jsonl");
    for (std::string line; std::getline(log, line);) {
      nlohmann::json j = nlohmann::json::parse(line);
      if (j["type"] == "eval") out.push_back(j);
    }
    return out;
  };
  {
    DimTrainer whole(c, fresh_dir("ssl_test_evalstop_whole"));
    CHECK(whole.run({}) == RunOutcome::finished);
  }
  {
    // Ctrl-C while the bootstrap of the evaluation after epoch 1 runs (its progress is reported
    // on this thread): the remaining repetitions are skipped and the run ends.
    std::atomic<bool> stop{false};
    TrainHooks hooks;
    hooks.stop = &stop;
    hooks.on_progress = [&](const std::string& phase, int64_t, int64_t) {
      if (phase == "bootstrap tests") stop = true;
    };
    DimTrainer part(c, fresh_dir("ssl_test_evalstop_part"));
    CHECK(part.run(hooks) == RunOutcome::interrupted);
    CHECK(part.stopped_at() == "during the evaluation after epoch 1");
    CHECK(eval_lines("ssl_test_evalstop_part").empty());
  }
  std::unique_ptr<DimTrainer> again = DimTrainer::resume("ssl_test_evalstop_part");
  CHECK_FALSE(again->complete());
  CHECK(again->run({}) == RunOutcome::finished);
  const std::vector<nlohmann::json> got = eval_lines("ssl_test_evalstop_part"),
                                    want = eval_lines("ssl_test_evalstop_whole");
  REQUIRE(got.size() == 2);
  REQUIRE(want.size() == 2);
  for (size_t i = 0; i < 2; ++i) CHECK(got[i] == want[i]);
  CHECK(read_file("ssl_test_evalstop_part/model.safetensors") ==
        read_file("ssl_test_evalstop_whole/model.safetensors"));
  again.reset();  // its lock
  CHECK(DimTrainer::resume("ssl_test_evalstop_part")->complete());
}

TEST_CASE("evaluations in the protocol window keep their embeddings, and only those") {
  // Four epochs evaluated each, a window of 2: epochs 3 and 4 are kept. Extended to 6 epochs,
  // the window moves to 5 and 6 and the older ones go.
  namespace fs = std::filesystem;
  DimConfig c = synthetic_config("protocol");
  c.epochs = 4;
  c.eval_every = 1;
  c.protocol_window = 2;
  c.quick_metrics = false;
  const std::string dir = fresh_dir("ssl_test_protocol");
  auto kept = [&] {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir + "/evaluations"))
      names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  };
  std::vector<uint8_t> epoch3_test;
  {
    DimTrainer t(c, dir);
    TrainHooks hooks;
    hooks.on_log = [&](const nlohmann::json& line) {  // the files as the evaluation left them
      if (line["type"] == "eval" && line["epoch"] == 3)
        epoch3_test = read_file(dir + "/embeddings_test.npy");
    };
    CHECK(t.run(hooks) == RunOutcome::finished);
  }
  CHECK(kept() == std::vector<std::string>{"epoch_3", "epoch_4"});
  for (const char* name : {"embeddings_train.npy", "embeddings_test.npy"})  // one file, two names
    CHECK(fs::equivalent(dir + "/evaluations/epoch_4/" + name, dir + "/" + name));
  REQUIRE_FALSE(epoch3_test.empty());
  CHECK(read_file(dir + "/evaluations/epoch_3/embeddings_test.npy") == epoch3_test);
  CHECK(epoch3_test != read_file(dir + "/embeddings_test.npy"));  // training moved them
  CHECK(DimTrainer::resume(dir, 6)->run({}) == RunOutcome::finished);
  CHECK(kept() == std::vector<std::string>{"epoch_5", "epoch_6"});
  CHECK(read_file(dir + "/evaluations/epoch_6/embeddings_train.npy") ==
        read_file(dir + "/embeddings_train.npy"));
}

TEST_CASE("a non-finite loss stops the run, names the step and keeps the last good checkpoint") {
  DimConfig c = synthetic_config("nan");
  c.epochs = 3;
  c.eval_every = 0;
  c.quick_metrics = false;
  c.lr = 1e30;  // the first update wrecks the encoder
  c.critic = "dot";
  namespace fs = std::filesystem;
  // A new run that fails before its first checkpoint leaves nothing that could block its --out:
  // what it wrote is removed, and the directory too if it made it and nothing else is there.
  {
    DimTrainer t(c, fresh_dir("ssl_test_nan"));
    check_error([&] { t.run({}); }, {"non-finite loss", "epoch 1", "step 2 (global step 2)",
                                     "before any checkpoint was written: ssl_test_nan was removed",
                                     "(a smaller --lr?)"});
  }
  CHECK_FALSE(fs::exists("ssl_test_nan"));
  {  // the folders made for it go too, not those that were there
    fs::create_directories("ssl_test_nan_up/there");
    DimTrainer t(c, "ssl_test_nan_up/there/a/b");
    check_error([&] { t.run({}); }, {"ssl_test_nan_up/there/a/b was removed"});
  }
  CHECK(fs::is_directory("ssl_test_nan_up/there"));
  CHECK(fs::is_empty("ssl_test_nan_up/there"));
  fs::remove_all("ssl_test_nan_up");
  fs::create_directories("ssl_test_nan");
  {
    DimTrainer t(c, "ssl_test_nan");
    check_error([&] { t.run({}); },
                {"non-finite loss", "what the run wrote in ssl_test_nan was removed"});
  }
  CHECK(fs::is_directory("ssl_test_nan"));  // a folder that was there keeps its lock file only
  CHECK(fs::exists("ssl_test_nan/.lock"));
  CHECK(std::distance(fs::directory_iterator("ssl_test_nan"), fs::directory_iterator()) == 1);
  // A file someone else put there while the run went (eval_dm's report, say) stays, and so does
  // the directory the run made.
  {
    DimTrainer t(c, fresh_dir("ssl_test_nan_other"));
    TrainHooks hooks;
    hooks.on_step = [](const StepInfo&) {
      write_file_atomic("ssl_test_nan_other/report.txt", "x");
    };
    check_error([&] { t.run(hooks); },
                {"non-finite loss", "what the run wrote in ssl_test_nan_other was removed"});
  }
  CHECK(fs::exists("ssl_test_nan_other/report.txt"));
  CHECK(std::distance(fs::directory_iterator("ssl_test_nan_other"), fs::directory_iterator()) == 1);
  fs::remove_all("ssl_test_nan_other");
  // A run killed before its first checkpoint (here: stopped, its checkpoint then deleted) keeps
  // its directory; resumed, it starts from the beginning, and when that fails the directory is
  // kept and the user's to remove.
  {
    DimTrainer t(c, "ssl_test_nan");  // accepted: the emptied directory holds no run
    std::atomic<bool> stop{true};
    TrainHooks hooks;
    hooks.stop = &stop;
    CHECK(t.run(hooks) == RunOutcome::interrupted);
    // One process per run directory: t still holds it.
    check_error([&] { DimTrainer::resume("ssl_test_nan"); }, {"in use by another process"});
  }
  fs::remove_all("ssl_test_nan/checkpoint");
  std::unique_ptr<DimTrainer> again = DimTrainer::resume("ssl_test_nan");
  CHECK(again->epoch() == 0);
  CHECK(again->next_batch() == 0);
  std::vector<std::string> notes;
  TrainHooks hooks;
  hooks.on_note = [&](const std::string& s) { notes.push_back(s); };
  check_error([&] { again->run(hooks); }, {"non-finite loss", "epoch 1", "nothing to resume"});
  CHECK(fs::exists("ssl_test_nan/config.json"));
  CHECK(std::any_of(notes.begin(), notes.end(), [](const std::string& n) {
    return n.find("no checkpoint yet") != std::string::npos;
  }));
}

TEST_CASE("a critic score that overflows exp() in the NWJ bound is named in the error") {
  DimConfig c = synthetic_config("nwj");
  c.epochs = 1;
  c.eval_every = 0;
  c.quick_metrics = false;
  c.critic = "dot";
  c.bound = BoundKind::nwj;
  c.temperature = 1e-3;  // scores of order 10^3: exp overflows at the first step
  for (const char* critic : {"dot", "cosine"}) {
    c.critic = critic;
    DimTrainer t(c, fresh_dir("ssl_test_nwj"));
    check_error([&] { t.run({}); },
                {"non-finite loss (inf) at epoch 1, step 1 (global step 1)",
                 "with --bound nwj a critic score above ~89 overflows exp(score - 1) in float32: "
                 "a larger --temperature, or --bound infonce"});
    CHECK_FALSE(std::filesystem::exists("ssl_test_nwj"));
  }
}

TEST_CASE("configuration: JSON round trip and one-line errors") {
  DimConfig c = synthetic_config("cfg");
  c.channel = spec(Prior::uniform, NoiseForm::rescaled, 0.2);
  c.bound = BoundKind::dv;
  const DimConfig back = DimConfig::from_json(c.to_json());
  CHECK(back.to_json() == c.to_json());
  CHECK(c.to_json()["noise"]["epsilon"].get<double>() == doctest::Approx(0.25));
  DimConfig bad = c;
  bad.batch = 1;
  check_error([&] { bad.validate(); }, {"--batch"});
  bad = c;
  bad.critic = "gaussian";
  check_error([&] { bad.validate(); }, {"--critic gaussian"});
  DimConfig mnist;
  mnist.data.dir = "no/such/folder";
  check_error([&] { DimTrainer t(mnist, fresh_dir("ssl_test_missing")); }, {"no/such/folder"});
  check_error([&] { DimTrainer::resume("no/such/run"); }, {"no/such/run", "config.json"});
  {
    DimTrainer first(synthetic_config("x"), fresh_dir("ssl_test_exists"));
    check_error([&] { DimTrainer second(synthetic_config("x"), "ssl_test_exists"); },
                {"holds a run that is still going"});
  }
  check_error([&] { DimTrainer second(synthetic_config("x"), "ssl_test_exists"); },
              {"holds a run already", "--resume ssl_test_exists"});
}

TEST_CASE("config.json: integers must be integers in range; errors name the key and value") {
  // Found by fuzzing: integer fields were read as doubles and cast (3.7 became 3, 1e300 became
  // -9223372036854775808, 1.1e20 was undefined behaviour).
  const nlohmann::json good = synthetic_config("ints").to_json();
  auto with = [&](const std::string& key, const nlohmann::json& v) {
    nlohmann::json j = good;
    j[key] = v;
    return j;
  };
  check_error([&] { DimConfig::from_json(with("batch", 3.7)); },
              {"config.json: \"batch\" must be an integer, got 3.7"});
  check_error([&] { DimConfig::from_json(with("epochs", 1e300)); },
              {"config.json: \"epochs\"", "got 1e+300"});
  std::string text = good.dump();
  text.replace(text.find("\"limit_train\":0"), 15, "\"limit_train\":111111111111111124096");
  check_error([&] { DimConfig::from_json(parse_json(text, "config.json")); },
              {"\"limit_train\"", "got 1.11111111111111"});
  check_error([&] { DimConfig::from_json(with("threads", 1 << 20), "run/config.json"); },
              {"run/config.json: \"threads\" must be an integer in [0, 4096], got 1048576"});
  check_error([&] { DimConfig::from_json(with("seed", -1)); }, {"\"seed\"", "got -1"});
  check_error([&] { DimConfig::from_json(with("critic", 5)); },
              {"\"critic\" must be a string, got 5"});
  nlohmann::json ssl = synthetic_config("ints").to_json();
  ssl["method"] = "simclr";
  ssl["ssl"] = {{"augment", "simclr"}, {"resnet_stem", "cifar"}, {"feature_dim", 2.5}};
  check_error([&] { DimConfig::from_json(ssl); },
              {"config.json: ssl: \"feature_dim\" must be an integer, got 2.5"});
  CHECK(DimConfig::from_json(good).to_json() == good);  // valid input: unchanged
}

TEST_CASE("resume: a bad log.jsonl or state is named with its line and key, never waited on") {
  const std::string dir = fresh_dir("ssl_test_badlog");
  DimConfig c = synthetic_config("badlog");
  c.epochs = 1;
  c.eval_every = 0;
  c.quick_metrics = false;
  {
    DimTrainer t(c, dir);
    REQUIRE(t.run({}) == RunOutcome::finished);
  }
  const std::string log = dir + "/log.jsonl";
  const std::vector<uint8_t> good_log = read_file(log);
  CHECK(DimTrainer::resume(dir)->complete());
  // Found by fuzzing: nlohmann's "type must be string, but is number", without file or line.
  write_file_atomic(log, std::string("{\"type\": \"epoch\", \"epoch\": 1}\n{\"type\": 1}\n"));
  check_error([&] { DimTrainer::resume(dir); }, {log + ":2: \"type\" must be a string, got 1"});
  write_file_atomic(log, std::string("{\"epoch\": \"one\"}\n"));
  check_error([&] { DimTrainer::resume(dir); },
              {log + ":1: \"epoch\" must be an integer, got \"one\""});
  // A directory, or a named pipe (which waited forever for a writer).
  std::filesystem::remove(log);
  std::filesystem::create_directory(log);
  check_error([&] { DimTrainer::resume(dir); }, {log + ": is a directory"});
  std::filesystem::remove(log);
  {
    test::UnwrittenPipe pipe(log);
    check_error([&] { DimTrainer::resume(dir); }, {log, "not a regular file"});
  }
  write_file_atomic(log, std::string(good_log.begin(), good_log.end()));
  // config.json: the resumed run's errors name it.
  const std::string cfg = dir + "/config.json";
  const std::vector<uint8_t> good_cfg = read_file(cfg);
  nlohmann::json j = parse_json(std::string(good_cfg.begin(), good_cfg.end()), cfg);
  j["batch"] = 3.7;
  write_file_atomic(cfg, j.dump());
  check_error([&] { DimTrainer::resume(dir); }, {cfg + ": \"batch\" must be an integer, got 3.7"});
  write_file_atomic(cfg, "{\"prior\": " + test::nested_json_array(100000) + "}");
  check_error([&] { DimTrainer::resume(dir); }, {cfg + ": JSON nested deeper than 64 levels"});
  write_file_atomic(cfg, std::string(good_cfg.begin(), good_cfg.end()));
  // The checkpoint's state: an epoch that is not an integer.
  const std::string ckpt = dir + "/checkpoint/checkpoint.safetensors";
  Metadata meta;
  const NamedTensors tensors = load_safetensors(ckpt, &meta);
  nlohmann::json state = parse_json(meta["nidim_state"], "state");
  state["epoch"] = 1.5;
  save_safetensors(ckpt, tensors, {{"nidim_state", state.dump()}});
  check_error([&] { DimTrainer::resume(dir); },
              {ckpt, "nidim_state: \"epoch\" must be an integer, got 1.5"});
  std::filesystem::remove_all(dir);
}

TEST_CASE("a batch too small for the capacity draws a warning") {
  // d = 2, p = 0.01: C = 2 * log(100) = 9.2 nats > log 16 = 2.8 nats.
  DimConfig c = synthetic_config("warn");
  c.batch = 16;
  c.epochs = 1;
  c.channel.level = 0.01;
  c.quick_metrics = false;
  c.data.synthetic_train = 64;
  c.data.synthetic_test = 32;
  DimTrainer t(c, fresh_dir("ssl_test_warn"));
  std::vector<std::string> notes;
  TrainHooks hooks;
  hooks.on_note = [&](const std::string& s) { notes.push_back(s); };
  t.run(hooks);
  bool warned = false;
  for (const std::string& n : notes)
    warned =
        warned || (n.find("warning") != std::string::npos && n.find("log B") != std::string::npos);
  CHECK(warned);
}
