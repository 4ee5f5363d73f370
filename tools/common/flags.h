// nidim/tools/common/flags.h: CLI11 checks the tools share.
#pragma once

#include <cerrno>
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

}  // namespace nidim::tools
