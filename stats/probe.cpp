// nidim/stats/probe.cpp: see probe.h.
//
// Both probes compute dot products with pairwise.h's dot_tile on column-major copies (a few
// query rows against a run of up to kTileCols reference rows); dot_tile sums over the feature
// index in increasing order for every element, so a logit or a similarity has the same bits for
// every thread count (a build with -march=native may fuse its products into FMAs).
#include "stats/probe.h"

#include "core/parallel.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "core/error.h"
#include "core/random.h"
#include "stats/pairwise.h"

namespace nidim::stats {

namespace {

// A training step is split over the thread pool only when B x K x D reaches this: below it a
// parallel region costs more than it saves on shared cores (a 256 x 512 x 10 step, 1.3e6
// multiply-adds, is ~0.5 ms on one core).
constexpr int64_t kProbeParallelWork = int64_t{1} << 23;

void check_features(const char* what, const double* x, int64_t n, int64_t d) {
  NIDIM_CHECK(n >= 1 && d >= 1, "{}: empty features ({} x {})", what, n, d);
  for (int64_t i = 0; i < n * d; ++i)
    NIDIM_CHECK(std::isfinite(x[i]), "{}: feature {} at row {}, column {} is not finite", what,
                x[i], i / d, i % d);
}

void check_codes(const char* what, const int64_t* y, int64_t n, int64_t k) {
  NIDIM_CHECK(k >= 2, "{}: needs at least 2 classes, got {}", what, k);
  for (int64_t i = 0; i < n; ++i)
    NIDIM_CHECK(y[i] >= 0 && y[i] < k, "{}: label code {} at row {} is not in [0, {})", what, y[i],
                i, k);
}

// Logits of nb <= kTileCols rows: out[t * K + c] = b[c] + sum_f x(t, f) w(c, f), where row t is
// x + rows[t] * D (rows null: row t itself). wcol: W column-major (D x K); xcol: scratch D x nb;
// acc: scratch kTileRows x kTileCols.
void logits_block(const double* wcol, const double* b, int64_t k, int64_t d, const double* x,
                  const int64_t* rows, int64_t nb, double* xcol, double* acc, double* out) {
  for (int64_t t = 0; t < nb; ++t) {
    const double* xt = x + (rows ? rows[t] : t) * d;
    for (int64_t f = 0; f < d; ++f) xcol[f * nb + t] = xt[f];
  }
  for (int64_t c0 = 0; c0 < k; c0 += kTileRows) {
    const int cls = static_cast<int>(std::min<int64_t>(kTileRows, k - c0));
    dot_tile(wcol, k, c0, cls, xcol, nb, 0, nb, d, acc);
    for (int r = 0; r < cls; ++r)
      for (int64_t t = 0; t < nb; ++t) out[t * k + c0 + r] = b[c0 + r] + acc[r * kTileCols + t];
  }
}

std::vector<double> transpose(const std::vector<double>& w, int64_t k, int64_t d) {
  std::vector<double> wcol(static_cast<size_t>(k * d));
  for (int64_t c = 0; c < k; ++c)
    for (int64_t f = 0; f < d; ++f) wcol[f * k + c] = w[c * d + f];
  return wcol;
}

// In place: logits -> softmax probabilities of one row; returns log-sum-exp.
double softmax_row(double* v, int64_t k) {
  const double mx = *std::max_element(v, v + k);
  double s = 0;
  for (int64_t c = 0; c < k; ++c) s += std::exp(v[c] - mx);
  const double lse = mx + std::log(s);
  for (int64_t c = 0; c < k; ++c) v[c] = std::exp(v[c] - lse);
  return lse;
}

}  // namespace

// ---- top-k accuracy -----------------------------------------------------------------------------

TopKAccuracy topk_accuracy(const double* scores, int64_t n, int64_t k_classes, const int64_t* y,
                           int64_t top_k) {
  NIDIM_CHECK(n >= 1 && k_classes >= 1 && top_k >= 1, "topk_accuracy: {} rows, {} classes, k = {}",
              n, k_classes, top_k);
  TopKAccuracy r;
  r.k = std::min(top_k, k_classes);
  r.predicted.assign(static_cast<size_t>(n), 0);
  int64_t hit1 = 0, hitk = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double* s = scores + i * k_classes;
    int64_t best = 0;
    for (int64_t c = 1; c < k_classes; ++c)
      if (s[c] > s[best]) best = c;  // equal scores: the smaller class stays first
    r.predicted[i] = best;
    if (y[i] < 0) continue;
    // The rank of the true class: classes scored higher, or equal and smaller.
    int64_t rank = 0;
    for (int64_t c = 0; c < k_classes; ++c)
      rank += (s[c] > s[y[i]] || (s[c] == s[y[i]] && c < y[i])) ? 1 : 0;
    hit1 += rank == 0 ? 1 : 0;
    hitk += rank < r.k ? 1 : 0;
  }
  r.top1 = static_cast<double>(hit1) / static_cast<double>(n);
  r.topk = static_cast<double>(hitk) / static_cast<double>(n);
  return r;
}

// ---- linear probe -------------------------------------------------------------------------------

double LinearProbeOptions::epoch_lr(int64_t epoch) const {
  const double pi = 3.14159265358979323846;
  return scaled_lr() * 0.5 *
         (1.0 + std::cos(pi * static_cast<double>(epoch) / static_cast<double>(epochs)));
}

std::vector<double> LinearProbeModel::logits(const double* x, int64_t n) const {
  const std::vector<double> wcol = transpose(w, k, d);
  std::vector<double> out(static_cast<size_t>(n * k));
  const int64_t nblocks = (n + kTileCols - 1) / kTileCols;
  parallel_blocks(nblocks, [&](int64_t blk) {
    const int64_t t0 = blk * kTileCols, nb = std::min(kTileCols, n - t0);
    std::vector<double> xcol(static_cast<size_t>(nb * d)), acc(kTileRows * kTileCols);
    logits_block(wcol.data(), b.data(), k, d, x + t0 * d, nullptr, nb, xcol.data(), acc.data(),
                 out.data() + t0 * k);
  });
  return out;
}

LinearProbeModel init_linear_probe(int64_t d, int64_t k, uint64_t seed) {
  NIDIM_CHECK(d >= 1 && k >= 1, "linear probe: cannot make a {} x {} layer", k, d);
  LinearProbeModel m;
  m.d = d;
  m.k = k;
  Generator gen(seed, 0);
  const double bound = 1.0 / std::sqrt(static_cast<double>(d));
  m.w.resize(static_cast<size_t>(k * d));
  m.b.resize(static_cast<size_t>(k));
  // 2u - 1 is exact, so each value is one rounding of a product (no contraction into an FMA
  // can change it; the fixture script computes it the same way).
  for (double& v : m.w) v = bound * (2 * gen.uniform() - 1);
  for (double& v : m.b) v = bound * (2 * gen.uniform() - 1);
  return m;
}

LinearProbeModel fit_linear_probe(const double* x, int64_t n, int64_t d, const int64_t* y,
                                  int64_t k, const LinearProbeOptions& opt,
                                  const LinearProbeModel* init, ProgressFn progress) {
  check_features("linear probe (train)", x, n, d);
  check_codes("linear probe (train)", y, n, k);
  NIDIM_CHECK(opt.epochs >= 1 && opt.batch_size >= 1,
              "linear probe: epochs ({}) and batch size ({}) must be >= 1", opt.epochs,
              opt.batch_size);
  NIDIM_CHECK(std::isfinite(opt.lr) && opt.lr > 0 && opt.momentum >= 0 && opt.momentum < 1 &&
                  opt.weight_decay >= 0 && std::isfinite(opt.weight_decay),
              "linear probe: needs lr > 0 (got {}), momentum in [0, 1) (got {}) and weight decay "
              ">= 0 (got {})",
              opt.lr, opt.momentum, opt.weight_decay);
  LinearProbeModel m = init ? *init : init_linear_probe(d, k, opt.seed);
  NIDIM_CHECK(m.d == d && m.k == k && static_cast<int64_t>(m.w.size()) == k * d &&
                  static_cast<int64_t>(m.b.size()) == k,
              "linear probe: the initial layer is {} x {}, the data needs {} x {}", m.k, m.d, k, d);
  m.loss_curve.clear();
  const int64_t bs = std::min(opt.batch_size, n);
  const double mu = opt.momentum, wd = opt.weight_decay;
  std::vector<double> buf_w(m.w.size(), 0.0), buf_b(m.b.size(), 0.0);
  std::vector<double> gw(m.w.size()), gb(m.b.size());
  std::vector<double> xcol(static_cast<size_t>(std::min(bs, kTileCols) * d));
  std::vector<double> acc(kTileRows * kTileCols), p(static_cast<size_t>(bs * k));
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  Generator shuffler(opt.seed, 1);
  bool first_step = true;
  for (int64_t epoch = 0; epoch < opt.epochs; ++epoch) {
    if (opt.shuffle)  // Fisher-Yates
      for (int64_t i = n - 1; i > 0; --i)
        std::swap(order[i], order[shuffler.uniform_int(static_cast<uint64_t>(i + 1))]);
    const double lr = opt.epoch_lr(epoch);
    double epoch_loss = 0;
    for (int64_t start = 0; start < n; start += bs) {
      const int64_t nb = std::min(bs, n - start);
      const int64_t* rows = order.data() + start;
      const bool par = nb * k * d >= kProbeParallelWork;
      // Forward: p = softmax(x W^T + b), in tiles of kTileCols rows.
      const std::vector<double> wcol = transpose(m.w, k, d);
      for (int64_t t0 = 0; t0 < nb; t0 += kTileCols)
        logits_block(wcol.data(), m.b.data(), k, d, x, rows + t0, std::min(kTileCols, nb - t0),
                     xcol.data(), acc.data(), p.data() + t0 * k);
      // Loss and dL/dlogits = (p - onehot) / B, per row in order.
      const double inv = 1.0 / static_cast<double>(nb);
      for (int64_t t = 0; t < nb; ++t) {
        double* pt = p.data() + t * k;
        const int64_t yt = y[rows[t]];
        const double logit_y = pt[yt];
        epoch_loss += softmax_row(pt, k) - logit_y;  // -log p_y = lse - logit_y
        pt[yt] -= 1.0;
        for (int64_t c = 0; c < k; ++c) pt[c] *= inv;
      }
      // Gradients: gW[c, :] = sum_t delta(t, c) x(t, :) + wd W[c, :] (rows t in order; classes
      // split over threads when the step is large), gb[c] = sum_t delta(t, c).
      parallel_for(k, par ? 1 : k, [&](int64_t c_lo, int64_t c_hi) {
        for (int64_t c = c_lo; c < c_hi; ++c) {
          double* g = gw.data() + c * d;
          std::fill(g, g + d, 0.0);
          double sb = 0;
          for (int64_t t = 0; t < nb; ++t) {
            const double a = p[t * k + c];
            sb += a;
            const double* xt = x + rows[t] * d;
            for (int64_t f = 0; f < d; ++f) g[f] += a * xt[f];
          }
          gb[c] = sb;
          const double* wc = m.w.data() + c * d;
          if (wd != 0)
            for (int64_t f = 0; f < d; ++f) g[f] += wd * wc[f];
        }
      });
      // torch.optim.SGD (dampening 0): buf = mu buf + g (g at the first step);
      // step = g + mu buf (Nesterov) or buf.
      auto update = [&](std::vector<double>& param, std::vector<double>& buf,
                        const std::vector<double>& grad) {
        for (size_t j = 0; j < param.size(); ++j) {
          buf[j] = first_step ? grad[j] : mu * buf[j] + grad[j];
          const double step = opt.nesterov ? grad[j] + mu * buf[j] : buf[j];
          param[j] -= lr * step;
        }
      };
      update(m.w, buf_w, gw);
      update(m.b, buf_b, gb);
      first_step = false;
    }
    m.loss_curve.push_back(epoch_loss / static_cast<double>(n));
    NIDIM_CHECK(std::isfinite(m.loss_curve.back()),
                "linear probe: the loss is not finite after epoch {} (lr {} too large for these "
                "features?)",
                epoch + 1, opt.scaled_lr());
    if (progress) progress(epoch + 1, opt.epochs);
  }
  return m;
}

// ---- weighted kNN -------------------------------------------------------------------------------

KnnProbeResult knn_probe(const double* train, int64_t n_train, int64_t d, const int64_t* train_y,
                         int64_t k_classes, const double* test, int64_t n_test,
                         const KnnProbeOptions& opt, ProgressFn progress) {
  check_features("knn probe (train)", train, n_train, d);
  check_features("knn probe (test)", test, n_test, d);
  check_codes("knn probe (train)", train_y, n_train, k_classes);
  NIDIM_CHECK(opt.k >= 1, "knn probe: k = {} must be >= 1", opt.k);
  NIDIM_CHECK(opt.temperature > 0 && std::isfinite(opt.temperature),
              "knn probe: temperature {} must be a positive number", opt.temperature);
  // Normalized column-major copies (D x N), as F.normalize(x, dim=1): x / max(|x|, 1e-12).
  auto normalized_columns = [d](const double* x, int64_t n) {
    std::vector<double> col(static_cast<size_t>(n * d));
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int64_t f = 0; f < d; ++f) s += x[i * d + f] * x[i * d + f];
      const double inv = 1.0 / std::max(std::sqrt(s), 1e-12);
      for (int64_t f = 0; f < d; ++f) col[f * n + i] = x[i * d + f] * inv;
    }
    return col;
  };
  const std::vector<double> tr = normalized_columns(train, n_train),
                            te = normalized_columns(test, n_test);
  KnnProbeResult res;
  const int64_t kk = std::min(opt.k, n_train);
  res.neighbors = kk;
  res.scores.assign(static_cast<size_t>(n_test * k_classes), 0.0);
  // Nearer: higher similarity, or equal similarity and smaller index. As a heap comparator the
  // front is the farthest of the kept neighbours.
  using Neighbour = std::pair<double, int64_t>;  // (similarity, train row)
  auto nearer = [](const Neighbour& a, const Neighbour& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  const int64_t nblocks = (n_test + kBlockRows - 1) / kBlockRows;
  parallel_blocks(
      nblocks,
      [&](int64_t blk) {
        const int64_t j_begin = blk * kBlockRows, j_end = std::min(n_test, (blk + 1) * kBlockRows);
        std::vector<std::vector<Neighbour>> kept(static_cast<size_t>(j_end - j_begin));
        for (auto& h : kept) h.reserve(static_cast<size_t>(kk));
        std::vector<double> acc(kTileRows * kTileCols);
        // Train tiles outer: one tile stays in cache while every test row of the block uses it.
        for (int64_t k0 = 0; k0 < n_train; k0 += kTileCols) {
          const int64_t len = std::min(kTileCols, n_train - k0);
          for (int64_t j0 = j_begin; j0 < j_end; j0 += kTileRows) {
            const int rows = static_cast<int>(std::min<int64_t>(kTileRows, j_end - j0));
            dot_tile(te.data(), n_test, j0, rows, tr.data(), n_train, k0, len, d, acc.data());
            for (int r = 0; r < rows; ++r) {
              std::vector<Neighbour>& h = kept[j0 + r - j_begin];
              const double* s = acc.data() + r * kTileCols;
              for (int64_t t = 0; t < len; ++t) {
                const Neighbour cand{s[t], k0 + t};
                if (static_cast<int64_t>(h.size()) < kk) {
                  h.push_back(cand);
                  std::push_heap(h.begin(), h.end(), nearer);
                } else if (nearer(cand, h.front())) {
                  std::pop_heap(h.begin(), h.end(), nearer);
                  h.back() = cand;
                  std::push_heap(h.begin(), h.end(), nearer);
                }
              }
            }
          }
        }
        // Scores: exp(s / T) summed per class, nearest first.
        for (int64_t i = j_begin; i < j_end; ++i) {
          std::vector<Neighbour>& h = kept[i - j_begin];
          std::sort(h.begin(), h.end(), nearer);
          double* sc = res.scores.data() + i * k_classes;
          for (const Neighbour& nb : h)
            sc[train_y[nb.second]] += std::exp(nb.first / opt.temperature);
        }
      },
      progress);
  return res;
}

}  // namespace nidim::stats
