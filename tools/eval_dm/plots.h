// nidim/tools/eval_dm/plots.h: eval_dm's figures in the output folder, each in every format of
// --plot-format (scatter_train.png, scatter_train.svg, ...; tools/common/plot.h draws them).
//
//   scatter_<set>         d = 2 only: the embeddings (up to 20 000 points, a seeded subsample),
//                         coloured by class, over contour lines of the prior's density that
//                         enclose 39%, 86% and 99% of its mass (for the uniform prior: the unit
//                         square).
//   projections           histograms of the embeddings projected on 4 random unit directions,
//                         in N(0, 1) coordinates (after the change of variables), against the
//                         N(0, 1) density.
//   qq                    Q-Q plots of the same projections against N(0, 1) quantiles.
//   marginals             histograms of the first (up to 4) coordinates in the prior's own
//                         coordinates against the prior's density.
//   bootstrap_pvalues     the distribution of the per-repetition p-values of each bootstrapped
//                         test (uniform on [0, 1] under the null), train and test overlaid.
// Directions and subsamples come from Philox streams derived from --seed, so reruns draw the
// same figures. Each function returns the names of the files it wrote.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "stats/bootstrap.h"
#include "stats/priors.h"
#include "tools/common/plot.h"

namespace nidim::eval_dm {

// Where the figures go: the folder and the formats.
struct PlotOutput {
  std::string dir;
  std::vector<tools::PlotFormat> formats;
};

std::vector<std::string> plot_scatter(const PlotOutput& out, const std::string& set_name,
                                      const double* y, int64_t n,
                                      const std::vector<int64_t>& labels, stats::Prior prior,
                                      uint64_t seed);
// Writes projections and qq; z is N x d in N(0, 1) coordinates.
std::vector<std::string> plot_projections(const PlotOutput& out, const std::string& set_name,
                                          const double* z, int64_t n, int64_t d, uint64_t seed);
std::vector<std::string> plot_marginals(const PlotOutput& out, const std::string& set_name,
                                        const double* y, int64_t n, int64_t d, stats::Prior prior);
std::vector<std::string> plot_bootstrap_pvalues(
    const PlotOutput& out,
    const std::vector<std::pair<std::string, const stats::BootstrapResult*>>& results);

}  // namespace nidim::eval_dm
