// nidim/core/error.h: the one family of check macros.
//
// Library code never prints or exits: a failed check throws nidim::Error whose message names the
// op, file or flag and the offending shapes or values, e.g.
//   "matmul: inner dimensions differ: a [2, 3] @ b [4, 5]".
// tools/ catch it, print the one line and exit non-zero. NIDIM_CHECK_LOG is the variant for
// destructors, where throwing is not allowed: it reports on stderr and carries on.
#pragma once

#include <cstdio>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace nidim {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace nidim

// NIDIM_CHECK(cond, "fmt {}", args...): throw nidim::Error with the formatted message.
#define NIDIM_CHECK(cond, ...)                                     \
  do {                                                             \
    if (!(cond)) throw ::nidim::Error(::fmt::format(__VA_ARGS__)); \
  } while (0)

// NIDIM_FAIL("fmt {}", args...): unconditional throw.
#define NIDIM_FAIL(...) throw ::nidim::Error(::fmt::format(__VA_ARGS__))

// NIDIM_CHECK_LOG(cond, ...): for destructors; reports and continues.
#define NIDIM_CHECK_LOG(cond, ...)                                                        \
  do {                                                                                    \
    if (!(cond)) std::fprintf(stderr, "nidim: %s\n", ::fmt::format(__VA_ARGS__).c_str()); \
  } while (0)
