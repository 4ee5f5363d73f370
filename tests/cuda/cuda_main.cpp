// nidim/tests/cuda/cuda_main.cpp: doctest's main for the CUDA suites. Without a CUDA device (or
// in a build without CUDA) it prints one line saying so and exits with 77, which CTest reports as
// "skipped" (SKIP_RETURN_CODE, tests/cuda/CMakeLists.txt); otherwise it runs the suite on device 0.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "core/cuda_runtime.h"

int main(int argc, char** argv) {
  const int devices = nidim::cuda_device_count();
  if (devices == 0) {
    std::printf("skipped: no CUDA device (cuda_device_count() = 0%s)\n",
                nidim::cuda_compiled() ? "" : "; nidim was built without CUDA");
    return 77;
  }
  std::printf("CUDA device 0: %s (%d device(s))\n", nidim::cuda_device_name(0).c_str(), devices);
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  return context.run();
}
