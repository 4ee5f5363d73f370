// nidim/ssl/objective.cpp: see objective.h. The one place that knows every method's name.
#include "ssl/objective.h"

#include <cmath>

#include "core/error.h"
#include "ssl/contrastive.h"
#include "ssl/dim.h"

namespace nidim {

std::string Objective::nonfinite_hint(int64_t global_step) const {
  return global_step > 1 ? "a smaller --lr?" : "";
}

void Objective::evaluate(const Tensor&, const std::vector<int32_t>&, const Tensor&,
                         const std::vector<int32_t>&, nlohmann::json&) {}

void Objective::save_state(nlohmann::json&) const {}

void Objective::load_state(const nlohmann::json&) {}

std::unique_ptr<Objective> make_objective(const ObjectiveSetup& setup, Generator& init) {
  const std::string& m = setup.config.method;
  if (m == "dim") return make_dim_objective(setup, init);
  if (m == "simclr") return make_simclr_objective(setup, init);
  if (m == "vicreg") return make_vicreg_objective(setup, init);
  NIDIM_FAIL("--method '{}': expected dim, simclr or vicreg", m);
}

void log_certificate(const RunConfig& config, double mi, nlohmann::json& line) {
  line["mi_estimate"] = mi;
  if (config.noise) {
    line["capacity"] = config.capacity();
    line["capacity_per_dim"] = config.channel.capacity_per_dim();
    line["kl_bound"] = config.capacity() - mi;
  } else {
    line["certificate_not_applicable"] = "no noise injected (--no-noise)";
  }
}

std::string certificate_progress(const RunConfig& config, double mi) {
  if (!config.noise) return fmt::format("MI {:.3f}", mi);
  const double c = config.capacity();
  return fmt::format("MI {:.3f}  C {:.3f}  KL<= {:.3f}", mi, c, c - mi);
}

double warmup_cosine(int64_t step, int64_t warmup, int64_t total) {
  NIDIM_CHECK(step >= 1 && warmup >= 0 && total >= 1,
              "warmup_cosine: step {} (from 1), warm-up {}, total {}", step, warmup, total);
  if (step <= warmup) return static_cast<double>(step) / static_cast<double>(warmup);
  // After the warm-up: 1 at its first step, decreasing to just above 0 at the last.
  const double progress =
      static_cast<double>(step - warmup - 1) / static_cast<double>(std::max<int64_t>(total - warmup, 1));
  return 0.5 * (1.0 + std::cos(M_PI * std::min(progress, 1.0)));
}

}  // namespace nidim
