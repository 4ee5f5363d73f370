// nidim/stats/classifiers.h: the downstream classifiers of the evaluation protocol and their
// scores, with scikit-learn 1.2's defaults and semantics, fitted on train embeddings and scored
// on test embeddings.
//
//   fit_logistic     LogisticRegression(): L2 penalty, C = 1, lbfgs; multinomial (softmax with
//                    one weight vector per class) for K > 2 classes, one weight vector for K = 2;
//                    intercepts not penalized. Objective sum_i log-loss_i + |W|^2 / (2C),
//                    minimized by L-BFGS (Nocedal & Wright, Numerical Optimization, 2nd ed.,
//                    Algorithms 7.4-7.5, memory 10, strong-Wolfe line search Algorithms 3.5-3.6)
//                    with scipy's stopping rules: max |gradient| <= tol (1e-4), relative decrease
//                    <= 2.2e-9, or max_iter (100) iterations.
//   fit_gaussian_nb  GaussianNB(var_smoothing=1e-9): per-class means and biased variances plus
//                    var_smoothing * (largest per-feature variance of all the training data).
//   knn_classify     KNeighborsClassifier(n_neighbors=5): Euclidean, uniform weights,
//                    probabilities = vote fractions, prediction = the most voted class, ties to
//                    the smallest class (scipy.stats.mode's rule, which scikit-learn uses).
//                    Neighbours at exactly equal distance: the smaller training index first.
//   fit_mlp          MLPClassifier(alpha=1.0, max_iter=1000): one hidden layer of 100 ReLU
//                    units, Glorot-uniform initialization, softmax output (one logistic unit for
//                    K = 2), mean log-loss + alpha |W|^2 / (2 batch) per mini-batch of
//                    min(200, N), Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8), reshuffled every
//                    epoch; stops when the epoch loss has not improved by tol = 1e-4 for more
//                    than 10 epochs, or after max_iter epochs.
// Randomness (MLP initialization and shuffles) comes from Philox (Generator(seed, 0)), so
// results are reproducible but not numpy's. Everything runs in double precision on all the
// threads with fixed reduction orders (results do not depend on the thread count); kNN streams
// the distances in tiles (memory O((N_train + N_test) D), not N_test x N_train).
//
//   accuracy, f1_micro, roc_auc_ovo: sklearn.metrics.accuracy_score, f1_score(average="micro"),
//   roc_auc_score(multi_class="ovo") (Hand & Till 2001: the mean over class pairs (a, b) of
//   (AUC(a | b) + AUC(b | a)) / 2, ties in scores counted one half; for K = 2 the binary AUC of
//   class 1's probability).
//
// Labels: classes are coded 0..K-1 by encode_labels (sorted distinct values, like
// scikit-learn's LabelEncoder); test labels absent from training are coded -1 (always wrong).
// Left out: sample weights, class weights, other solvers and penalties, early stopping.
//
// Legend: N rows, D features, K classes, H hidden units.
#pragma once

#include <cstdint>
#include <vector>

#include "stats/result.h"

namespace nidim::stats {

struct LabelEncoding {
  std::vector<int64_t> classes;  // sorted distinct labels (K)
  std::vector<int64_t> codes;    // per row, in [0, K)
};
LabelEncoding encode_labels(const int64_t* y, int64_t n);
// Codes of y under an existing encoding; labels not in `classes` get -1.
std::vector<int64_t> apply_encoding(const std::vector<int64_t>& classes, const int64_t* y,
                                    int64_t n);

// Class probabilities, N x K row-major.
struct Probabilities {
  int64_t n = 0, k = 0;
  std::vector<double> p;
  // The first class of largest probability per row.
  std::vector<int64_t> argmax() const;
};

// ---- logistic regression ----------------------------------------------------------------------

struct LogisticOptions {
  double c = 1.0;
  double tol = 1e-4;                    // on max |gradient| of the summed objective
  double ftol = 2.220446049250313e-09;  // scipy's L-BFGS-B default relative decrease
  int64_t max_iter = 100;
};

struct LogisticModel {
  int64_t d = 0, k = 0;
  int64_t rows = 0;       // weight vectors: k, or 1 when k == 2
  std::vector<double> w;  // rows x D
  std::vector<double> b;  // rows
  int64_t iterations = 0;
  bool converged = false;
  double objective = 0;

  // decision values N x rows
  std::vector<double> decision(const double* x, int64_t n) const;
  Probabilities predict_proba(const double* x, int64_t n) const;
  std::vector<int64_t> predict(const double* x, int64_t n) const;
};

// y: codes in [0, k), k >= 2 (each class present).
LogisticModel fit_logistic(const double* x, int64_t n, int64_t d, const int64_t* y, int64_t k,
                           const LogisticOptions& opt = {});

// ---- Gaussian naive Bayes ---------------------------------------------------------------------

struct GaussianNbModel {
  int64_t d = 0, k = 0;
  std::vector<double> theta;  // K x D means
  std::vector<double> var;    // K x D variances (smoothed)
  std::vector<double> prior;  // K class frequencies
  double epsilon = 0;         // the added variance

  std::vector<double> joint_log_likelihood(const double* x, int64_t n) const;  // N x K
  Probabilities predict_proba(const double* x, int64_t n) const;
  std::vector<int64_t> predict(const double* x, int64_t n) const;
};

GaussianNbModel fit_gaussian_nb(const double* x, int64_t n, int64_t d, const int64_t* y, int64_t k,
                                double var_smoothing = 1e-9);

// ---- k nearest neighbours ---------------------------------------------------------------------

struct KnnResult {
  Probabilities proba;             // vote fractions
  std::vector<int64_t> predicted;  // the most voted class, ties to the smallest
};

KnnResult knn_classify(const double* train, int64_t n_train, int64_t d, const int64_t* train_y,
                       int64_t k, const double* test, int64_t n_test, int64_t neighbors = 5,
                       ProgressFn progress = {});

// ---- multi-layer perceptron ---------------------------------------------------------------------

struct MlpOptions {
  int64_t hidden = 100;
  double alpha = 1.0;
  double learning_rate = 1e-3;
  int64_t max_iter = 1000;   // epochs
  int64_t batch_size = 200;  // min(batch_size, N) as scikit-learn's "auto"
  double tol = 1e-4;
  int64_t n_iter_no_change = 10;
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
  bool shuffle = true;
  uint64_t seed = 0;
};

struct MlpModel {
  int64_t d = 0, hidden = 0, k = 0, outputs = 0;  // outputs = k, or 1 when k == 2
  std::vector<double> w1, b1;                     // D x H, H
  std::vector<double> w2, b2;                     // H x outputs, outputs
  std::vector<double> loss_curve;
  int64_t iterations = 0;
  bool converged = false;

  Probabilities predict_proba(const double* x, int64_t n) const;
};

// Initial weights, as scikit-learn's _init_coef: U(-b, b) with b = sqrt(6 / (fan_in + fan_out)),
// weights then biases per layer, from Generator(seed, 0).
MlpModel init_mlp(int64_t d, int64_t k, const MlpOptions& opt);
// Trains from `init` (from init_mlp when null). `progress` is called once per epoch with
// (epoch, max_iter).
MlpModel fit_mlp(const double* x, int64_t n, int64_t d, const int64_t* y, int64_t k,
                 const MlpOptions& opt = {}, const MlpModel* init = nullptr,
                 ProgressFn progress = {});

// ---- metrics ------------------------------------------------------------------------------------

double accuracy(const int64_t* y_true, const int64_t* y_pred, int64_t n);
double f1_micro(const int64_t* y_true, const int64_t* y_pred, int64_t n);
// y_true: codes (-1 for classes unknown to the classifier). Not applicable when y_true does not
// contain exactly the K classes of `proba` (scikit-learn raises ValueError then).
Estimate roc_auc_ovo(const int64_t* y_true, const Probabilities& proba);
// The binary AUC of `score` for positives (Mann-Whitney form with mid-ranks for ties).
double binary_auc(const std::vector<double>& score, const std::vector<char>& positive);

}  // namespace nidim::stats
