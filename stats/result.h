// nidim/stats/result.h: the value every statistical test returns, and the progress callback
// long computations accept.
//
// A test either ran (statistic and p-value are finite numbers, or +inf where the statistic
// diverges) or is "not applicable" with a reason a person can read ("constant input",
// "needs at least 8 observations, got 5"). Library code never returns a bare NaN: where scipy
// would return nan or raise ValueError for a statistical reason, we return not_applicable.
// Malformed input (NaN or Inf values, mismatched sizes) is a programming or data error and throws
// nidim::Error instead.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>

namespace nidim::stats {

struct TestResult {
  double statistic = std::numeric_limits<double>::quiet_NaN();
  double pvalue = std::numeric_limits<double>::quiet_NaN();
  std::string not_applicable;  // empty when the test ran
  std::string note;            // a caveat that does not stop the test ("n > 5000: ...")

  bool applicable() const { return not_applicable.empty(); }
  static TestResult na(std::string reason) {
    TestResult r;
    r.not_applicable = std::move(reason);
    return r;
  }
  static TestResult of(double statistic, double pvalue) {
    TestResult r;
    r.statistic = statistic;
    r.pvalue = pvalue;
    return r;
  }
};

// A single number that may be undefined (the skewness of constant data).
struct Estimate {
  double value = std::numeric_limits<double>::quiet_NaN();
  std::string not_applicable;

  bool applicable() const { return not_applicable.empty(); }
  static Estimate na(std::string reason) {
    Estimate e;
    e.not_applicable = std::move(reason);
    return e;
  }
  static Estimate of(double value) {
    Estimate e;
    e.value = value;
    return e;
  }
};

// Progress of a long computation: called with (done, total) from one thread at a time, at most a
// few hundred times per call, and once with done == total at the end. May be empty.
using ProgressFn = std::function<void(int64_t done, int64_t total)>;

}  // namespace nidim::stats
