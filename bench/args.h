// nidim/bench/args.h: the command-line number parsing the step benchmarks (dim_step,
// resnet_step) share. Errors are exceptions naming the flag; the programs print them.
#pragma once

#include <cstdint>
#include <string>

#include "core/error.h"

namespace nidim {

// `text` as a whole number >= least; anything else (trailing characters too) is an error.
inline int64_t parse_whole_number(const std::string& flag, const std::string& text, int64_t least) {
  size_t used = 0;
  int64_t n = least - 1;
  try {
    n = std::stoll(text, &used);
  } catch (const std::exception&) {
  }
  NIDIM_CHECK(used == text.size() && n >= least, "{}: expected a whole number >= {}, got '{}'",
              flag, least, text);
  return n;
}

}  // namespace nidim
