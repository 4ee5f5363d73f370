// kernel_lab: the hand-written CUDA kernels (batch-norm, the pairwise critic and its fused InfoNCE
// loss, the fused NT-Xent loss, the Philox noise), each version checked against the CPU reference
// at several sizes before anything is timed, then timed with CUDA events: GB/s for the
// memory-bound kernels, TFLOP/s for the critic and NT-Xent.
//
//   build-cuda/bench/kernels/kernel_lab [--only batchnorm|critic|ntxent|noise] [--reps 20]
//                                       [--json out.json]
//
// The versions are the launchers of kernels/cuda/kernels_cuda.h, the very functions the ops call
// (batch_norm_forward_cuda, pairwise_mlp_infonce_cuda, normal_cuda...), next to the lab-only
// alternatives declared at the end of that header (one block per channel, one thread per pair).
// A version that fails its check at any size is reported FAILED and not timed; the exit status is
// then 1. Tolerances are those of tests/cuda/test_parity.cpp (|gpu - cpu| <= rtol |cpu| +
// atol max|cpu|). Throughput counts the bytes a version must move at least (each input read once
// per pass it needs, each output written once) or the GEMM flops of the critic (2 B^2 H^2 per
// GEMM-shaped product: one for the scores, three for scores + gradients).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cuda/memory.h"
#include "core/cuda/stream.h"
#include "core/cuda_runtime.h"
#include "core/random.h"
#include "kernels/cpu/kernels_cpu.h"
#include "kernels/cuda/kernels_cuda.h"
#include "kernels/ops.h"

using namespace nidim;

namespace {

struct Options {
  std::string only;
  int reps = 20;
  std::string json_path;
};

struct Check {
  bool ok = true;
  double max_error = 0;  // max |gpu - cpu| / (atol max|cpu| + rtol |cpu|), <= 1 passes
};

// Compares device values with host reference values.
Check compare(const Tensor& gpu, const std::vector<float>& cpu, double rtol, double atol) {
  const std::vector<float> g = gpu.to_vector<float>();
  Check c;
  double scale = 0;
  for (float v : cpu) scale = std::max(scale, static_cast<double>(std::fabs(v)));
  for (size_t i = 0; i < cpu.size(); ++i) {
    const double err = std::fabs(static_cast<double>(g[i]) - cpu[i]);
    const double bound = rtol * std::fabs(cpu[i]) + atol * scale;
    if (bound == 0 ? err != 0 : err > bound) c.ok = false;
    c.max_error = std::max(c.max_error, bound == 0 ? (err == 0 ? 0.0 : INFINITY) : err / bound);
    if (!(err == err) || !(g[i] == g[i])) c.ok = false;  // NaN
  }
  return c;
}

Check merge(Check a, const Check& b) {
  a.ok = a.ok && b.ok;
  a.max_error = std::max(a.max_error, b.max_error);
  return a;
}

std::vector<float> host_randn(int64_t n, Generator& gen, double scale = 1, double shift = 0) {
  Tensor t = randn({n}, gen, shift, scale);
  return t.to_vector<float>();
}

Tensor dev(const std::vector<float>& v) {
  return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}, Device::cuda());
}

float* fp(Tensor& t) {
  return static_cast<float*>(t.raw());
}
const float* cfp(const Tensor& t) {
  return static_cast<const float*>(t.raw());
}

// Mean milliseconds of `run` over reps launches, after 3 warm-up launches, with CUDA events on
// the compute stream.
double time_ms(const std::function<void()>& run, int reps) {
  cudaStream_t s = current_stream();
  for (int k = 0; k < 3; ++k) run();
  Event start, stop;
  start.record(s);
  for (int k = 0; k < reps; ++k) run();
  stop.record(s);
  stop.synchronize();
  NIDIM_CUDA_CHECK(cudaGetLastError(), "kernel_lab");
  return stop.elapsed_ms_since(start) / reps;
}

struct Row {
  std::string kernel, version, size;
  bool checked = false, passed = false;
  double max_error = 0, ms = 0, throughput = 0;
  std::string unit;
};

std::vector<Row> rows;
bool any_failed = false;

void report(const Row& r) {
  rows.push_back(r);
  if (!r.passed) any_failed = true;
  if (r.ms > 0)
    std::printf("  %-22s %-28s %-26s %-6s err %.2g  %9.4f ms  %8.2f %s\n", r.kernel.c_str(),
                r.version.c_str(), r.size.c_str(), "ok", r.max_error, r.ms, r.throughput,
                r.unit.c_str());
  else
    std::printf("  %-22s %-28s %-26s %-6s err %.2g%s\n", r.kernel.c_str(), r.version.c_str(),
                r.size.c_str(), r.passed ? "ok" : "FAILED", r.max_error,
                r.passed ? "" : "  (not timed)");
  std::fflush(stdout);
}

// A version: check at every size in `check_sizes`; if all pass, time at `time_sizes`.
template <class Size>
void lab(const std::string& kernel, const std::string& version,
         const std::vector<Size>& check_sizes, const std::vector<Size>& time_sizes,
         const std::function<std::string(const Size&)>& label,
         const std::function<Check(const Size&)>& check,
         const std::function<double(const Size&, int)>& timed,
         const std::function<double(const Size&)>& work, const std::string& unit, int reps) {
  bool all_ok = true;
  for (const Size& s : check_sizes) {
    Row r;
    r.kernel = kernel, r.version = version, r.size = label(s);
    r.checked = true;
    const Check c = check(s);
    r.passed = c.ok;
    r.max_error = c.max_error;
    all_ok = all_ok && c.ok;
    report(r);
  }
  if (!all_ok) return;
  for (const Size& s : time_sizes) {
    Row r;
    r.kernel = kernel, r.version = version, r.size = label(s);
    r.checked = r.passed = true;
    r.ms = timed(s, reps);
    r.throughput = work(s) / (r.ms * 1e-3);
    r.unit = unit;
    report(r);
  }
}

// ---- batch-norm ----------------------------------------------------------------------------------

struct BnSize {
  int64_t N, C, S;
};

std::string bn_label(const BnSize& s) {
  return fmt::format("[{}, {}, {}]", s.N, s.C, s.S);
}

void batchnorm_lab(int reps) {
  std::printf("batch-norm (training mode; [N, C, S], float32)\n");
  const std::vector<BnSize> check_sizes = {
      {8, 3, 25}, {1024, 2, 1}, {64, 32, 169}, {1024, 64, 25}, {1024, 128, 1}};
  const std::vector<BnSize> time_sizes = {
      {1024, 32, 169}, {1024, 64, 25}, {1024, 2, 1}, {256, 64, 3136}};
  auto make = [](const BnSize& s, Generator& gen) {
    return host_randn(s.N * s.C * s.S, gen, 2.0, 0.5);
  };
  using Fwd = void (*)(float*, float*, float*, const float*, const float*, const float*, int64_t,
                       int64_t, int64_t, double);
  auto production = [](float* y, float* m, float* inv, const float* x, const float* w,
                       const float* b, int64_t N, int64_t C, int64_t S, double eps) {
    batch_norm_forward_cuda<float>(y, m, inv, x, w, b, nullptr, nullptr, N, C, S, true, 0.1, eps);
  };
  const std::pair<std::string, Fwd> versions[] = {
      {"forward (production)", production},
      {"forward (one block/channel)", batch_norm_forward_one_block_cuda<float>}};
  for (const auto& [name, fwd] : versions) {
    lab<BnSize>(
        "batch_norm", name, check_sizes, time_sizes, bn_label,
        [&, fwd = fwd](const BnSize& s) {
          Generator gen(1);
          const std::vector<float> x = make(s, gen), w = host_randn(s.C, gen),
                                   b = host_randn(s.C, gen);
          std::vector<float> y(x.size()), m(static_cast<size_t>(s.C)), inv(m.size());
          batch_norm_forward_cpu<float>(y.data(), m.data(), inv.data(), x.data(), w.data(),
                                        b.data(), nullptr, nullptr, s.N, s.C, s.S, true, 0.1, 1e-5);
          Tensor xd = dev(x), wd = dev(w), bd = dev(b), yd = dev(y), md = dev(m), invd = dev(inv);
          fwd(fp(yd), fp(md), fp(invd), cfp(xd), cfp(wd), cfp(bd), s.N, s.C, s.S, 1e-5);
          return merge(merge(compare(yd, y, 1e-4, 1e-5), compare(md, m, 1e-5, 1e-6)),
                       compare(invd, inv, 1e-4, 1e-6));
        },
        [&, fwd = fwd](const BnSize& s, int r) {
          Generator gen(1);
          Tensor xd = dev(make(s, gen)),
                 yd = dev(std::vector<float>(static_cast<size_t>(s.N * s.C * s.S)));
          Tensor md = dev(std::vector<float>(static_cast<size_t>(s.C))), invd = md.clone();
          return time_ms(
              [&] {
                fwd(fp(yd), fp(md), fp(invd), cfp(xd), nullptr, nullptr, s.N, s.C, s.S, 1e-5);
              },
              r);
        },
        [](const BnSize& s) { return 3.0 * 4 * static_cast<double>(s.N * s.C * s.S) / 1e9; },
        "GB/s", reps);
  }
  lab<BnSize>(
      "batch_norm", "backward (production)", check_sizes, time_sizes, bn_label,
      [&](const BnSize& s) {
        Generator gen(2);
        const std::vector<float> x = make(s, gen), dy = make(s, gen), w = host_randn(s.C, gen);
        std::vector<float> y(x.size()), m(static_cast<size_t>(s.C)), inv(m.size()), dx(x.size()),
            dw(m.size()), db(m.size());
        batch_norm_forward_cpu<float>(y.data(), m.data(), inv.data(), x.data(), w.data(), nullptr,
                                      nullptr, nullptr, s.N, s.C, s.S, true, 0.1, 1e-5);
        batch_norm_backward_cpu<float>(dx.data(), dw.data(), db.data(), dy.data(), x.data(),
                                       w.data(), m.data(), inv.data(), s.N, s.C, s.S, true);
        Tensor xd = dev(x), dyd = dev(dy), wd = dev(w), md = dev(m), invd = dev(inv), dxd = dev(dx),
               dwd = dev(dw), dbd = dev(db);
        batch_norm_backward_cuda<float>(fp(dxd), fp(dwd), fp(dbd), cfp(dyd), cfp(xd), cfp(wd),
                                        cfp(md), cfp(invd), s.N, s.C, s.S, true);
        return merge(merge(compare(dxd, dx, 1e-4, 1e-4), compare(dwd, dw, 1e-4, 1e-5)),
                     compare(dbd, db, 1e-4, 1e-5));
      },
      [&](const BnSize& s, int r) {
        Generator gen(2);
        Tensor xd = dev(make(s, gen)), dyd = dev(make(s, gen)), dxd = xd.clone();
        Tensor md = dev(std::vector<float>(static_cast<size_t>(s.C), 0.1f));
        Tensor invd = dev(std::vector<float>(static_cast<size_t>(s.C), 1.5f)), dwd = md.clone(),
               dbd = md.clone();
        return time_ms(
            [&] {
              batch_norm_backward_cuda<float>(fp(dxd), fp(dwd), fp(dbd), cfp(dyd), cfp(xd), nullptr,
                                              cfp(md), cfp(invd), s.N, s.C, s.S, true);
            },
            r);
      },
      [](const BnSize& s) { return 5.0 * 4 * static_cast<double>(s.N * s.C * s.S) / 1e9; }, "GB/s",
      reps);
}

// ---- the pairwise critic ----------------------------------------------------------------------------

struct CriticSize {
  int64_t B, H;
};

std::string critic_label(const CriticSize& s) {
  return fmt::format("B {} H {}", s.B, s.H);
}

struct CriticData {
  std::vector<float> u, v, W2, b2, w3, b3;
  CriticData(const CriticSize& s, Generator& gen) {
    const double k = 1.0 / std::sqrt(static_cast<double>(s.H));
    u = host_randn(s.B * s.H, gen);
    v = host_randn(s.B * s.H, gen);
    W2 = host_randn(s.H * s.H, gen, k);
    b2 = host_randn(s.H, gen);
    w3 = host_randn(s.H, gen, k);
    b3 = host_randn(1, gen);
  }
};

struct CriticDevice {
  Tensor u, v, W2, b2, w3, b3;
  explicit CriticDevice(const CriticData& d)
      : u(dev(d.u)), v(dev(d.v)), W2(dev(d.W2)), b2(dev(d.b2)), w3(dev(d.w3)), b3(dev(d.b3)) {}
};

void critic_lab(int reps) {
  std::printf(
      "pairwise critic (S[i,j] = w3 . lrelu(W2 lrelu(u_i + v_j) + b2) + b3; float32, TF32 %s)\n",
      tf32_cuda() ? "on" : "off");
  const std::vector<CriticSize> check_sizes = {{37, 32}, {64, 70}, {256, 256}};
  const double slope = 0.01;
  using Scores = void (*)(float*, const float*, const float*, const float*, const float*,
                          const float*, const float*, const PairwiseShape&);
  const std::pair<std::string, Scores> score_versions[] = {
      {"scores (fused, production)", pairwise_mlp_forward_cuda<float>},
      {"scores (thread per pair)", pairwise_mlp_forward_naive_cuda<float>}};
  for (const auto& [name, scores] : score_versions) {
    const bool naive = name.find("thread") != std::string::npos;
    lab<CriticSize>(
        "pairwise_mlp", name, check_sizes,
        naive ? std::vector<CriticSize>{{256, 256}}
              : std::vector<CriticSize>{{1024, 256}, {4096, 256}},
        critic_label,
        [&, scores = scores](const CriticSize& s) {
          Generator gen(3);
          const CriticData d(s, gen);
          const PairwiseShape shape{s.B, s.B, s.H, slope, 0};
          std::vector<float> S(static_cast<size_t>(s.B * s.B));
          pairwise_mlp_forward_cpu<float>(S.data(), d.u.data(), d.v.data(), d.W2.data(),
                                          d.b2.data(), d.w3.data(), d.b3[0], shape);
          CriticDevice g(d);
          Tensor Sd = dev(S);
          scores(fp(Sd), cfp(g.u), cfp(g.v), cfp(g.W2), cfp(g.b2), cfp(g.w3), cfp(g.b3), shape);
          return compare(Sd, S, 1e-4, 1e-4);
        },
        [&, scores = scores](const CriticSize& s, int r) {
          Generator gen(3);
          CriticDevice g(CriticData(s, gen));
          Tensor Sd = Tensor::empty({s.B, s.B}, DType::f32, Device::cuda());
          const PairwiseShape shape{s.B, s.B, s.H, slope, 0};
          return time_ms(
              [&] {
                scores(fp(Sd), cfp(g.u), cfp(g.v), cfp(g.W2), cfp(g.b2), cfp(g.w3), cfp(g.b3),
                       shape);
              },
              r);
        },
        [](const CriticSize& s) { return 2.0 * s.B * s.B * s.H * s.H / 1e12; }, "TFLOP/s",
        naive ? 2 : reps);
  }
  lab<CriticSize>(
      "pairwise_mlp_infonce", "loss only (fused + row lse)", check_sizes, {{1024, 256}},
      critic_label,
      [&](const CriticSize& s) {
        Generator gen(4);
        const CriticData d(s, gen);
        const PairwiseShape shape{s.B, s.B, s.H, slope, 0};
        std::vector<float> loss(1);
        pairwise_mlp_infonce_cpu<float>(loss.data(), nullptr, nullptr, nullptr, nullptr, nullptr,
                                        nullptr, d.u.data(), d.v.data(), d.W2.data(), d.b2.data(),
                                        d.w3.data(), d.b3[0], shape);
        CriticDevice g(d);
        Tensor ld = dev(loss);
        pairwise_mlp_infonce_loss_fused_cuda<float>(fp(ld), cfp(g.u), cfp(g.v), cfp(g.W2),
                                                    cfp(g.b2), cfp(g.w3), cfp(g.b3), shape);
        return compare(ld, loss, 1e-4, 1e-5);
      },
      [&](const CriticSize& s, int r) {
        Generator gen(4);
        CriticDevice g(CriticData(s, gen));
        Tensor ld = Tensor::empty({1}, DType::f32, Device::cuda());
        const PairwiseShape shape{s.B, s.B, s.H, slope, 0};
        return time_ms(
            [&] {
              pairwise_mlp_infonce_loss_fused_cuda<float>(fp(ld), cfp(g.u), cfp(g.v), cfp(g.W2),
                                                          cfp(g.b2), cfp(g.w3), cfp(g.b3), shape);
            },
            r);
      },
      [](const CriticSize& s) { return 2.0 * s.B * s.B * s.H * s.H / 1e12; }, "TFLOP/s", reps);
  lab<CriticSize>(
      "pairwise_mlp_infonce", "loss + gradients (production)", check_sizes, {{1024, 256}},
      critic_label,
      [&](const CriticSize& s) {
        Generator gen(5);
        const CriticData d(s, gen);
        const PairwiseShape shape{s.B, s.B, s.H, slope, 0};
        std::vector<float> loss(1), du(d.u.size()), dv(d.v.size()), dW2(d.W2.size()),
            db2(d.b2.size()), dw3(d.w3.size()), db3(1);
        pairwise_mlp_infonce_cpu<float>(loss.data(), du.data(), dv.data(), dW2.data(), db2.data(),
                                        dw3.data(), db3.data(), d.u.data(), d.v.data(), d.W2.data(),
                                        d.b2.data(), d.w3.data(), d.b3[0], shape);
        CriticDevice g(d);
        Tensor ld = dev(loss), dud = dev(du), dvd = dev(dv), dW2d = dev(dW2), db2d = dev(db2),
               dw3d = dev(dw3), db3d = dev(db3);
        pairwise_mlp_infonce_cuda<float>(fp(ld), fp(dud), fp(dvd), fp(dW2d), fp(db2d), fp(dw3d),
                                         fp(db3d), cfp(g.u), cfp(g.v), cfp(g.W2), cfp(g.b2),
                                         cfp(g.w3), cfp(g.b3), shape);
        Check c = compare(ld, loss, 1e-4, 1e-5);
        for (auto [a, e] :
             {std::pair{&dud, &du}, {&dvd, &dv}, {&dW2d, &dW2}, {&db2d, &db2}, {&dw3d, &dw3}})
          c = merge(c, compare(*a, *e, 1e-3, 1e-4));
        // db3 = sum of dS is analytically 0 (each row of dS sums to 0), so both values are rounding
        // noise of a sum of B^2 terms of size ~1/B: compare absolutely, within 1e-4.
        const float g3 = db3d.to_vector<float>()[0];
        Check c3;
        c3.max_error = std::fabs(static_cast<double>(g3) - db3[0]) / 1e-4;
        c3.ok = c3.max_error <= 1;
        return merge(c, c3);
      },
      [&](const CriticSize& s, int r) {
        Generator gen(5);
        CriticDevice g(CriticData(s, gen));
        auto like = [](const Tensor& t) {
          return Tensor::empty(t.shape(), DType::f32, Device::cuda());
        };
        Tensor ld = Tensor::empty({1}, DType::f32, Device::cuda()), dud = like(g.u),
               dvd = like(g.v), dW2d = like(g.W2), db2d = like(g.b2), dw3d = like(g.w3),
               db3d = like(g.b3);
        const PairwiseShape shape{s.B, s.B, s.H, slope, 0};
        return time_ms(
            [&] {
              pairwise_mlp_infonce_cuda<float>(fp(ld), fp(dud), fp(dvd), fp(dW2d), fp(db2d),
                                               fp(dw3d), fp(db3d), cfp(g.u), cfp(g.v), cfp(g.W2),
                                               cfp(g.b2), cfp(g.w3), cfp(g.b3), shape);
            },
            r);
      },
      [](const CriticSize& s) { return 3 * 2.0 * s.B * s.B * s.H * s.H / 1e12; }, "TFLOP/s", reps);
}

// ---- NT-Xent ----------------------------------------------------------------------------------------

struct NtXentSize {
  int64_t N, D;
};

// The op's two launchers in a row, as a training step runs them: the loss and lse, then dz for
// dloss = 1. Work: 2 N^2 D flops forward (similarities), 6 N^2 D backward (again, plus two GEMMs).
void ntxent_lab(int reps) {
  std::printf("nt_xent (SimCLR's loss over N = 2B rows of width D; float32, TF32 %s)\n",
              tf32_cuda() ? "on" : "off");
  const double tau = 0.1;
  lab<NtXentSize>(
      "nt_xent", "loss + gradient (production)", {{8, 5}, {100, 64}, {1030, 128}, {4100, 32}},
      {{2048, 128}, {8192, 128}},
      [](const NtXentSize& s) { return fmt::format("N {} D {}", s.N, s.D); },
      [&](const NtXentSize& s) {
        Generator gen(6);
        const std::vector<float> z = host_randn(s.N * s.D, gen);
        const NtXentShape shape{s.N, s.D, tau, 0};
        std::vector<float> loss(1), lse(static_cast<size_t>(s.N)), dz(z.size());
        nt_xent_forward_cpu<float>(loss.data(), lse.data(), z.data(), shape);
        nt_xent_backward_cpu<float>(dz.data(), 1.0f, z.data(), lse.data(), shape);
        Tensor zd = dev(z), ld = dev(loss), lsed = dev(lse), dzd = dev(dz), one = dev({1.0f});
        nt_xent_forward_cuda<float>(fp(ld), fp(lsed), cfp(zd), shape);
        nt_xent_backward_cuda<float>(fp(dzd), cfp(one), cfp(zd), cfp(lsed), shape);
        // Tolerances of tests/cuda/test_parity.cpp's nt_xent cases (gemm: 1e-4 / 1e-4).
        return merge(merge(compare(ld, loss, 1e-4, 1e-4), compare(lsed, lse, 1e-4, 1e-4)),
                     compare(dzd, dz, 1e-4, 1e-4));
      },
      [&](const NtXentSize& s, int r) {
        Generator gen(6);
        Tensor zd = dev(host_randn(s.N * s.D, gen)), one = dev({1.0f});
        Tensor ld = Tensor::empty({1}, DType::f32, Device::cuda());
        Tensor lsed = Tensor::empty({s.N}, DType::f32, Device::cuda());
        Tensor dzd = Tensor::empty({s.N, s.D}, DType::f32, Device::cuda());
        const NtXentShape shape{s.N, s.D, tau, 0};
        return time_ms(
            [&] {
              nt_xent_forward_cuda<float>(fp(ld), fp(lsed), cfp(zd), shape);
              nt_xent_backward_cuda<float>(fp(dzd), cfp(one), cfp(zd), cfp(lsed), shape);
            },
            r);
      },
      [](const NtXentSize& s) { return 8.0 * s.N * s.N * s.D / 1e12; }, "TFLOP/s", reps);
}

// ---- noise ------------------------------------------------------------------------------------------

void noise_lab(int reps) {
  std::printf(
      "noise (Philox4x32-10; element e = word offset + e of the (seed, stream) sequence; "
      "float32)\n");
  const std::vector<int64_t> check_sizes = {1, 4099, int64_t(1) << 20};
  const std::vector<int64_t> time_sizes = {int64_t(1) << 20, int64_t(1) << 26};
  auto label = [](const int64_t& n) { return fmt::format("n {}", n); };
  const uint64_t seed = 2024, stream = 7, offset = 40;
  lab<int64_t>(
      "uniform", "production (bits = CPU's)", check_sizes, time_sizes, label,
      [&](const int64_t& n) {
        std::vector<float> x(static_cast<size_t>(n));
        uniform_cpu<float>(x.data(), n, seed, stream, offset, 0.0f, 1.0f);
        Tensor d = Tensor::empty({n}, DType::f32, Device::cuda());
        uniform_cuda<float>(fp(d), n, seed, stream, offset, 0.0f, 1.0f);
        return compare(d, x, 0, 0);  // exact
      },
      [&](const int64_t& n, int r) {
        Tensor d = Tensor::empty({n}, DType::f32, Device::cuda());
        return time_ms([&] { uniform_cuda<float>(fp(d), n, seed, stream, offset, 0.0f, 1.0f); }, r);
      },
      [](const int64_t& n) { return 4.0 * static_cast<double>(n) / 1e9; }, "GB/s", reps);
  lab<int64_t>(
      "normal", "production (Box-Muller)", check_sizes, time_sizes, label,
      [&](const int64_t& n) {
        std::vector<float> x(static_cast<size_t>(n));
        normal_cpu<float>(x.data(), n, seed, stream, offset, 0.0f, 1.0f);
        Tensor d = Tensor::empty({n}, DType::f32, Device::cuda());
        normal_cuda<float>(fp(d), n, seed, stream, offset, 0.0f, 1.0f);
        return compare(d, x, 1e-5, 1e-6);
      },
      [&](const int64_t& n, int r) {
        Tensor d = Tensor::empty({n}, DType::f32, Device::cuda());
        return time_ms([&] { normal_cuda<float>(fp(d), n, seed, stream, offset, 0.0f, 1.0f); }, r);
      },
      [](const int64_t& n) { return 4.0 * static_cast<double>(n) / 1e9; }, "GB/s", reps);
}

}  // namespace

int main(int argc, char** argv) try {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      NIDIM_CHECK(i + 1 < argc, "{}: missing value", a);
      return argv[++i];
    };
    if (a == "--only")
      o.only = value();
    else if (a == "--reps")
      o.reps = std::stoi(value());
    else if (a == "--json")
      o.json_path = value();
    else
      NIDIM_FAIL("unknown flag {} (--only batchnorm|critic|ntxent|noise, --reps N, --json PATH)",
                 a);
  }
  if (cuda_device_count() == 0) {
    std::printf("kernel_lab: skipped: no CUDA device (cuda_device_count() = 0)\n");
    return 77;
  }
  std::printf("kernel_lab on %s\n", cuda_device_name(0).c_str());
  if (o.only.empty() || o.only == "batchnorm") batchnorm_lab(o.reps);
  if (o.only.empty() || o.only == "critic") critic_lab(o.reps);
  if (o.only.empty() || o.only == "ntxent") ntxent_lab(o.reps);
  if (o.only.empty() || o.only == "noise") noise_lab(o.reps);
  if (!o.json_path.empty()) {
    nlohmann::json j = nlohmann::json::array();
    for (const Row& r : rows)
      j.push_back({{"kernel", r.kernel},
                   {"version", r.version},
                   {"size", r.size},
                   {"passed", r.passed},
                   {"max_error", r.max_error},
                   {"ms", r.ms},
                   {"throughput", r.throughput},
                   {"unit", r.unit}});
    std::FILE* f = std::fopen(o.json_path.c_str(), "w");
    NIDIM_CHECK(f, "--json {}: cannot write", o.json_path);
    std::fprintf(f, "%s\n", j.dump(1).c_str());
    std::fclose(f);
  }
  std::printf("kernel_lab: %s\n", any_failed ? "SOME CHECKS FAILED" : "all checks passed");
  return any_failed ? 1 : 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "kernel_lab: %s\n", e.what());
  return 1;
}
