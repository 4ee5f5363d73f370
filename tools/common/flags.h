// nidim/tools/common/flags.h: CLI11 checks the tools share.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

namespace nidim::tools {

// A seed: a whole number in [0, 2^64 - 1]. (CLI11 alone turns "-1" into 2^64 - 1 and clamps
// numbers beyond the range.)
inline CLI::Validator seed_value() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        const std::string bad = "expected a whole number in [0, 2^64 - 1], got " + v;
        if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) return bad;
        errno = 0;
        std::strtoull(v.c_str(), nullptr, 10);
        return errno == ERANGE ? bad : std::string();
      },
      "", "seed");
}

// A finite number > 0. (CLI::PositiveNumber's message prints the whole range of a double.)
inline CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        const std::string bad = "expected a finite number > 0, got " + v;
        char* end = nullptr;
        errno = 0;
        const double x = std::strtod(v.c_str(), &end);
        if (v.empty() || *end != '\0' || errno == ERANGE || !(x > 0) || !std::isfinite(x))
          return bad;
        return std::string();
      },
      "", "positive number");
}

}  // namespace nidim::tools
