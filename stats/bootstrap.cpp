// nidim/stats/bootstrap.cpp: see bootstrap.h.
#include "stats/bootstrap.h"

#include "core/parallel.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <unordered_set>

#include "core/error.h"
#include "stats/multivariate.h"
#include "stats/univariate.h"

namespace nidim::stats {

const BootstrapSeries* BootstrapResult::find(const std::string& name) const {
  for (const auto& s : series)
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<double> random_direction(Generator& gen, int64_t d) {
  std::vector<double> u(static_cast<size_t>(d));
  for (;;) {
    double norm2 = 0;
    for (auto& v : u) {
      v = gen.normal();
      norm2 += v * v;
    }
    if (norm2 > 0) {
      const double inv = 1 / std::sqrt(norm2);
      for (auto& v : u) v *= inv;
      return u;
    }
  }
}

std::vector<int64_t> random_subsample(Generator& gen, int64_t n, int64_t m) {
  NIDIM_CHECK(m >= 0 && m <= n, "random_subsample: cannot draw {} of {} rows", m, n);
  // Floyd: for j = n - m .. n - 1, draw t in [0, j]; take t unless already taken, else j.
  std::unordered_set<int64_t> taken;
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(m));
  for (int64_t j = n - m; j < n; ++j) {
    const int64_t t = static_cast<int64_t>(gen.uniform_int(static_cast<uint64_t>(j + 1)));
    const int64_t pick = taken.count(t) ? j : t;
    taken.insert(pick);
    out.push_back(pick);
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct RepOutcome {
  std::vector<double> p;            // one per series
  std::vector<std::string> reason;  // not-applicable reason or note per series
};

}  // namespace

BootstrapResult projection_bootstrap(const double* z, const double* u, int64_t n, int64_t d,
                                     const BootstrapOptions& opt, ProgressFn progress) {
  NIDIM_CHECK(opt.repetitions >= 1, "bootstrap: repetitions must be >= 1, got {}", opt.repetitions);
  NIDIM_CHECK(opt.subsample >= 1, "bootstrap: subsample must be >= 1, got {}", opt.subsample);
  NIDIM_CHECK(d >= 1, "bootstrap: needs at least 1 column");
  for (int64_t i = 0; i < n * d; ++i)
    NIDIM_CHECK(std::isfinite(z[i]), "bootstrap: value {} at row {}, column {} is not finite", z[i],
                i / d, i % d);
  BootstrapResult res;
  std::vector<std::string> names;
  if (opt.dagostino) names.push_back("dagostino");
  if (opt.shapiro) names.push_back("shapiro");
  if (opt.henze_zirkler) names.push_back("henze_zirkler");
  if (opt.mardia) {
    names.push_back("mardia_skewness");
    names.push_back("mardia_kurtosis");
  }
  if (opt.ks_fisher && u) names.push_back("ks_fisher");
  for (const auto& nm : names)
    res.series.push_back(BootstrapSeries{nm, {}, 0, kNaN, kNaN, kNaN, {}, {}});
  if (n < opt.subsample) {
    res.not_applicable = fmt::format("needs at least {} rows for subsamples of {}, got {}",
                                     opt.subsample, opt.subsample, n);
    for (auto& s : res.series) s.not_applicable = res.not_applicable;
    return res;
  }
  const int64_t b = opt.repetitions, m = opt.subsample, ns = static_cast<int64_t>(names.size());
  std::vector<RepOutcome> reps(static_cast<size_t>(b));
  // Scratch per worker of the pool (core/parallel.h); repetition r's randomness comes from its
  // own Philox stream, so who runs it does not matter.
  struct Scratch {
    std::vector<double> zsub, usub, proj, col, colp;
  };
  std::vector<Scratch> scratch(static_cast<size_t>(parallel_workers(b)));
  for (Scratch& s : scratch) {
    s.zsub.resize(static_cast<size_t>(m * d));
    s.proj.resize(static_cast<size_t>(m));
    s.col.resize(static_cast<size_t>(m));
    s.colp.resize(static_cast<size_t>(d));
    if (u) s.usub.resize(static_cast<size_t>(m * d));
  }
  parallel_for_each(
      b,
      [&](int64_t r, int64_t w) {
        if (opt.cancel && opt.cancel->load(std::memory_order_relaxed)) return;
        std::vector<double>& zsub = scratch[static_cast<size_t>(w)].zsub;
        std::vector<double>& usub = scratch[static_cast<size_t>(w)].usub;
        std::vector<double>& proj = scratch[static_cast<size_t>(w)].proj;
        std::vector<double>& col = scratch[static_cast<size_t>(w)].col;
        std::vector<double>& colp = scratch[static_cast<size_t>(w)].colp;
        Generator gen(opt.seed, static_cast<uint64_t>(r));
        const std::vector<double> dir = random_direction(gen, d);
        const std::vector<int64_t> rows = random_subsample(gen, n, m);
        for (int64_t i = 0; i < m; ++i) {
          std::copy(z + rows[i] * d, z + (rows[i] + 1) * d, zsub.begin() + i * d);
          if (u) std::copy(u + rows[i] * d, u + (rows[i] + 1) * d, usub.begin() + i * d);
          double s = 0;
          for (int64_t c = 0; c < d; ++c) s += zsub[i * d + c] * dir[c];
          proj[i] = s;
        }
        RepOutcome& out = reps[r];
        auto push = [&](const TestResult& t) {
          const bool ok = t.applicable() && std::isfinite(t.pvalue);
          out.p.push_back(ok ? t.pvalue : kNaN);
          out.reason.push_back(
              ok ? t.note : (t.applicable() ? "p-value is not a finite number" : t.not_applicable));
        };
        if (opt.dagostino) push(normaltest(proj.data(), m));
        if (opt.shapiro) push(shapiro_wilk(proj.data(), m));
        if (opt.henze_zirkler) push(henze_zirkler(zsub.data(), m, d).test);
        if (opt.mardia) {
          const MardiaResult mr = mardia(zsub.data(), m, d);
          push(mr.skewness);
          push(mr.kurtosis);
        }
        if (opt.ks_fisher && u) {
          for (int64_t c = 0; c < d; ++c) {
            for (int64_t i = 0; i < m; ++i) col[i] = usub[i * d + c];
            colp[c] = ks_uniform(col.data(), m).pvalue;
          }
          push(fisher_combine(colp.data(), d));
        }
      },
      [&](int64_t done) {
        if (progress) progress(done, b);
      });
  if (opt.cancel && opt.cancel->load()) {
    res.not_applicable = "cancelled";
    return res;  // skipped repetitions hold no p-values
  }
  if (progress) progress(b, b);

  // Summaries in repetition order (deterministic).
  for (int64_t k = 0; k < ns; ++k) {
    BootstrapSeries& s = res.series[k];
    s.pvalues.resize(static_cast<size_t>(b));
    double sum = 0, below = 0;
    std::string first_na;
    for (int64_t r = 0; r < b; ++r) {
      const double p = reps[r].p[k];
      s.pvalues[r] = p;
      if (std::isnan(p)) {
        if (first_na.empty()) first_na = reps[r].reason[k];
        continue;
      }
      if (s.note.empty() && !reps[r].reason[k].empty()) s.note = reps[r].reason[k];
      ++s.applicable;
      sum += p;
      below += p < 0.05 ? 1 : 0;
    }
    if (s.applicable == 0) {
      s.not_applicable = first_na;
      continue;
    }
    if (s.note.empty() && !first_na.empty())
      s.note =
          fmt::format("{} of {} repetitions not applicable: {}", b - s.applicable, b, first_na);
    s.mean_pvalue = sum / s.applicable;
    double ss = 0;
    for (int64_t r = 0; r < b; ++r)
      if (!std::isnan(s.pvalues[r]))
        ss += (s.pvalues[r] - s.mean_pvalue) * (s.pvalues[r] - s.mean_pvalue);
    s.std_pvalue = std::sqrt(ss / s.applicable);
    s.fraction_below_005 = below / s.applicable;
  }
  return res;
}

}  // namespace nidim::stats
