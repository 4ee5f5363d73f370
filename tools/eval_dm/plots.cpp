// nidim/tools/eval_dm/plots.cpp: see plots.h.
#include "tools/eval_dm/plots.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "core/random.h"
#include "stats/special.h"
#include "tools/common/plot.h"

namespace nidim::eval_dm {

namespace st = nidim::stats;
using tools::Axes;
using tools::Figure;
using tools::Rgb;

namespace {

constexpr uint64_t kStreamPlots = (uint64_t{1} << 40) + 200;
constexpr double kFigureTitleSize = 11;

double quantile_sorted(const std::vector<double>& v, double q) {
  if (v.empty()) return 0.0;
  const double pos = q * (v.size() - 1);
  const size_t i = static_cast<size_t>(pos);
  const double f = pos - i;
  return i + 1 < v.size() ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

// Range of the prior's marginal holding all but `tail` of its mass on each side.
std::pair<double, double> prior_range(st::Prior p, double tail) {
  return {st::prior_quantile(p, tail), st::prior_quantile(p, 1 - tail)};
}

// A panel's title, saying how many values fall outside the drawn range (they are not shown).
std::string titled(const std::string& title, const std::vector<double>& v, double lo, double hi) {
  const int64_t off = std::count_if(v.begin(), v.end(), [&](double x) { return x < lo || x > hi; });
  return off == 0 ? title : fmt::format("{} ({} off the chart)", title, off);
}

}  // namespace

std::vector<std::string> plot_scatter(const PlotOutput& out, const std::string& set_name,
                                      const double* y, int64_t n,
                                      const std::vector<int64_t>& labels, st::Prior prior,
                                      uint64_t seed) {
  Generator g(seed, kStreamPlots);
  const int64_t shown = std::min<int64_t>(n, 20000);
  std::vector<int64_t> rows;
  if (shown < n) {
    rows = st::random_subsample(g, n, shown);
  } else {
    for (int64_t i = 0; i < n; ++i) rows.push_back(i);
  }
  std::vector<double> xs, ys, sx, sy;
  for (int64_t i : rows) {
    xs.push_back(y[i * 2]);
    ys.push_back(y[i * 2 + 1]);
  }
  sx = xs;
  sy = ys;
  std::sort(sx.begin(), sx.end());
  std::sort(sy.begin(), sy.end());
  const auto pr = prior_range(prior, 0.005);
  double x0 = std::min(quantile_sorted(sx, 0.005), pr.first),
         x1 = std::max(quantile_sorted(sx, 0.995), pr.second);
  double y0 = std::min(quantile_sorted(sy, 0.005), pr.first),
         y1 = std::max(quantile_sorted(sy, 0.995), pr.second);
  const double px = 0.08 * (x1 - x0), py = 0.08 * (y1 - y0);
  x0 -= px;
  x1 += px;
  y0 -= py;
  y1 += py;
  // Equal scales on both axes (circles stay circles): widen the narrower range.
  constexpr double kBoxW = 420, kBoxH = 360;
  const double per_px = std::max((x1 - x0) / kBoxW, (y1 - y0) / kBoxH);
  const double cx = 0.5 * (x0 + x1), cy = 0.5 * (y0 + y1);
  x0 = cx - 0.5 * per_px * kBoxW;
  x1 = cx + 0.5 * per_px * kBoxW;
  y0 = cy - 0.5 * per_px * kBoxH;
  y1 = cy + 0.5 * per_px * kBoxH;

  Figure fig(500, 470);
  Axes ax = fig.axes(55, 45, kBoxW, kBoxH);
  ax.set_limits(x0, x1, y0, y1);
  ax.decorate(fmt::format("{} embeddings (n = {}{}) over the {} prior", set_name, n,
                          shown < n ? fmt::format(", {} shown", shown) : "", st::prior_name(prior)),
              "y1", "y2");
  // Classes: colour by label, in sorted label order.
  std::map<int64_t, int> index;
  if (!labels.empty())
    for (int64_t i : rows) index.emplace(labels[i], 0);
  int k = 0;
  for (auto& e : index) e.second = k++;
  std::vector<Rgb> colours;
  for (int64_t i : rows)
    colours.push_back(labels.empty() ? tools::palette(0) : tools::palette(index[labels[i]]));
  ax.scatter(xs, ys, colours, shown > 5000 ? 0.8 : 1.25, shown > 5000 ? 0.35 : 0.6);
  // The prior: contours of the product density enclosing 39%, 86% and 99% of the mass (found by
  // Monte Carlo: the level below which that fraction of prior draws' densities lies), or the
  // unit square's edges for the uniform prior.
  const Rgb ink{30, 30, 30};
  if (prior == st::Prior::kUniform) {
    ax.curve({0, 1, 1, 0, 0}, {0, 0, 1, 1, 0}, ink, 1.0);
  } else {
    Generator gp(seed, kStreamPlots + 1);
    const std::vector<double> draws = st::sample_prior(prior, gp, 2 * 20000);
    std::vector<double> dens;
    for (size_t i = 0; i + 1 < draws.size(); i += 2)
      dens.push_back(st::prior_pdf(prior, draws[i]) * st::prior_pdf(prior, draws[i + 1]));
    std::sort(dens.begin(), dens.end());
    std::vector<double> levels;
    for (double mass : {0.39, 0.86, 0.99}) levels.push_back(quantile_sorted(dens, 1 - mass));
    ax.contour(
        [&](double a, double b) { return st::prior_pdf(prior, a) * st::prior_pdf(prior, b); },
        levels, ink, 240, 240, 0.75);
  }
  std::vector<std::string> names;
  std::vector<Rgb> lc;
  for (const auto& e : index) {
    if (names.size() == 12) {
      names.push_back("...");
      lc.push_back(tools::kWhite);
      break;
    }
    names.push_back(fmt::format("class {}", e.first));
    lc.push_back(tools::palette(e.second));
  }
  ax.legend(names, lc);
  fig.text(55, 450,
           prior == st::Prior::kUniform ? "black: the unit square"
                                        : "black: prior density contours enclosing 39%, 86%, 99%",
           Axes::kTickSize, tools::kGrey);
  return fig.save(out.dir, "scatter_" + set_name, out.formats);
}

std::vector<std::string> plot_projections(const PlotOutput& out, const std::string& set_name,
                                          const double* z, int64_t n, int64_t d, uint64_t seed) {
  Generator g(seed, kStreamPlots + 2);
  constexpr int kPanels = 4;
  std::vector<std::vector<double>> proj(kPanels);
  for (int p = 0; p < kPanels; ++p) {
    const std::vector<double> u = st::random_direction(g, d);
    proj[p].resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int64_t c = 0; c < d; ++c) s += z[i * d + c] * u[c];
      proj[p][i] = s;
    }
    std::sort(proj[p].begin(), proj[p].end());
  }
  const Rgb blue = tools::palette(0), red = tools::palette(3);
  // Histograms against the N(0, 1) density.
  Figure fh(700, 550), fq(700, 550);
  for (int p = 0; p < kPanels; ++p) {
    const double left = 55 + (p % 2) * 340, top = 55 + (p / 2) * 260;
    Axes ax = fh.axes(left, top, 280, 190);
    const double lo = -4.5, hi = 4.5;
    constexpr int bins = 60;
    const std::vector<double> h = tools::histogram_counts(proj[p], lo, hi, bins, true);
    std::vector<double> edges;
    for (int b = 0; b <= bins; ++b) edges.push_back(lo + (hi - lo) * b / bins);
    ax.set_limits(lo, hi, 0, std::max(0.5, *std::max_element(h.begin(), h.end()) * 1.1));
    ax.decorate(titled(fmt::format("random projection {}", p + 1), proj[p], lo, hi),
                "u \u00b7 \u03a6\u207b\u00b9(F(y))", "density");
    ax.histogram(edges, h, blue, 0.6);
    std::vector<double> xs, ys;
    for (int i = 0; i <= 300; ++i) {
      xs.push_back(lo + (hi - lo) * i / 300);
      ys.push_back(st::normal_pdf(xs.back()));
    }
    ax.curve(xs, ys, red, 1.25);
    // Q-Q: at most 2000 sample quantiles against N(0, 1) quantiles (i + 1/2)/n.
    Axes aq = fq.axes(left, top, 280, 190);
    const double qlo = std::min(-4.0, proj[p].front()), qhi = std::max(4.0, proj[p].back());
    const double ylo = std::max(qlo, -8.0), yhi = std::min(qhi, 8.0);
    aq.set_limits(-4.2, 4.2, ylo, yhi);
    std::vector<double> tx, sy;
    const int64_t pts = std::min<int64_t>(n, 2000);
    for (int64_t k = 0; k < pts; ++k) {
      const int64_t i = pts == n ? k : (k * (n - 1)) / (pts - 1);
      tx.push_back(st::normal_ppf((i + 0.5) / n));
      sy.push_back(proj[p][i]);
    }
    aq.decorate(titled(fmt::format("Q-Q, random projection {}", p + 1), sy, ylo, yhi),
                "N(0,1) quantile", "sample quantile");
    aq.segment(-4.2, -4.2, 4.2, 4.2, red, 1.0);
    aq.scatter(tx, sy, {blue}, 1.1, 0.7);
  }
  fh.text(
      55, 12,
      fmt::format("{} embeddings (n = {}): random projections against N(0,1), red", set_name, n),
      kFigureTitleSize);
  fq.text(55, 12,
          fmt::format("{} embeddings (n = {}): Q-Q against N(0,1); red: y = x", set_name, n),
          kFigureTitleSize);
  std::vector<std::string> names = fh.save(out.dir, "projections", out.formats);
  for (const std::string& f : fq.save(out.dir, "qq", out.formats)) names.push_back(f);
  return names;
}

std::vector<std::string> plot_marginals(const PlotOutput& out, const std::string& set_name,
                                        const double* y, int64_t n, int64_t d, st::Prior prior) {
  const int panels = static_cast<int>(std::min<int64_t>(d, 4));
  Figure fig(700, panels > 2 ? 550 : 300);
  // Bins over the prior's central 99.8% plus a margin (uniform: exactly [0, 1], so that no bin
  // straddles an edge of the support); the axis a little wider.
  auto range = prior_range(prior, 0.001);
  const bool uniform = prior == st::Prior::kUniform;
  const double pad = uniform ? 0.0 : 0.1 * (range.second - range.first);
  const double lo = range.first - pad, hi = range.second + pad;
  const double ax_lo = uniform ? -0.05 : lo, ax_hi = uniform ? 1.05 : hi;
  for (int p = 0; p < panels; ++p) {
    std::vector<double> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[i] = y[i * d + p];
    constexpr int bins = 60;
    const std::vector<double> h = tools::histogram_counts(v, lo, hi, bins, true);
    std::vector<double> edges, xs, ys;
    for (int b = 0; b <= bins; ++b) edges.push_back(lo + (hi - lo) * b / bins);
    for (int i = 0; i <= 400; ++i) {
      xs.push_back(ax_lo + (ax_hi - ax_lo) * i / 400);
      ys.push_back(st::prior_pdf(prior, xs.back()));
    }
    const double top_y =
        std::max(*std::max_element(h.begin(), h.end()), *std::max_element(ys.begin(), ys.end()));
    Axes ax = fig.axes(55 + (p % 2) * 340, 55 + (p / 2) * 260, 280, 190);
    ax.set_limits(ax_lo, ax_hi, 0, top_y * 1.1);
    ax.decorate(titled(fmt::format("coordinate {}", p), v, lo, hi), "y", "density");
    ax.histogram(edges, h, tools::palette(0), 0.6);
    ax.curve(xs, ys, tools::palette(3), 1.25);
  }
  fig.text(55, 12,
           fmt::format("{} embeddings (n = {}): coordinates against the {} prior density, red",
                       set_name, n, st::prior_name(prior)),
           kFigureTitleSize);
  return fig.save(out.dir, "marginals", out.formats);
}

std::vector<std::string> plot_bootstrap_pvalues(
    const PlotOutput& out,
    const std::vector<std::pair<std::string, const st::BootstrapResult*>>& results) {
  const st::BootstrapResult& first = *results[0].second;
  const int panels = static_cast<int>(first.series.size());
  const int rows = (panels + 1) / 2;
  Figure fig(700, 55 + rows * 240);
  for (int p = 0; p < panels; ++p) {
    Axes ax = fig.axes(55 + (p % 2) * 340, 55 + (p / 2) * 240, 280, 170);
    constexpr int bins = 20;
    std::vector<double> edges;
    for (int b = 0; b <= bins; ++b) edges.push_back(static_cast<double>(b) / bins);
    double top_y = 2.0;
    std::vector<std::vector<double>> hs;
    std::string title = first.series[p].name + ": mean p";
    for (const auto& [name, res] : results) {
      const st::BootstrapSeries& s = res->series[p];
      std::vector<double> pv;
      for (double v : s.pvalues)
        if (!std::isnan(v)) pv.push_back(v);
      hs.push_back(tools::histogram_counts(pv, 0.0, 1.0, bins, true));
      for (double v : hs.back()) top_y = std::max(top_y, v * 1.05);
      title += s.applicable > 0 ? fmt::format(" {} {:.3f}", name, s.mean_pvalue)
                                : fmt::format(" {} n/a", name);
    }
    ax.set_limits(0, 1, 0, top_y);
    ax.decorate(title, "p-value", "density");
    for (size_t k = 0; k < hs.size(); ++k)
      ax.histogram(edges, hs[k], tools::palette(static_cast<int64_t>(k)), 0.45);
    ax.hline(1.0, tools::kBlack, true, "uniform");
    if (p == 0) {
      std::vector<std::string> names;
      std::vector<Rgb> cols;
      for (size_t k = 0; k < results.size(); ++k) {
        names.push_back(results[k].first);
        cols.push_back(tools::palette(static_cast<int64_t>(k)));
      }
      ax.legend(names, cols);
    }
  }
  fig.text(55, 12, "bootstrap p-values per repetition (uniform under the null: dashed line)",
           kFigureTitleSize);
  return fig.save(out.dir, "bootstrap_pvalues", out.formats);
}

}  // namespace nidim::eval_dm
