// nidim/tests/stats/test_clustering.cpp: silhouette, Davies-Bouldin and Calinski-Harabasz
// against scikit-learn 1.2 (clustering.json; the script also checks scikit-learn's silhouette
// against exact distances to 1e-12). Tolerance 1e-9 relative.

#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "core/random.h"
#include "fixtures.h"
#include "stats/clustering.h"

using namespace nidim::stats;
using nidim_test::num;

TEST_CASE("clustering scores against scikit-learn") {
  const auto j = nidim_test::load_fixture("clustering.json");
  for (const auto& s : j["sets"]) {
    INFO(s["name"].get<std::string>());
    std::vector<double> x;
    for (const auto& r : s["x"])
      for (const auto& v : r) x.push_back(num(v));
    const std::vector<int64_t> lab = nidim_test::ivec(s["labels"]);
    const int64_t n = static_cast<int64_t>(lab.size()), d = static_cast<int64_t>(x.size()) / n;
    const Estimate sil = silhouette_score(x.data(), n, d, lab.data());
    const Estimate db = davies_bouldin_score(x.data(), n, d, lab.data());
    const Estimate ch = calinski_harabasz_score(x.data(), n, d, lab.data());
    if (s["silhouette"].is_string()) {
      CHECK(sil.not_applicable == "needs between 2 and n - 1 = 19 distinct labels, got 1");
      CHECK_FALSE(db.applicable());
      CHECK_FALSE(ch.applicable());
      continue;
    }
    CHECK_CLOSE(sil.value, num(s["silhouette"]), 1e-9, 1e-14);
    CHECK_CLOSE(db.value, num(s["davies_bouldin"]), 1e-9, 0.0);
    CHECK_CLOSE(ch.value, num(s["calinski_harabasz"]), 1e-9, 0.0);
  }
}

TEST_CASE("silhouette: thread-count independent on a few thousand points") {
  nidim::Generator g(3, 0);
  const int64_t n = 3000, d = 5;
  std::vector<double> x(n * d);
  std::vector<int64_t> lab(n);
  for (int64_t i = 0; i < n; ++i) {
    lab[i] = static_cast<int64_t>(g.uniform_int(4));
    for (int64_t c = 0; c < d; ++c) x[i * d + c] = g.normal() + (c == 0 ? 2.0 * lab[i] : 0.0);
  }
  nidim::set_num_threads(1);
  const double a = silhouette_score(x.data(), n, d, lab.data()).value;
  nidim::set_num_threads(3);
  const double b = silhouette_score(x.data(), n, d, lab.data()).value;
  nidim::set_num_threads(0);
  CHECK(a == b);
}
