// nidim/ssl/critic.cpp: see critic.h.
#include "ssl/critic.h"

#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "kernels/ops.h"
#include "kernels/pairwise.h"

namespace nidim {

namespace {

// [B, B] with `on_diagonal` on the diagonal and `off` elsewhere, like S. Training asks for the
// same matrices at every step, so the last ones made are kept (per thread), not rebuilt and
// copied to the device each time.
Tensor diagonal_matrix(const Tensor& S, double on_diagonal, double off) {
  struct Entry {
    int64_t B;
    DType dtype;
    Device device;
    double on, off;
    Tensor m;
  };
  thread_local std::vector<Entry> cache;
  const int64_t B = S.size(0);
  for (const Entry& e : cache)
    if (e.B == B && e.dtype == S.dtype() && e.device == S.device() && e.on == on_diagonal &&
        e.off == off)
      return e.m;
  std::vector<double> v(static_cast<size_t>(B * B), off);
  for (int64_t i = 0; i < B; ++i) v[static_cast<size_t>(i * B + i)] = on_diagonal;
  Tensor m = Tensor::from_vector(v, {B, B});
  m = (S.dtype() == DType::f64 ? m : cast(m, S.dtype())).to(S.device());
  if (cache.size() >= 4) cache.erase(cache.begin());
  cache.push_back({B, S.dtype(), S.device(), on_diagonal, off, m});
  return m;
}

Tensor mean_diagonal(const Tensor& S) {
  return mean(sum(S * diagonal_matrix(S, 1, 0), 1));
}

// log mean_{i != j} exp S_ij, stable: the diagonal is pushed to -1e30 before a logsumexp.
Tensor log_mean_exp_off_diagonal(const Tensor& S) {
  const int64_t B = S.size(0);
  NIDIM_CHECK(B >= 2, "the DV and NWJ bounds need a batch of at least 2, got {}", B);
  Tensor masked = S + diagonal_matrix(S, -1e30, 0);
  return logsumexp(reshape(masked, {1, B * B}), 1) - std::log(static_cast<double>(B * (B - 1)));
}

void check_pair(const char* who, const Tensor& a, const Tensor& b, int64_t dim) {
  NIDIM_CHECK(a.ndim() == 2 && b.ndim() == 2 && a.size(1) == dim && b.size(1) == dim &&
                  a.size(0) == b.size(0),
              "{}: views must both be [B, {}], got {} and {}", who, dim, a.shape(), b.shape());
}

}  // namespace

Tensor Critic::infonce_loss(const Tensor& a, const Tensor& b) {
  return infonce_from_scores(scores(a, b));
}

Tensor infonce_from_scores(const Tensor& S) {
  NIDIM_CHECK(S.ndim() == 2 && S.size(0) == S.size(1), "InfoNCE needs square scores, got {}",
              S.shape());
  // mean_i (logsumexp_j S_ij - S_ii) - log B. (Not cross_entropy against labels 0..B-1: on a GPU
  // that op reads its label check back to the host, which would make every step wait.)
  return mean(logsumexp(S, 1)) - mean_diagonal(S) - std::log(static_cast<double>(S.size(0)));
}

// ---- joint MLP ------------------------------------------------------------------------------------

JointMlpCritic::JointMlpCritic(int64_t dim, int64_t hidden, Generator& gen, double slope,
                               int64_t tile_rows)
    : Critic("JointMlpCritic"), m_dim(dim), m_slope(slope), m_tile_rows(tile_rows) {
  m_fc1 = register_module("fc1", std::make_shared<Linear>(2 * dim, hidden, true, gen));
  m_fc2 = register_module("fc2", std::make_shared<Linear>(hidden, hidden, true, gen));
  m_fc3 = register_module("fc3", std::make_shared<Linear>(hidden, 1, true, gen));
}

std::pair<Tensor, Tensor> JointMlpCritic::first_layer(const Tensor& a, const Tensor& b) {
  check_pair("JointMlpCritic", a, b, m_dim);
  // W [a; b] = W_a a + W_b b: multiplying [a, 0] and [0, b] by the whole W keeps fc1's weight one
  // [H, 2d] tensor, as in PyTorch (d is small, so the zeros cost nothing).
  const Tensor zero = zeros(a.shape(), a.dtype(), a.device());
  Tensor u =
      matmul(concat({a, zero}, 1), m_fc1->weight(), false, true) + reshape(m_fc1->bias(), {1, -1});
  Tensor v = matmul(concat({zero, b}, 1), m_fc1->weight(), false, true);
  return {u, v};
}

Tensor JointMlpCritic::scores(const Tensor& a, const Tensor& b) {
  auto [u, v] = first_layer(a, b);
  return pairwise_mlp_scores(u, v, m_fc2->weight(), m_fc2->bias(), m_fc3->weight(), m_fc3->bias(),
                             m_slope, m_tile_rows);
}

Tensor JointMlpCritic::infonce_loss(const Tensor& a, const Tensor& b) {
  auto [u, v] = first_layer(a, b);
  return pairwise_mlp_infonce(u, v, m_fc2->weight(), m_fc2->bias(), m_fc3->weight(), m_fc3->bias(),
                              m_slope, m_tile_rows);
}

// ---- separable -------------------------------------------------------------------------------------

SeparableCritic::SeparableCritic(int64_t dim, Similarity similarity, double temperature,
                                 int64_t head_dim, Generator& gen)
    : Critic("SeparableCritic"), m_similarity(similarity), m_temperature(temperature) {
  NIDIM_CHECK(temperature > 0, "SeparableCritic: temperature must be > 0, got {}", temperature);
  if (head_dim > 0) {
    for (auto* head : {&m_head_a, &m_head_b}) {
      *head = std::make_shared<Sequential>();
      (*head)
          ->add("fc1", std::make_shared<Linear>(dim, head_dim, true, gen))
          .add("act", std::make_shared<ReLU>())
          .add("fc2", std::make_shared<Linear>(head_dim, head_dim, true, gen));
    }
    register_module("head_a", m_head_a);
    register_module("head_b", m_head_b);
  }
}

Tensor SeparableCritic::scores(const Tensor& a, const Tensor& b) {
  Tensor u = m_head_a ? m_head_a->forward(a) : a;
  Tensor v = m_head_b ? m_head_b->forward(b) : b;
  if (m_similarity == Similarity::cosine) {
    u = u / sqrt(sum(u * u, 1, true) + 1e-12);
    v = v / sqrt(sum(v * v, 1, true) + 1e-12);
  }
  return matmul(u, v, false, true) * (1.0 / m_temperature);
}

// ---- Gaussian kernel --------------------------------------------------------------------------------

GaussianKernelCritic::GaussianKernelCritic(double bandwidth, bool offset)
    : Critic("GaussianKernelCritic"), m_bandwidth(bandwidth) {
  NIDIM_CHECK(bandwidth > 0, "GaussianKernelCritic: bandwidth must be > 0, got {}", bandwidth);
  if (offset) m_offset = register_parameter("offset", zeros({1}));
}

Tensor GaussianKernelCritic::scores(const Tensor& a, const Tensor& b) {
  // -|a_i - b_j|^2 / (2 s^2) = (2 a_i.b_j - |a_i|^2 - |b_j|^2) / (2 s^2)
  const double k = 1.0 / (2 * m_bandwidth * m_bandwidth);
  Tensor na = sum(a * a, 1, true);                    // [B, 1]
  Tensor nb = reshape(sum(b * b, 1, true), {1, -1});  // [1, B]
  Tensor s = (matmul(a, b, false, true) * 2.0 - na - nb) * k;
  return m_offset.defined() ? s + m_offset : s;
}

// ---- bounds -----------------------------------------------------------------------------------------

BoundKind parse_bound(const std::string& name) {
  if (name == "infonce") return BoundKind::infonce;
  if (name == "dv") return BoundKind::dv;
  if (name == "nwj") return BoundKind::nwj;
  NIDIM_FAIL("bound '{}': expected infonce, dv or nwj", name);
}

const char* bound_label(BoundKind b) {
  switch (b) {
    case BoundKind::infonce:
      return "infonce";
    case BoundKind::dv:
      return "dv";
    case BoundKind::nwj:
      return "nwj";
  }
  return "?";
}

MiBound::Result MiBound::compute(Critic& critic, const Tensor& a, const Tensor& b) {
  if (m_kind == BoundKind::infonce) {
    Tensor loss = critic.infonce_loss(a, b);
    return {loss, -loss.detach()};
  }
  Tensor S = critic.scores(a, b);
  Tensor diag = mean_diagonal(S);
  Tensor lme = log_mean_exp_off_diagonal(S);  // log mean_{i != j} exp S
  if (m_kind == BoundKind::nwj) {
    Tensor estimate = diag - exp(lme - 1.0);
    return {-estimate, estimate.detach()};
  }
  // DV. The surrogate exp(lme - log_ma) has gradient (mean exp S / ma) grad lme =
  // grad(mean exp S) / ma: MINE's bias-corrected gradient, with ma a moving average. The average
  // stays on the scores' device, in their dtype, so nothing is read back mid-step.
  const Tensor now = lme.detach();
  if (!m_log_ma.defined() && !std::isnan(m_log_ma_restored))
    m_log_ma = full_like(now, m_log_ma_restored);
  if (!m_log_ma.defined())
    m_log_ma = now;
  else  // log((1 - a) ma + a x), computed in log space
    m_log_ma = logsumexp(
        concat({reshape(m_log_ma + std::log(1 - m_ema), {1}), reshape(now + std::log(m_ema), {1})},
               0),
        0);
  Tensor surrogate = exp(lme - m_log_ma);
  return {surrogate - diag, diag.detach() - now};
}

double MiBound::log_moving_average() const {
  return m_log_ma.defined() ? m_log_ma.item() : m_log_ma_restored;
}

void MiBound::set_log_moving_average(double v) {
  m_log_ma = Tensor();  // made on the scores' device at the next step
  m_log_ma_restored = v;
}

}  // namespace nidim
