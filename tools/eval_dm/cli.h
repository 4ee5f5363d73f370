// nidim/tools/eval_dm/cli.h: eval_dm's command line (CLI11) and the top-level flow: read the
// inputs, evaluate, print the report, write metrics.json, report.txt and the plots into --out.
// In a library so that tests can run the whole tool in-process.
#pragma once

namespace nidim::eval_dm {

// Returns the exit status; nidim::Error escapes (tools/common/main.h turns it into one line).
int eval_dm_main(int argc, char** argv);

}  // namespace nidim::eval_dm
