// nidim/tools/common/progress.cpp: see progress.h.
#include "tools/common/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace nidim::tools {

bool stderr_is_tty() {
  return ::isatty(STDERR_FILENO) == 1;
}

Progress::Progress(std::string label, bool enabled)
    : m_label(std::move(label)),
      m_enabled(enabled),
      m_tty(enabled && stderr_is_tty()),
      m_start(std::chrono::steady_clock::now()),
      m_last(m_start) {}

Progress::~Progress() {
  if (!m_finished) finish();
}

void Progress::update(int64_t done, int64_t total) {
  if (!m_tty || total <= 0) return;
  std::lock_guard<std::mutex> lock(m_mutex);
  const auto now = std::chrono::steady_clock::now();
  if (m_drawn && now - m_last < std::chrono::milliseconds(100) && done < total) return;
  m_last = now;
  m_drawn = true;
  constexpr int width = 24;
  const double frac = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
  const int filled = static_cast<int>(frac * width);
  const double secs = std::chrono::duration<double>(now - m_start).count();
  std::fprintf(stderr, "\r  %s [%s%s] %3d%%  %.1f s\033[K", m_label.c_str(),
               std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
               static_cast<int>(100 * frac), secs);
  std::fflush(stderr);
}

std::function<void(int64_t, int64_t)> Progress::fn() {
  return [this](int64_t done, int64_t total) { update(done, total); };
}

double Progress::finish() {
  std::lock_guard<std::mutex> lock(m_mutex);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
  if (m_finished) return secs;
  m_finished = true;
  if (!m_enabled) return secs;
  if (m_tty) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "  %s: done in %.1f s\n", m_label.c_str(), secs);
  std::fflush(stderr);
  return secs;
}

}  // namespace nidim::tools
