// nidim/ssl/critic.h: critics T(a, b) scoring every pair of a batch (METHOD.md §2), and the
// mutual-information bounds computed from the scores.
//
// Critics (each maps a [B, d], b [B, d] to S [B, B], S[i, j] = T(a_i, b_j)):
//   JointMlpCritic      T = MLP([a; b]): fc1 Linear(2d, H), LeakyReLU, fc2 Linear(H, H),
//                       LeakyReLU, fc3 Linear(H, 1) (the paper's MNIST critic). fc1 is split,
//                       W [a; b] = W_a a + W_b b, so it costs O(B*H*d); the rest runs on all pairs
//                       in tiles (kernels/pairwise.h), and InfoNCE is fused with its gradient.
//   SeparableCritic     T = <u(a), v(b)> / tau, with u, v the identity or projection heads
//                       (Linear, ReLU, Linear), dot product or cosine similarity: one GEMM.
//   GaussianKernelCritic T = -|a - b|^2 / (2 s^2) + c: the paper's "dual form" for Gaussian
//                       matching, one GEMM; s is fixed. InfoNCE and DV do not depend on the
//                       constant c, so it is there (a learned scalar, "critic.offset", from 0)
//                       only for NWJ, whose best c = 1 - log mean_{i != j} exp T_ij lifts it to DV.
// Bounds (of I(a; b), in nats, from S):
//   InfoNCE  I = mean_i (S_ii - logsumexp_j S_ij) + log B            (<= log B)
//   DV       I = mean_i S_ii - log mean_{i != j} exp S_ij; its gradient is biased in
//            mini-batches, so the loss uses MINE's correction: the denominator of
//            grad log mean exp S is replaced by a moving average of mean exp S
//   NWJ      I = mean_i S_ii - e^-1 mean_{i != j} exp S_ij
#pragma once

#include <limits>
#include <string>

#include "core/random.h"
#include "core/tensor.h"
#include "nn/layers.h"

namespace nidim {

class Critic : public Module {
 public:
  using Module::Module;
  // S [B, B] for a, b [B, d].
  virtual Tensor scores(const Tensor& a, const Tensor& b) = 0;
  // -I_NCE(a, b); critics that can fuse it with the scores override this.
  virtual Tensor infonce_loss(const Tensor& a, const Tensor& b);
};

class JointMlpCritic : public Critic {
 public:
  JointMlpCritic(int64_t dim, int64_t hidden, Generator& gen, double slope = 0.01,
                 int64_t tile_rows = 0);
  Tensor scores(const Tensor& a, const Tensor& b) override;
  Tensor infonce_loss(const Tensor& a, const Tensor& b) override;

 private:
  // u = a W_a^T + c and v = b W_b^T, the first layer split by input half.
  std::pair<Tensor, Tensor> first_layer(const Tensor& a, const Tensor& b);
  int64_t m_dim;
  double m_slope;
  int64_t m_tile_rows;
  std::shared_ptr<Linear> m_fc1, m_fc2, m_fc3;
};

enum class Similarity { dot, cosine };

class SeparableCritic : public Critic {
 public:
  // head_dim 0: no projection heads.
  SeparableCritic(int64_t dim, Similarity similarity, double temperature, int64_t head_dim,
                  Generator& gen);
  Tensor scores(const Tensor& a, const Tensor& b) override;

 private:
  Similarity m_similarity;
  double m_temperature;
  std::shared_ptr<Sequential> m_head_a, m_head_b;
};

class GaussianKernelCritic : public Critic {
 public:
  // offset: learn the constant c (for NWJ).
  GaussianKernelCritic(double bandwidth, bool offset);
  Tensor scores(const Tensor& a, const Tensor& b) override;

 private:
  double m_bandwidth;
  Tensor m_offset;  // [1], or undefined
};

enum class BoundKind { infonce, dv, nwj };
BoundKind parse_bound(const std::string& name);
const char* bound_label(BoundKind b);

// -I_NCE from scores.
Tensor infonce_from_scores(const Tensor& S);

// One bound with its state (DV's moving average). compute() returns the loss to minimize (its
// gradient is the bound's, corrected for DV) and the bound's value, in nats, as a one-element
// tensor outside the graph: reading it is the caller's choice (item, or item_async so that a GPU
// step is queued whole without waiting). No bound reads anything back itself.
class MiBound {
 public:
  explicit MiBound(BoundKind kind, double dv_ema = 0.01) : m_kind(kind), m_ema(dv_ema) {}
  struct Result {
    Tensor loss;
    Tensor estimate;
  };
  Result compute(Critic& critic, const Tensor& a, const Tensor& b);
  BoundKind kind() const { return m_kind; }
  // DV's moving average of mean exp S, in log space (NaN before the first step). Reading it waits
  // for the device (checkpoints only).
  double log_moving_average() const;
  void set_log_moving_average(double v);

 private:
  BoundKind m_kind;
  double m_ema;
  Tensor m_log_ma;  // one element on the scores' device, outside the graph; undefined at first
  double m_log_ma_restored = std::numeric_limits<double>::quiet_NaN();  // from a checkpoint
};

}  // namespace nidim
