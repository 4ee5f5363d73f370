// nidim/tools/eval_dm/probe.h: eval_dm --probe: the linear probe and the weighted kNN probe of
// stats/probe.h on frozen features, as self-supervised papers score a backbone (solo-learn's
// Table 1: top-1 / top-5).
//
// Inputs: in a run directory, features_{train,test}.npy (the backbone's features, written by
// SimCLR / VICReg runs) when both exist, else embeddings_{train,test}.npy; labels from
// labels_{train,test}.npy (required). With loose files, --train-features/--test-features with
// --train-labels/--test-labels, else the --train/--test arrays. Both sets need labels, the same
// number of columns and at least 2 training classes; test labels unseen in training count as
// wrong. Bad input throws nidim::Error naming the file or flag (before any evaluation runs).
//
// Output: metrics.json's "probe" (docs/METRICS.md) and a report section. Left out: the protocol
// (evaluations/epoch_E/ hold no features), probes on the other evaluations.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "stats/probe.h"
#include "tools/eval_dm/inputs.h"

namespace nidim::eval_dm {

struct ProbeOptions {
  bool linear = true;
  bool knn = true;
  stats::LinearProbeOptions linear_opt;
  stats::KnnProbeOptions knn_opt;
  bool progress = true;
};

struct ProbeInputs {
  std::string source;  // "features" or "embeddings"
  // Owned when read from features files; else the evaluation's own sets.
  std::unique_ptr<EmbeddingSet> own_train, own_test;
  const EmbeddingSet* train = nullptr;
  const EmbeddingSet* test = nullptr;
};

// run_dir non-empty: the run directory's files. Else train_features/test_features (both or
// neither) with train_labels/test_labels; with neither, `train`/`test` (the embeddings).
ProbeInputs load_probe_inputs(const std::string& run_dir, const std::string& train_features,
                              const std::string& test_features, const std::string& train_labels,
                              const std::string& test_labels, const EmbeddingSet* train,
                              const EmbeddingSet* test, bool drop_nonfinite);

// Runs the probes; returns metrics.json's "probe" and appends the report's section.
nlohmann::ordered_json run_probes(const ProbeInputs& in, const ProbeOptions& opt,
                                  std::string& report);

}  // namespace nidim::eval_dm
