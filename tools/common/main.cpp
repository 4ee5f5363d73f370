// nidim/tools/common/main.cpp: see main.h.
#include "tools/common/main.h"

#include <cstdio>
#include <exception>
#include <new>

#include "core/error.h"

namespace nidim::tools {

int run_tool(const char* name, const std::function<int()>& body) {
  try {
    return body();
  } catch (const nidim::Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", name, e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%s: error: out of memory\n", name);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", name, e.what());
    return 1;
  }
}

}  // namespace nidim::tools
