// nidim/tests/stats/test_distances.cpp: sliced Wasserstein-2, MMD and energy distance against the
// numpy computations of make_fixtures.py (distances.json): SW_2 through numpy's quantile
// functions on the union of breakpoints (our C++ sweeps integer overlaps instead), MMD and
// energy distance from scipy's cdist matrices and median from pdist.
//
// Tolerance 1e-9 relative (1e-12 absolute for MMD^2, a difference of O(1) averages that can be
// near zero): the same sums in a different order.
#include <cmath>
#include <vector>

#include "fixtures.h"
#include "stats/distances.h"

using namespace nidim::stats;
using nidim_test::matrix;
using nidim_test::num;

TEST_CASE("distances: against numpy / scipy.spatial references") {
  const auto j = nidim_test::load_fixture("distances.json");
  for (const auto& s : j["sets"]) {
    INFO(s["name"].get<std::string>());
    int64_t n, m, d, l, d2, d3;
    const std::vector<double> x = matrix(s["x"], &n, &d);
    const std::vector<double> y = matrix(s["y"], &m, &d2);
    const std::vector<double> dirs = matrix(s["directions"], &l, &d3);
    REQUIRE(d == d2);
    REQUIRE(d == d3);
    CHECK_CLOSE(sliced_wasserstein2(x.data(), n, y.data(), m, d, dirs.data(), l), num(s["sw2"]),
                1e-9, 0.0);
    CHECK_CLOSE(median_heuristic(x.data(), n, y.data(), m, d), num(s["bandwidth"]), 1e-12, 0.0);
    const MmdResult mmd = mmd_gaussian(x.data(), n, y.data(), m, d);
    CHECK_CLOSE(mmd.bandwidth, num(s["bandwidth"]), 1e-12, 0.0);
    CHECK_CLOSE(mmd.mmd2, num(s["mmd2"]), 1e-9, 1e-12);
    CHECK_CLOSE(energy_distance(x.data(), n, y.data(), m, d), num(s["energy"]), 1e-9, 1e-12);
  }
}

TEST_CASE("distances: closed forms") {
  // W_2^2 of {0, 1} against {0, 0, 1}: quantiles 0|1 on halves vs 0|0|1 on thirds differ on
  // (1/3, 1/2) by 1, so W_2^2 = 1/6.
  CHECK_CLOSE(wasserstein2_squared_1d({0.0, 1.0}, {1.0, 0.0, 0.0}), 1.0 / 6.0, 1e-15, 0.0);
  // A shift by c moves every quantile by c.
  CHECK_CLOSE(wasserstein2_squared_1d({1.0, 2.0, 5.0}, {1.5, 2.5, 5.5}), 0.25, 1e-15, 0.0);
  // Identical sets: energy distance 2 E|X-Y| - 2 E|X-X'| with E|X-Y| over all n^2 pairs
  // (diagonal zeros included) = (n-1)/n E|X-X'|, hence -(2/n) E|X-X'|: for {0, 1}, -(2/2) * 1.
  const std::vector<double> a = {0.0, 1.0};
  CHECK_CLOSE(energy_distance(a.data(), 2, a.data(), 2, 1), -1.0, 1e-15, 0.0);
  const std::vector<double> bad = {0.0, NAN};
  CHECK_THROWS(energy_distance(bad.data(), 2, a.data(), 2, 1));
}
