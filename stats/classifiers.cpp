// nidim/stats/classifiers.cpp: see classifiers.h.
//
// Parallel work is split so that every output number is computed by one thread in a fixed
// order: per-row quantities (decisions, probabilities, residuals, activations) by row, gradient
// matrices by blocks of their columns summing over all rows in row order, losses as per-chunk
// partial sums added in chunk order. Hence no result depends on the number of threads.
#include "stats/classifiers.h"

#include "core/parallel.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "core/random.h"
#include "stats/pairwise.h"

namespace nidim::stats {

namespace {

constexpr int64_t kRowChunk = 512;  // rows per chunk of a loss sum
constexpr int64_t kColBlock = 16;   // gradient columns per parallel task
// Below this many multiply-adds a loop runs on one thread: starting a parallel region costs
// microseconds, and far more when the cores are shared with other work.
constexpr int64_t kParallelWork = int64_t{1} << 20;
// The MLP's mini-batch steps are sequential and each is small (200 x 64 x 100 for MNIST-sized
// embeddings): one parallel region per step means tens of thousands of regions per fit, and on
// a loaded machine OpenMP's spinning barriers then cost far more than they save (measured: 3x
// slower on 2 shared cores). Steps go parallel only when a single product is this large.
constexpr int64_t kBatchParallelWork = int64_t{1} << 24;

void check_xy(const char* what, const double* x, int64_t n, int64_t d, const int64_t* y,
              int64_t k) {
  NIDIM_CHECK(n >= 1 && d >= 1, "{}: empty data ({} x {})", what, n, d);
  NIDIM_CHECK(k >= 2, "{}: needs at least 2 classes, got {}", what, k);
  for (int64_t i = 0; i < n * d; ++i)
    NIDIM_CHECK(std::isfinite(x[i]), "{}: value {} at row {}, column {} is not finite", what, x[i],
                i / d, i % d);
  std::vector<int64_t> count(static_cast<size_t>(k), 0);
  for (int64_t i = 0; i < n; ++i) {
    NIDIM_CHECK(y[i] >= 0 && y[i] < k, "{}: label code {} at row {} is not in [0, {})", what, y[i],
                i, k);
    ++count[y[i]];
  }
  for (int64_t c = 0; c < k; ++c)
    NIDIM_CHECK(count[c] > 0, "{}: class {} has no training rows", what, c);
}

// log(1 + e^t) without overflow.
double softplus(double t) {
  return std::max(t, 0.0) + std::log1p(std::exp(-std::fabs(t)));
}

// In-place softmax of v[0..k); returns log-sum-exp.
double softmax_inplace(double* v, int64_t k) {
  double mx = v[0];
  for (int64_t j = 1; j < k; ++j) mx = std::max(mx, v[j]);
  double s = 0;
  for (int64_t j = 0; j < k; ++j) {
    v[j] = std::exp(v[j] - mx);
    s += v[j];
  }
  for (int64_t j = 0; j < k; ++j) v[j] /= s;
  return mx + std::log(s);
}

// g[r * ldg + c] = sum_i a[i * lda + r] * x[i * d + c] for r < rows, c < D: the gradient of a
// linear layer (a = per-row residuals, N x rows). Column blocks in parallel, rows of the sum in
// order.
void at_x(const double* a, int64_t lda, int64_t rows, const double* x, int64_t n, int64_t d,
          double* g, int64_t ldg, int64_t min_parallel_work = kParallelWork) {
  const int64_t nblk = (d + kColBlock - 1) / kColBlock;
  const bool par = n * rows * d >= min_parallel_work;
  parallel_for(nblk, (par) ? 1 : nblk, [&](int64_t lo_, int64_t hi_) {
    for (int64_t blk = lo_; blk < hi_; ++blk) {
      const int64_t c0 = blk * kColBlock, c1 = std::min(d, c0 + kColBlock), w = c1 - c0;
      std::vector<double> acc(static_cast<size_t>(rows * w), 0.0);
      for (int64_t i = 0; i < n; ++i) {
        const double* xi = x + i * d + c0;
        const double* ai = a + i * lda;
        for (int64_t r = 0; r < rows; ++r) {
          const double ar = ai[r];
          if (ar == 0.0) continue;
          double* out = acc.data() + r * w;
          for (int64_t c = 0; c < w; ++c) out[c] += ar * xi[c];
        }
      }
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < w; ++c) g[r * ldg + c0 + c] = acc[r * w + c];
    }
  });
}

// ---- L-BFGS ---------------------------------------------------------------------------------

using ObjectiveFn = std::function<double(const std::vector<double>& x, std::vector<double>& g)>;

struct LbfgsOutcome {
  std::vector<double> x;
  double f = 0;
  int64_t iterations = 0;
  bool converged = false;
};

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

// A point of the line search: step, value, directional derivative, and the full state.
struct LinePoint {
  double alpha = 0, f = 0, df = 0;
  std::vector<double> x, g;
};

// Strong-Wolfe line search (Nocedal & Wright, Algorithms 3.5 and 3.6) along dir from (x, f, g);
// c1 = 1e-4, c2 = 0.9. Near the optimum the decrease c1 alpha f'(0) falls below the rounding
// of f, so sufficient decrease also accepts Hager & Zhang's approximate Wolfe condition
// ("A new conjugate gradient method with guaranteed descent and an efficient line search",
// SIAM J. Optim. 16(1), 2005, eq. 4.1): f(alpha) <= f(0) + 1e-12 |f(0)| and
// f'(alpha) <= (2 c1 - 1) f'(0). Returns false when no acceptable step is found.
bool wolfe_search(const ObjectiveFn& fg, const std::vector<double>& x, double f, double df0,
                  const std::vector<double>& dir, double alpha0, LinePoint* out) {
  constexpr double c1 = 1e-4, c2 = 0.9;
  const double f_eps = 1e-12 * std::fabs(f);
  auto decreased = [&](const LinePoint& p) {
    return p.f <= f + c1 * p.alpha * df0 || (p.f <= f + f_eps && p.df <= (2 * c1 - 1) * df0);
  };
  const size_t n = x.size();
  auto eval = [&](double alpha) {
    LinePoint p;
    p.alpha = alpha;
    p.x.resize(n);
    p.g.resize(n);
    for (size_t i = 0; i < n; ++i) p.x[i] = x[i] + alpha * dir[i];
    p.f = fg(p.x, p.g);
    p.df = dot(p.g, dir);
    return p;
  };
  // zoom between lo (satisfies sufficient decrease, lowest so far) and hi.
  // 60 rounds: a first step that overshoots by a factor 1e9 (features of order 1e8, where the
  // first step moves the weights by 1) takes about 30 halvings.
  auto zoom = [&](LinePoint lo, LinePoint hi) -> bool {
    for (int it = 0; it < 60; ++it) {
      // Cubic interpolation of the two end points (N&W eq. 3.59), safeguarded to the middle 80%.
      const double a0 = lo.alpha, a1 = hi.alpha;
      const double d1 = lo.df + hi.df - 3 * (lo.f - hi.f) / (a0 - a1);
      const double disc = d1 * d1 - lo.df * hi.df;
      double a = 0.5 * (a0 + a1);
      if (disc >= 0) {
        const double d2 = (a1 > a0 ? 1 : -1) * std::sqrt(disc);
        const double cand = a1 - (a1 - a0) * (hi.df + d2 - d1) / (hi.df - lo.df + 2 * d2);
        const double lo_b = std::min(a0, a1), hi_b = std::max(a0, a1), w = hi_b - lo_b;
        if (std::isfinite(cand) && cand > lo_b + 0.1 * w && cand < hi_b - 0.1 * w) a = cand;
      }
      LinePoint p = eval(a);
      if (!decreased(p) || p.f > lo.f + f_eps) {
        hi = std::move(p);
      } else {
        if (std::fabs(p.df) <= -c2 * df0) {
          *out = std::move(p);
          return true;
        }
        if (p.df * (hi.alpha - lo.alpha) >= 0) hi = lo;
        lo = std::move(p);
      }
      // Relative to the steps themselves: a first step of 1 / |g| can be far below 1.
      if (std::fabs(hi.alpha - lo.alpha) <= 1e-16 * std::max(lo.alpha, hi.alpha)) break;
    }
    // Interval collapsed: accept lo if it decreased the objective.
    if (lo.alpha > 0 && lo.f <= f + f_eps) {
      *out = std::move(lo);
      return true;
    }
    return false;
  };
  LinePoint prev;
  prev.alpha = 0;
  prev.f = f;
  prev.df = df0;
  prev.x = x;
  double alpha = alpha0;
  for (int it = 0; it < 40; ++it) {
    LinePoint p = eval(alpha);
    if (!std::isfinite(p.f)) {  // overshoot into overflow: back off
      alpha = 0.5 * (prev.alpha + alpha);
      continue;
    }
    if (!decreased(p) || (it > 0 && p.f > prev.f + f_eps))
      return zoom(std::move(prev), std::move(p));
    if (std::fabs(p.df) <= -c2 * df0) {
      *out = std::move(p);
      return true;
    }
    if (p.df >= 0) return zoom(std::move(p), std::move(prev));
    prev = std::move(p);
    alpha *= 2;
  }
  return false;
}

// L-BFGS with memory m (Nocedal & Wright Algorithm 7.5; two-loop recursion Algorithm 7.4 with
// H0 = (s'y / y'y) I). Stops like scipy's L-BFGS-B: max |g| <= gtol, or
// (f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) <= ftol, or max_iter iterations.
LbfgsOutcome lbfgs(const ObjectiveFn& fg, std::vector<double> x, double gtol, double ftol,
                   int64_t max_iter, int m = 10) {
  const size_t n = x.size();
  std::vector<double> g(n);
  double f = fg(x, g);
  LbfgsOutcome out;
  std::vector<std::vector<double>> ss, ys;
  std::vector<double> rho;
  if (max_abs(g) <= gtol) {
    out.x = std::move(x);
    out.f = f;
    out.converged = true;
    return out;
  }
  for (int64_t iter = 1; iter <= max_iter; ++iter) {
    // Direction -H g by the two-loop recursion.
    std::vector<double> q = g;
    const size_t mm = ss.size();
    std::vector<double> al(mm);
    for (size_t i = mm; i-- > 0;) {
      al[i] = rho[i] * dot(ss[i], q);
      for (size_t j = 0; j < n; ++j) q[j] -= al[i] * ys[i][j];
    }
    const double gamma = mm ? dot(ss[mm - 1], ys[mm - 1]) / dot(ys[mm - 1], ys[mm - 1]) : 1.0;
    for (double& v : q) v *= gamma;
    for (size_t i = 0; i < mm; ++i) {
      const double be = rho[i] * dot(ys[i], q);
      for (size_t j = 0; j < n; ++j) q[j] += ss[i][j] * (al[i] - be);
    }
    std::vector<double> dir(n);
    for (size_t j = 0; j < n; ++j) dir[j] = -q[j];
    double df0 = dot(g, dir);
    if (!(df0 < 0)) {  // not a descent direction: restart from steepest descent
      ss.clear();
      ys.clear();
      rho.clear();
      for (size_t j = 0; j < n; ++j) dir[j] = -g[j];
      df0 = dot(g, dir);
    }
    // First step of a fresh memory: |step| = 1 (scipy's dnorm scaling); afterwards the unit step.
    const double alpha0 = ss.empty() ? std::min(1.0, 1.0 / std::sqrt(dot(g, g))) : 1.0;
    LinePoint p;
    if (!wolfe_search(fg, x, f, df0, dir, alpha0, &p)) break;
    std::vector<double> s(n), y(n);
    for (size_t j = 0; j < n; ++j) {
      s[j] = p.x[j] - x[j];
      y[j] = p.g[j] - g[j];
    }
    const double sy = dot(s, y);
    if (sy > std::numeric_limits<double>::epsilon() * dot(y, y)) {
      if (static_cast<int>(ss.size()) == m) {
        ss.erase(ss.begin());
        ys.erase(ys.begin());
        rho.erase(rho.begin());
      }
      ss.push_back(std::move(s));
      ys.push_back(std::move(y));
      rho.push_back(1.0 / sy);
    }
    const double f_old = f;
    x = std::move(p.x);
    g = std::move(p.g);
    f = p.f;
    out.iterations = iter;
    if (max_abs(g) <= gtol) {
      out.converged = true;
      break;
    }
    if ((f_old - f) / std::max({std::fabs(f_old), std::fabs(f), 1.0}) <= ftol) {
      out.converged = true;
      break;
    }
  }
  out.x = std::move(x);
  out.f = f;
  return out;
}

}  // namespace

// ---- labels and probabilities ---------------------------------------------------------------

LabelEncoding encode_labels(const int64_t* y, int64_t n) {
  LabelEncoding e;
  e.classes.assign(y, y + n);
  std::sort(e.classes.begin(), e.classes.end());
  e.classes.erase(std::unique(e.classes.begin(), e.classes.end()), e.classes.end());
  e.codes = apply_encoding(e.classes, y, n);
  return e;
}

std::vector<int64_t> apply_encoding(const std::vector<int64_t>& classes, const int64_t* y,
                                    int64_t n) {
  std::vector<int64_t> codes(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const auto it = std::lower_bound(classes.begin(), classes.end(), y[i]);
    codes[i] = (it != classes.end() && *it == y[i]) ? it - classes.begin() : -1;
  }
  return codes;
}

std::vector<int64_t> Probabilities::argmax() const {
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double* r = p.data() + i * k;
    out[i] = std::max_element(r, r + k) - r;
  }
  return out;
}

// ---- logistic regression ----------------------------------------------------------------------

std::vector<double> LogisticModel::decision(const double* x, int64_t n) const {
  std::vector<double> z(static_cast<size_t>(n * rows));
  parallel_for(n, (n * rows * d >= kParallelWork) ? 1 : n, [&](int64_t lo_, int64_t hi_) {
    for (int64_t i = lo_; i < hi_; ++i)
      for (int64_t r = 0; r < rows; ++r) {
        double s = b[r];
        for (int64_t c = 0; c < d; ++c) s += w[r * d + c] * x[i * d + c];
        z[i * rows + r] = s;
      }
  });
  return z;
}

Probabilities LogisticModel::predict_proba(const double* x, int64_t n) const {
  const std::vector<double> z = decision(x, n);
  Probabilities pr{n, k, std::vector<double>(static_cast<size_t>(n * k))};
  for (int64_t i = 0; i < n; ++i) {
    if (rows == 1) {
      const double p1 = 1 / (1 + std::exp(-z[i]));
      pr.p[i * 2] = 1 - p1;
      pr.p[i * 2 + 1] = p1;
    } else {
      std::copy(z.begin() + i * k, z.begin() + (i + 1) * k, pr.p.begin() + i * k);
      softmax_inplace(pr.p.data() + i * k, k);
    }
  }
  return pr;
}

std::vector<int64_t> LogisticModel::predict(const double* x, int64_t n) const {
  const std::vector<double> z = decision(x, n);
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (rows == 1) {
      out[i] = z[i] > 0 ? 1 : 0;
    } else {
      const double* r = z.data() + i * k;
      out[i] = std::max_element(r, r + k) - r;
    }
  }
  return out;
}

LogisticModel fit_logistic(const double* x, int64_t n, int64_t d, const int64_t* y, int64_t k,
                           const LogisticOptions& opt) {
  check_xy("logistic regression", x, n, d, y, k);
  NIDIM_CHECK(opt.c > 0, "logistic regression: C must be > 0, got {}", opt.c);
  LogisticModel mdl;
  mdl.d = d;
  mdl.k = k;
  mdl.rows = k == 2 ? 1 : k;
  const int64_t rows = mdl.rows, np = rows * (d + 1);
  const int64_t nchunks = (n + kRowChunk - 1) / kRowChunk;
  std::vector<double> resid(static_cast<size_t>(n * rows));  // dloss_i / dz_i
  std::vector<double> chunk_loss(static_cast<size_t>(nchunks));
  // Parameters: W (rows x D) then b (rows).
  ObjectiveFn fg = [&](const std::vector<double>& p, std::vector<double>& g) {
    const double* w = p.data();
    const double* b = p.data() + rows * d;
    parallel_for(nchunks, (n * rows * d >= kParallelWork) ? 1 : nchunks,
                 [&](int64_t lo_, int64_t hi_) {
                   for (int64_t ch = lo_; ch < hi_; ++ch) {
                     std::vector<double> z(static_cast<size_t>(rows));
                     double loss = 0;
                     for (int64_t i = ch * kRowChunk; i < std::min(n, (ch + 1) * kRowChunk); ++i) {
                       for (int64_t r = 0; r < rows; ++r) {
                         double s = b[r];
                         for (int64_t c = 0; c < d; ++c) s += w[r * d + c] * x[i * d + c];
                         z[r] = s;
                       }
                       double* ri = resid.data() + i * rows;
                       if (rows == 1) {
                         // Binary: loss = softplus(z) - y z, dloss/dz = sigmoid(z) - y.
                         const double yi = y[i] == 1 ? 1.0 : 0.0;
                         loss += softplus(z[0]) - yi * z[0];
                         ri[0] = 1 / (1 + std::exp(-z[0])) - yi;
                       } else {
                         // Multinomial: loss = logsumexp(z) - z_y, dloss/dz = softmax(z) - onehot(y).
                         const double zy = z[y[i]];
                         loss += softmax_inplace(z.data(), rows) - zy;
                         for (int64_t r = 0; r < rows; ++r) ri[r] = z[r] - (r == y[i] ? 1.0 : 0.0);
                       }
                     }
                     chunk_loss[ch] = loss;
                   }
                 });
    at_x(resid.data(), rows, rows, x, n, d, g.data(), d);
    double reg = 0;
    for (int64_t j = 0; j < rows * d; ++j) {
      reg += w[j] * w[j];
      g[j] += w[j] / opt.c;
    }
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0;
      for (int64_t i = 0; i < n; ++i) s += resid[i * rows + r];
      g[rows * d + r] = s;
    }
    return ordered_sum(chunk_loss) + 0.5 * reg / opt.c;
  };
  LbfgsOutcome res =
      lbfgs(fg, std::vector<double>(static_cast<size_t>(np), 0.0), opt.tol, opt.ftol, opt.max_iter);
  mdl.w.assign(res.x.begin(), res.x.begin() + rows * d);
  mdl.b.assign(res.x.begin() + rows * d, res.x.end());
  mdl.iterations = res.iterations;
  mdl.converged = res.converged;
  mdl.objective = res.f;
  return mdl;
}

// ---- Gaussian naive Bayes ---------------------------------------------------------------------

GaussianNbModel fit_gaussian_nb(const double* x, int64_t n, int64_t d, const int64_t* y, int64_t k,
                                double var_smoothing) {
  check_xy("gaussian naive bayes", x, n, d, y, k);
  GaussianNbModel m;
  m.d = d;
  m.k = k;
  m.theta.assign(static_cast<size_t>(k * d), 0.0);
  m.var.assign(static_cast<size_t>(k * d), 0.0);
  m.prior.assign(static_cast<size_t>(k), 0.0);
  // epsilon = var_smoothing * max_c var(x[:, c]) over all rows (numpy's biased variance).
  const std::vector<double> all_mean = [&] {
    std::vector<double> mu(static_cast<size_t>(d), 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < d; ++c) mu[c] += x[i * d + c];
    for (double& v : mu) v /= n;
    return mu;
  }();
  double max_var = 0;
  for (int64_t c = 0; c < d; ++c) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i)
      s += (x[i * d + c] - all_mean[c]) * (x[i * d + c] - all_mean[c]);
    max_var = std::max(max_var, s / n);
  }
  m.epsilon = var_smoothing * max_var;
  std::vector<double> count(static_cast<size_t>(k), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    count[y[i]] += 1;
    for (int64_t c = 0; c < d; ++c) m.theta[y[i] * d + c] += x[i * d + c];
  }
  for (int64_t j = 0; j < k; ++j)
    for (int64_t c = 0; c < d; ++c) m.theta[j * d + c] /= count[j];
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < d; ++c) {
      const double diff = x[i * d + c] - m.theta[y[i] * d + c];
      m.var[y[i] * d + c] += diff * diff;
    }
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t c = 0; c < d; ++c) m.var[j * d + c] = m.var[j * d + c] / count[j] + m.epsilon;
    m.prior[j] = count[j] / n;
  }
  return m;
}

std::vector<double> GaussianNbModel::joint_log_likelihood(const double* x, int64_t n) const {
  // log P(c) - 1/2 sum_f log(2 pi var_cf) - 1/2 sum_f (x_f - theta_cf)^2 / var_cf.
  std::vector<double> norm(static_cast<size_t>(k));
  for (int64_t j = 0; j < k; ++j) {
    double s = 0;
    for (int64_t c = 0; c < d; ++c) s += std::log(2.0 * M_PI * var[j * d + c]);
    norm[j] = std::log(prior[j]) - 0.5 * s;
  }
  std::vector<double> jll(static_cast<size_t>(n * k));
  parallel_for(n, (n * k * d >= kParallelWork) ? 1 : n, [&](int64_t lo_, int64_t hi_) {
    for (int64_t i = lo_; i < hi_; ++i)
      for (int64_t j = 0; j < k; ++j) {
        double s = 0;
        for (int64_t c = 0; c < d; ++c) {
          const double diff = x[i * d + c] - theta[j * d + c];
          s += diff * diff / var[j * d + c];
        }
        jll[i * k + j] = norm[j] - 0.5 * s;
      }
  });
  return jll;
}

Probabilities GaussianNbModel::predict_proba(const double* x, int64_t n) const {
  Probabilities pr{n, k, joint_log_likelihood(x, n)};
  for (int64_t i = 0; i < n; ++i) softmax_inplace(pr.p.data() + i * k, k);
  return pr;
}

std::vector<int64_t> GaussianNbModel::predict(const double* x, int64_t n) const {
  return Probabilities{n, k, joint_log_likelihood(x, n)}.argmax();
}

// ---- k nearest neighbours ---------------------------------------------------------------------

KnnResult knn_classify(const double* train, int64_t n_train, int64_t d, const int64_t* train_y,
                       int64_t k, const double* test, int64_t n_test, int64_t neighbors,
                       ProgressFn progress) {
  NIDIM_CHECK(neighbors >= 1 && neighbors <= n_train,
              "knn: n_neighbors = {} needs 1 <= n_neighbors <= number of training rows ({})",
              neighbors, n_train);
  check_xy("knn (train)", train, n_train, d, train_y, k);
  for (int64_t i = 0; i < n_test * d; ++i)
    NIDIM_CHECK(std::isfinite(test[i]), "knn (test): value {} at row {} is not finite", test[i],
                i / d);
  const std::vector<double> tr = to_columns(train, n_train, d), te = to_columns(test, n_test, d);
  KnnResult res;
  res.proba = Probabilities{n_test, k, std::vector<double>(static_cast<size_t>(n_test * k), 0.0)};
  res.predicted.assign(static_cast<size_t>(n_test), 0);
  const int64_t nblocks = (n_test + kBlockRows - 1) / kBlockRows;
  parallel_blocks(
      nblocks,
      [&](int64_t blk) {
        std::vector<double> acc(kTileRows * kTileCols);
        const int64_t j_begin = blk * kBlockRows, j_end = std::min(n_test, (blk + 1) * kBlockRows);
        const int64_t nrows = j_end - j_begin;
        // Per query row: the best `neighbors` (distance, index), sorted by distance; training
        // rows arrive in increasing index order, so at equal distance the smaller index stays.
        std::vector<double> best_d(static_cast<size_t>(nrows * neighbors),
                                   std::numeric_limits<double>::infinity());
        std::vector<int64_t> best_i(static_cast<size_t>(nrows * neighbors), -1);
        std::vector<int64_t> votes(static_cast<size_t>(k));
        // Training tiles outer: one tile stays in cache while every query row of the block uses it.
        for (int64_t k0 = 0; k0 < n_train; k0 += kTileCols) {
          const int64_t len = std::min(kTileCols, n_train - k0);
          for (int64_t j0 = j_begin; j0 < j_end; j0 += kTileRows) {
            const int rows = static_cast<int>(std::min<int64_t>(kTileRows, j_end - j0));
            sqdist_tile(te.data(), n_test, j0, rows, tr.data(), n_train, k0, len, d, acc.data());
            for (int r = 0; r < rows; ++r) {
              double* bd = best_d.data() + (j0 - j_begin + r) * neighbors;
              int64_t* bi = best_i.data() + (j0 - j_begin + r) * neighbors;
              const double* a = acc.data() + r * kTileCols;
              for (int64_t t = 0; t < len; ++t) {
                const double q = a[t];
                if (!(q < bd[neighbors - 1])) continue;  // ties keep the earlier (smaller) index
                int64_t pos = neighbors - 1;
                while (pos > 0 && bd[pos - 1] > q) {
                  bd[pos] = bd[pos - 1];
                  bi[pos] = bi[pos - 1];
                  --pos;
                }
                bd[pos] = q;
                bi[pos] = k0 + t;
              }
            }
          }
        }
        for (int64_t i = j_begin; i < j_end; ++i) {
          std::fill(votes.begin(), votes.end(), 0);
          for (int64_t q = 0; q < neighbors; ++q)
            ++votes[train_y[best_i[(i - j_begin) * neighbors + q]]];
          int64_t arg = 0;
          for (int64_t c = 0; c < k; ++c) {
            res.proba.p[i * k + c] = static_cast<double>(votes[c]) / static_cast<double>(neighbors);
            if (votes[c] > votes[arg]) arg = c;
          }
          res.predicted[i] = arg;
        }
      },
      progress);
  return res;
}

// ---- multi-layer perceptron ---------------------------------------------------------------------

MlpModel init_mlp(int64_t d, int64_t k, const MlpOptions& opt) {
  MlpModel m;
  m.d = d;
  m.hidden = opt.hidden;
  m.k = k;
  m.outputs = k == 2 ? 1 : k;
  Generator gen(opt.seed, 0);
  auto fill = [&](std::vector<double>& v, int64_t count, double bound) {
    v.resize(static_cast<size_t>(count));
    for (double& e : v) e = -bound + 2 * bound * gen.uniform();
  };
  const double bound1 = std::sqrt(6.0 / static_cast<double>(d + opt.hidden));
  const double bound2 = std::sqrt(6.0 / static_cast<double>(opt.hidden + m.outputs));
  fill(m.w1, d * opt.hidden, bound1);
  fill(m.b1, opt.hidden, bound1);
  fill(m.w2, opt.hidden * m.outputs, bound2);
  fill(m.b2, m.outputs, bound2);
  return m;
}

namespace {

// Forward pass for rows x[0..n): hidden activations a1 (N x H) and output probabilities out
// (N x outputs: softmax, or the logistic of one unit). Rows in parallel when the work is large.
void mlp_forward(const MlpModel& m, const double* x, int64_t n, double* a1, double* out,
                 int64_t min_parallel_work = kParallelWork) {
  const int64_t d = m.d, h = m.hidden, o = m.outputs;
  parallel_for(n, (n * (d + o) * h >= min_parallel_work) ? 1 : n, [&](int64_t lo_, int64_t hi_) {
    for (int64_t i = lo_; i < hi_; ++i) {
      double* ai = a1 + i * h;
      std::copy(m.b1.begin(), m.b1.end(), ai);
      for (int64_t c = 0; c < d; ++c) {
        const double xc = x[i * d + c];
        const double* wr = m.w1.data() + c * h;
        for (int64_t j = 0; j < h; ++j) ai[j] += xc * wr[j];
      }
      for (int64_t j = 0; j < h; ++j) ai[j] = std::max(ai[j], 0.0);
      double* oi = out + i * o;
      std::copy(m.b2.begin(), m.b2.end(), oi);
      for (int64_t j = 0; j < h; ++j) {
        const double aj = ai[j];
        if (aj == 0.0) continue;
        const double* wr = m.w2.data() + j * o;
        for (int64_t q = 0; q < o; ++q) oi[q] += aj * wr[q];
      }
      if (o == 1) {
        oi[0] = 1 / (1 + std::exp(-oi[0]));
      } else {
        softmax_inplace(oi, o);
      }
    }
  });
}

}  // namespace

Probabilities MlpModel::predict_proba(const double* x, int64_t n) const {
  std::vector<double> a1(static_cast<size_t>(n * hidden)), out(static_cast<size_t>(n * outputs));
  mlp_forward(*this, x, n, a1.data(), out.data());
  Probabilities pr{n, k, std::vector<double>(static_cast<size_t>(n * k))};
  for (int64_t i = 0; i < n; ++i) {
    if (outputs == 1) {
      pr.p[i * 2] = 1 - out[i];
      pr.p[i * 2 + 1] = out[i];
    } else {
      std::copy(out.begin() + i * k, out.begin() + (i + 1) * k, pr.p.begin() + i * k);
    }
  }
  return pr;
}

MlpModel fit_mlp(const double* x, int64_t n, int64_t d, const int64_t* y, int64_t k,
                 const MlpOptions& opt, const MlpModel* init, ProgressFn progress) {
  check_xy("mlp", x, n, d, y, k);
  NIDIM_CHECK(opt.hidden >= 1 && opt.batch_size >= 1 && opt.max_iter >= 1,
              "mlp: hidden, batch_size and max_iter must be >= 1");
  MlpModel m = init ? *init : init_mlp(d, k, opt);
  NIDIM_CHECK(m.d == d && m.k == k && static_cast<int64_t>(m.w1.size()) == d * m.hidden,
              "mlp: initial model has the wrong shape");
  const int64_t h = m.hidden, o = m.outputs, bs = std::min(opt.batch_size, n);
  // Adam state (Kingma & Ba 2015, Algorithm 1), as scikit-learn's AdamOptimizer: the bias
  // corrections folded into the step size lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t).
  std::vector<double>* params[4] = {&m.w1, &m.w2, &m.b1, &m.b2};
  std::vector<std::vector<double>> mom(4), vel(4), grad(4);
  for (int p = 0; p < 4; ++p) {
    mom[p].assign(params[p]->size(), 0.0);
    vel[p].assign(params[p]->size(), 0.0);
    grad[p].assign(params[p]->size(), 0.0);
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  Generator shuffler(opt.seed, 1);
  std::vector<double> xb(static_cast<size_t>(bs * d)), a1(static_cast<size_t>(bs * h)),
      out(static_cast<size_t>(bs * o)), delta1(static_cast<size_t>(bs * h));
  const double eps_clip = std::numeric_limits<double>::epsilon();
  double best_loss = std::numeric_limits<double>::infinity();
  int64_t no_improvement = 0;
  int64_t t = 0;
  m.loss_curve.clear();
  m.converged = false;
  for (int64_t epoch = 0; epoch < opt.max_iter; ++epoch) {
    if (opt.shuffle) {  // Fisher-Yates
      for (int64_t i = n - 1; i > 0; --i)
        std::swap(order[i], order[shuffler.uniform_int(static_cast<uint64_t>(i + 1))]);
    }
    double accumulated = 0;
    for (int64_t start = 0; start < n; start += bs) {
      const int64_t nb = std::min(bs, n - start);
      for (int64_t r = 0; r < nb; ++r)
        std::copy(x + order[start + r] * d, x + (order[start + r] + 1) * d, xb.begin() + r * d);
      mlp_forward(m, xb.data(), nb, a1.data(), out.data(), kBatchParallelWork);
      // Loss: mean log-loss with probabilities clipped to [eps, 1 - eps] (scikit-learn's
      // log_loss / binary_log_loss), plus alpha/2 |W|^2 / nb. Output delta = p - onehot.
      double loss = 0;
      for (int64_t r = 0; r < nb; ++r) {
        const int64_t yi = y[order[start + r]];
        double* orow = out.data() + r * o;
        if (o == 1) {
          const double p = std::min(std::max(orow[0], eps_clip), 1 - eps_clip);
          loss -= yi == 1 ? std::log(p) : std::log(1 - p);
          orow[0] -= yi == 1 ? 1.0 : 0.0;
        } else {
          const double p = std::min(std::max(orow[yi], eps_clip), 1 - eps_clip);
          loss -= std::log(p);
          orow[yi] -= 1.0;
        }
      }
      loss /= nb;
      double sq = 0;
      for (double v : m.w1) sq += v * v;
      for (double v : m.w2) sq += v * v;
      loss += 0.5 * opt.alpha * sq / nb;
      accumulated += loss * nb;
      // Backward. delta2 = out (N x O); grad W2 = (A1^T delta2 + alpha W2) / nb; grad b2 = mean.
      const double inv = 1.0 / nb;
      at_x(a1.data(), h, h, out.data(), nb, o, grad[1].data(), o, kBatchParallelWork);
      for (int64_t j = 0; j < h * o; ++j) grad[1][j] = (grad[1][j] + opt.alpha * m.w2[j]) * inv;
      for (int64_t q = 0; q < o; ++q) {
        double s = 0;
        for (int64_t r = 0; r < nb; ++r) s += out[r * o + q];
        grad[3][q] = s * inv;
      }
      // delta1 = (delta2 W2^T) * relu'(a1).
      parallel_for(nb, (nb * h * o >= kBatchParallelWork) ? 1 : nb, [&](int64_t lo_, int64_t hi_) {
        for (int64_t r = lo_; r < hi_; ++r)
          for (int64_t j = 0; j < h; ++j) {
            if (a1[r * h + j] <= 0.0) {
              delta1[r * h + j] = 0.0;
              continue;
            }
            double s = 0;
            for (int64_t q = 0; q < o; ++q) s += out[r * o + q] * m.w2[j * o + q];
            delta1[r * h + j] = s;
          }
      });
      at_x(xb.data(), d, d, delta1.data(), nb, h, grad[0].data(), h, kBatchParallelWork);
      for (int64_t j = 0; j < d * h; ++j) grad[0][j] = (grad[0][j] + opt.alpha * m.w1[j]) * inv;
      for (int64_t j = 0; j < h; ++j) {
        double s = 0;
        for (int64_t r = 0; r < nb; ++r) s += delta1[r * h + j];
        grad[2][j] = s * inv;
      }
      ++t;
      const double lr_t = opt.learning_rate *
                          std::sqrt(1 - std::pow(opt.beta2, static_cast<double>(t))) /
                          (1 - std::pow(opt.beta1, static_cast<double>(t)));
      for (int p = 0; p < 4; ++p) {
        std::vector<double>& w = *params[p];
        for (size_t j = 0; j < w.size(); ++j) {
          mom[p][j] = opt.beta1 * mom[p][j] + (1 - opt.beta1) * grad[p][j];
          vel[p][j] = opt.beta2 * vel[p][j] + (1 - opt.beta2) * grad[p][j] * grad[p][j];
          w[j] += -lr_t * mom[p][j] / (std::sqrt(vel[p][j]) + opt.epsilon);
        }
      }
    }
    const double epoch_loss = accumulated / n;
    m.loss_curve.push_back(epoch_loss);
    m.iterations = epoch + 1;
    if (progress) progress(epoch + 1, opt.max_iter);
    // scikit-learn's _update_no_improvement_count (no early stopping).
    if (epoch_loss > best_loss - opt.tol) {
      ++no_improvement;
    } else {
      no_improvement = 0;
    }
    if (epoch_loss < best_loss) best_loss = epoch_loss;
    if (no_improvement > opt.n_iter_no_change) {
      m.converged = true;
      break;
    }
  }
  return m;
}

// ---- metrics ------------------------------------------------------------------------------------

double accuracy(const int64_t* y_true, const int64_t* y_pred, int64_t n) {
  NIDIM_CHECK(n > 0, "accuracy: no rows");
  int64_t ok = 0;
  for (int64_t i = 0; i < n; ++i) ok += y_true[i] == y_pred[i] ? 1 : 0;
  return static_cast<double>(ok) / static_cast<double>(n);
}

double f1_micro(const int64_t* y_true, const int64_t* y_pred, int64_t n) {
  // Micro-averaged over classes: TP = correct rows, FP = FN = wrong rows (each wrong row is a
  // false positive for its predicted class and a false negative for its true class), so
  // F1 = 2TP / (2TP + FP + FN) = accuracy for single-label data.
  NIDIM_CHECK(n > 0, "f1_micro: no rows");
  int64_t tp = 0;
  for (int64_t i = 0; i < n; ++i) tp += y_true[i] == y_pred[i] ? 1 : 0;
  const double fp = static_cast<double>(n - tp), fn = fp;
  return 2.0 * tp / (2.0 * tp + fp + fn);
}

double binary_auc(const std::vector<double>& score, const std::vector<char>& positive) {
  // Mann-Whitney: AUC = (R+ - n+ (n+ + 1)/2) / (n+ n-), R+ the sum of mid-ranks of positives.
  // Scores must be numbers: NaN has no rank (and would break the sort and the tie loop).
  const int64_t n = static_cast<int64_t>(score.size());
  for (double s : score)
    if (std::isnan(s)) return std::numeric_limits<double>::quiet_NaN();
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return score[a] < score[b]; });
  double rank_pos = 0;
  int64_t npos = 0;
  for (int64_t i = 0; i < n;) {
    int64_t j = i;
    while (j < n && score[idx[j]] == score[idx[i]]) ++j;
    const double mid = 0.5 * (i + 1 + j);  // mean of ranks i+1 .. j
    for (int64_t q = i; q < j; ++q)
      if (positive[idx[q]]) {
        rank_pos += mid;
        ++npos;
      }
    i = j;
  }
  const double np_ = static_cast<double>(npos), nn = static_cast<double>(n - npos);
  return (rank_pos - np_ * (np_ + 1) / 2) / (np_ * nn);
}

Estimate roc_auc_ovo(const int64_t* y_true, const Probabilities& proba) {
  const int64_t n = proba.n, k = proba.k;
  std::vector<int64_t> count(static_cast<size_t>(k), 0);
  int64_t unknown = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (y_true[i] < 0 || y_true[i] >= k) {
      ++unknown;
    } else {
      ++count[y_true[i]];
    }
  }
  if (unknown > 0)
    return Estimate::na(
        fmt::format("{} test rows have classes the classifier was not trained on", unknown));
  for (int64_t i = 0; i < n * k; ++i)
    if (!std::isfinite(proba.p[i]))
      return Estimate::na("the classifier's probabilities are not all finite numbers");
  int64_t present = 0;
  for (int64_t c = 0; c < k; ++c) present += count[c] > 0 ? 1 : 0;
  if (present != k)
    return Estimate::na(fmt::format(
        "test labels contain {} of the {} training classes; one-vs-one AUC needs all", present, k));
  if (k == 2) {
    std::vector<double> s(static_cast<size_t>(n));
    std::vector<char> pos(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      s[i] = proba.p[i * 2 + 1];
      pos[i] = y_true[i] == 1;
    }
    return Estimate::of(binary_auc(s, pos));
  }
  double total = 0;
  int64_t pairs = 0;
  for (int64_t a = 0; a < k; ++a)
    for (int64_t b = a + 1; b < k; ++b) {
      std::vector<double> sa, sb;
      std::vector<char> pa, pb;
      for (int64_t i = 0; i < n; ++i) {
        if (y_true[i] != a && y_true[i] != b) continue;
        sa.push_back(proba.p[i * k + a]);
        pa.push_back(y_true[i] == a);
        sb.push_back(proba.p[i * k + b]);
        pb.push_back(y_true[i] == b);
      }
      total += 0.5 * (binary_auc(sa, pa) + binary_auc(sb, pb));
      ++pairs;
    }
  return Estimate::of(total / static_cast<double>(pairs));
}

}  // namespace nidim::stats
