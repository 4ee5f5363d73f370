// nidim/tools/eval_dm/eval.h: what eval_dm computes and how it is reported: the normality tests
// (the authors' bootstrap protocol, or --exact), distances to the prior, the KL certificate,
// downstream classifiers and clustering scores; the metrics.json document (schema in
// docs/METRICS.md), the text report and the plots.
//
// Every statistic is either a number or {"not_applicable": "<reason>"} in the JSON and
// "n/a (<reason>)" in the report; a section that fails with nidim::Error is recorded the same
// way instead of stopping the whole evaluation. Non-finite numbers never reach the JSON.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "stats/priors.h"
#include "tools/common/plot.h"
#include "tools/eval_dm/inputs.h"

namespace nidim::eval_dm {

struct EvalOptions {
  stats::Prior prior = stats::Prior::kGaussian;
  std::string prior_source = "default";  // "--prior", "config.json" or "default"
  bool exact = false;
  int64_t repetitions = 1024;
  int64_t subsample = 64;
  uint64_t seed = 0;
  int64_t distance_rows = 4096;  // cap on rows for MMD and energy distance (O(n^2))
  int64_t directions = 128;      // sliced Wasserstein directions
  int64_t neighbors = 5;
  int64_t mlp_max_iter = 1000;
  bool distances = true;
  bool classifiers = true;
  bool plots = true;
  std::vector<tools::PlotFormat> plot_formats{tools::PlotFormat::kPng};
  bool progress = true;
  std::string out_dir;
  int threads = 0;  // as set by --threads (0: all cores)
};

struct Evaluation {
  nlohmann::ordered_json metrics;  // keys in the order of docs/METRICS.md
  std::string report;
  std::vector<std::string> plots;  // file names written into out_dir, every format
};

// train and/or test may be null (at least one must be given). Writes the plots (when enabled)
// but not metrics.json: the caller does.
Evaluation evaluate(const EmbeddingSet* train, const EmbeddingSet* test, const RunInfo& info,
                    const EvalOptions& opt);

// The authors' protocol (METHOD.md §6): the mean and standard deviation (population, as numpy's
// std) of every number that all of `documents` (metrics.json documents of evaluations at `epochs`,
// in that order, chosen at multiples of `every` epochs in the last `window`) have, outside
// inputs, options, the change of variables, plots, timings and notes, keyed by JSON pointer
// ("/classifiers/knn/accuracy"). Returns metrics.json's "protocol" object and appends the
// report's section to `report`.
nlohmann::ordered_json summarize_protocol(const std::vector<int64_t>& epochs,
                                          const std::vector<nlohmann::ordered_json>& documents,
                                          int64_t window, int64_t every, std::string& report);

// Replaces every non-finite number in j by {"not_applicable": "not a finite number"} and returns
// how many there were.
int64_t sanitize_json(nlohmann::ordered_json& j);

}  // namespace nidim::eval_dm
