// nidim/tools/common/main.h: the outermost frame of every command-line tool.
//
// run_tool(name, body) runs body() and turns any escaping exception into one line on stderr,
//   "<name>: error: <message>"
// and exit status 1 (2 for std::bad_alloc: out of memory). Library code throws nidim::Error with
// a message naming the file, flag or shape; this is the only place that prints it. Command-line
// parse errors are handled by the tool itself (CLI11's exit codes and help text).
#pragma once

#include <functional>

namespace nidim::tools {

int run_tool(const char* name, const std::function<int()>& body);

}  // namespace nidim::tools
