// nidim/tools/eval_dm/main.cpp: the eval_dm program; see cli.h and docs/METRICS.md.
#include "tools/common/main.h"
#include "tools/eval_dm/cli.h"

int main(int argc, char** argv) {
  return nidim::tools::run_tool("eval_dm",
                                [&] { return nidim::eval_dm::eval_dm_main(argc, argv); });
}
