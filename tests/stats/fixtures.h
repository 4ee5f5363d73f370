// nidim/tests/stats/fixtures.h: reading the reference values of tests/fixtures/stats (written by
// make_fixtures.py there) and comparing with a stated tolerance.
//
// JSON has no NaN or infinity, so the script writes them as the strings "nan", "inf", "-inf";
// num() turns those back into doubles. close() passes when |got - want| <= abs + rel * |want|.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nidim_test {

inline nlohmann::json load_fixture(const std::string& name) {
  const std::string path = std::string(NIDIM_FIXTURES) + "/stats/" + name;
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(),
                  "missing fixture " << path << " (run tests/fixtures/stats/make_fixtures.py)");
  return nlohmann::json::parse(in);
}

inline double num(const nlohmann::json& j) {
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  return j.get<double>();
}

inline std::vector<double> vec(const nlohmann::json& j) {
  std::vector<double> v;
  v.reserve(j.size());
  for (const auto& e : j) v.push_back(num(e));
  return v;
}

// A JSON array of rows as a row-major n x d matrix.
inline std::vector<double> matrix(const nlohmann::json& rows, int64_t* n, int64_t* d) {
  std::vector<double> x;
  *n = static_cast<int64_t>(rows.size());
  *d = static_cast<int64_t>(rows[0].size());
  for (const auto& r : rows)
    for (const auto& v : r) x.push_back(num(v));
  return x;
}

inline std::vector<int64_t> ivec(const nlohmann::json& j) {
  std::vector<int64_t> v;
  for (const auto& e : j) v.push_back(e.get<int64_t>());
  return v;
}

inline bool close(double got, double want, double rel, double abs = 0.0) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::fabs(got - want) <= abs + rel * std::fabs(want);
}

}  // namespace nidim_test

// CHECK_CLOSE(got, want, rel, abs) with both values in the failure message.
#define CHECK_CLOSE(got, want, rel, abs_tol)                                                   \
  do {                                                                                         \
    const double got_ = (got), want_ = (want);                                                 \
    CHECK_MESSAGE(::nidim_test::close(got_, want_, (rel), (abs_tol)),                          \
                  #got << " = " << got_ << ", want " << want_ << " (rel " << (rel) << ", abs " \
                       << (abs_tol) << ", diff " << (got_ - want_) << ")");                    \
  } while (0)
