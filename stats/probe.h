// nidim/stats/probe.h: the two probes that score frozen features in self-supervised learning
// papers (SimCLR, VICReg, solo-learn's Table 1): a linear classifier trained by SGD, and the
// weighted k-nearest-neighbour classifier of InstDisc. Plain arrays in, top-1 / top-5 out.
//
//   fit_linear_probe   softmax regression logits = x W^T + b (PyTorch nn.Linear's layout and
//                      default initialization: W and b uniform in +-1/sqrt(D)), trained on the
//                      mean cross-entropy of mini-batches by torch.optim.SGD's rule with momentum
//                      and Nesterov (dampening 0):
//                          g = dL/dp + wd p   (wd on W only, not on b),
//                          buf = mu buf + g   (buf = g at the first step),
//                          p  -= lr_e (g + mu buf)
//                      lr_e = lr batch / 256 * (1 + cos(pi e / E)) / 2 for epoch e in [0, E):
//                      the cosine schedule stepped once per epoch (PyTorch's CosineAnnealingLR
//                      with T_max = E, eta_min = 0, scheduler.step() after each epoch, as
//                      solo-learn's linear evaluation with scheduler_interval "epoch").
//                      Rows are reshuffled each epoch (Fisher-Yates on Philox); the last batch
//                      of an epoch may be smaller (DataLoader's drop_last=False). With wd > 0
//                      the objective mean CE + wd |W|^2 / 2 is strongly convex and is that of
//                      scikit-learn's multinomial LogisticRegression with C = 1 / (N wd).
//   knn_probe          Wu et al., "Unsupervised Feature Learning via Non-Parametric Instance
//                      Discrimination" (CVPR 2018), section 3.4, as solo-learn's
//                      WeightedKNNClassifier: rows L2-normalized, s_ij = cosine similarity of
//                      test row i to train row j, the k most similar train rows (k capped at
//                      N_train), class score_c = sum over those with label c of exp(s_ij / T).
//   topk_accuracy      ranks classes by score, descending; equal scores rank the smaller class
//                      first (numpy's stable argsort of -score). Top-k counts a row when its
//                      class is among the first min(k, K); a test label unknown to training
//                      (code -1) is always wrong.
// Ties among neighbours: at equal similarity the smaller train index is nearer (as knn_classify).
//
// Why not nn's engine (Linear, cross_entropy, SGD): stats needs only core (ARCHITECTURE.md), and
// the probe is one small matrix product and its gradient per step; in double precision here its
// trajectory is PyTorch's float64 one up to rounding (tests/stats/test_probe.cpp).
//
// Randomness: initialization from Generator(seed, 0) (W row-major, then b), shuffles from
// Generator(seed, 1). Threads: every number is computed by one thread in a fixed order, so
// results do not depend on the thread count. A training step is split over threads only when its
// product is large (kProbeParallelWork in probe.cpp): MNIST-sized steps (256 x 512 x 10) run
// faster on one thread than across a shared pool. The kNN streams the similarities in tiles:
// memory O((N_train + N_test) D + N_test (k + K)), never N_test x N_train.
//
// Left out: warm-up, other schedules, label smoothing, feature standardization or batch-norm
// before the linear layer, data augmentation (the features are fixed), mixed precision.
//
// Legend: N rows, D features, K classes, B batch rows.
#pragma once

#include <cstdint>
#include <vector>

#include "stats/result.h"

namespace nidim::stats {

// ---- top-k accuracy -----------------------------------------------------------------------------

struct TopKAccuracy {
  double top1 = 0, topk = 0;
  int64_t k = 0;                   // min(requested, K)
  std::vector<int64_t> predicted;  // N, the first-ranked class
};

// scores: N x K row-major; y: codes in [0, K) or -1 (never counted).
TopKAccuracy topk_accuracy(const double* scores, int64_t n, int64_t k_classes, const int64_t* y,
                           int64_t top_k);

// ---- linear probe -------------------------------------------------------------------------------

struct LinearProbeOptions {
  int64_t epochs = 100;
  int64_t batch_size = 256;
  double lr = 0.1;  // base rate: the rate used is lr * batch_size / 256
  double momentum = 0.9;
  bool nesterov = true;
  double weight_decay = 0.0;  // on W only
  bool shuffle = true;        // false: rows in file order every epoch (tests)
  uint64_t seed = 0;

  double scaled_lr() const { return lr * static_cast<double>(batch_size) / 256.0; }
  // The rate of epoch e (cosine, stepped per epoch).
  double epoch_lr(int64_t epoch) const;
};

struct LinearProbeModel {
  int64_t d = 0, k = 0;
  std::vector<double> w;           // K x D (nn.Linear's weight)
  std::vector<double> b;           // K
  std::vector<double> loss_curve;  // per epoch: mean over rows of the loss at the forward pass

  std::vector<double> logits(const double* x, int64_t n) const;  // N x K
};

// U(-1/sqrt(D), 1/sqrt(D)) for W (row-major) then b, from Generator(seed, 0): nn.Linear's
// reset_parameters (kaiming_uniform_ with a = sqrt(5) gives exactly this bound).
LinearProbeModel init_linear_probe(int64_t d, int64_t k, uint64_t seed);

// x: N x D; y: codes in [0, K), K >= 2. Starts from `init` (init_linear_probe when null).
// progress(epoch, epochs) after each epoch.
LinearProbeModel fit_linear_probe(const double* x, int64_t n, int64_t d, const int64_t* y,
                                  int64_t k, const LinearProbeOptions& opt = {},
                                  const LinearProbeModel* init = nullptr, ProgressFn progress = {});

// ---- weighted kNN -------------------------------------------------------------------------------

struct KnnProbeOptions {
  int64_t k = 200;  // capped at N_train
  double temperature = 0.07;
};

struct KnnProbeResult {
  int64_t neighbors = 0;       // min(k, N_train)
  std::vector<double> scores;  // N_test x K class scores
};

// train: N_train x D, labels codes in [0, K); test: N_test x D. Rows are divided by
// max(|x|, 1e-12) as torch.nn.functional.normalize does, so a zero row stays zero (similarity 0
// to everything). progress(done, total) over blocks of test rows.
KnnProbeResult knn_probe(const double* train, int64_t n_train, int64_t d, const int64_t* train_y,
                         int64_t k_classes, const double* test, int64_t n_test,
                         const KnnProbeOptions& opt = {}, ProgressFn progress = {});

}  // namespace nidim::stats
