// nidim/tools/common/progress.h: a progress line for long work, on stderr.
//
// Policy: when stderr is a terminal, one line redrawn in place ("\r") at most 10 times a second:
//   "  bootstrap (train) [########............]  41%  3.2 s"
// and replaced at the end by "  bootstrap (train): done in 7.9 s". When stderr is not a terminal
// (a log file, CI), nothing is drawn while the work runs and only the final "done" line is
// printed, so logs get one line per phase. Disabled (--quiet): silent.
//
// update() may be called from any thread (a mutex guards the output); stats:: functions call it
// from one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace nidim::tools {

class Progress {
 public:
  Progress(std::string label, bool enabled);
  ~Progress();  // calls finish() if it was not called
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(int64_t done, int64_t total);
  // An adapter for stats::ProgressFn.
  std::function<void(int64_t, int64_t)> fn();
  // Prints the final line; returns the elapsed seconds.
  double finish();

 private:
  std::string m_label;
  bool m_enabled;
  bool m_tty;
  bool m_finished = false;
  bool m_drawn = false;
  std::chrono::steady_clock::time_point m_start, m_last;
  std::mutex m_mutex;
};

// Whether stderr is a terminal.
bool stderr_is_tty();

}  // namespace nidim::tools
