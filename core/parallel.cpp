// nidim/core/parallel.cpp: the thread pool behind parallel_for (see parallel.h).
//
// One job at a time: the caller writes (f, n), then publishes the job word (generation << 16 |
// parts) with one atomic store and runs part 0 itself; worker w runs part w if w < parts. Workers
// wait for a new word by spinning a little, then on a condition variable; the caller waits for the
// remaining count (parts - 1) to reach zero the same way. A mutex held for the whole job keeps a
// second submitting thread out: it runs its loop serially instead (try_lock).
// The generation and the part count travel in one word because a worker that sat out one job can
// wake late, when the caller is already writing the next: reading the count separately, it could
// take the next job's count with the old generation, run its part, then see the new generation
// and run it again, and the extra decrement left the next count below zero: the caller waited
// forever (found on a 16-core machine; tests/core reproduces it with 8 threads on 2 cores).
// With the word, a worker's generation and count always belong to the same job, and only the
// job's participants read f and n, which stay put until they have all finished.
#include "core/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NIDIM_PAUSE() _mm_pause()
#else
#define NIDIM_PAUSE() ((void)0)
#endif

namespace nidim {

namespace {

constexpr int spin_iterations = 400;  // ~20 us of pause instructions before sleeping

thread_local bool t_in_task = false;

class Pool {
 public:
  explicit Pool(int threads) { resize(threads); }
  ~Pool() { stop_workers(); }

  int threads() const { return m_threads; }

  void resize(int threads) {
    std::lock_guard<std::mutex> job(m_job_mutex);
    stop_workers();
    m_threads = std::clamp(threads, 1, static_cast<int>(parts_mask));
    m_stop = false;
    const uint64_t start = m_job.load(std::memory_order_acquire);
    for (int w = 1; w < m_threads; ++w)
      m_workers.emplace_back([this, w, start] { worker(w, start); });
  }

  void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f) {
    const int64_t max_parts = (n + grain - 1) / std::max<int64_t>(grain, 1);
    const int parts = static_cast<int>(std::min<int64_t>(m_threads, max_parts));
    // Nested (inside a part, whose thread may hold the job lock already) or too small: inline.
    if (t_in_task || parts <= 1) {
      f(0, n);
      return;
    }
    std::unique_lock<std::mutex> job(m_job_mutex, std::try_to_lock);
    if (!job.owns_lock()) {  // another thread's job is running
      f(0, n);
      return;
    }
    m_fn = &f;
    m_n = n;
    m_error = nullptr;
    m_remaining.store(parts - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_job.store(next_word(parts), std::memory_order_release);
    }
    m_wake.notify_all();
    run_part(0, parts);
    for (int i = 0; i < spin_iterations && m_remaining.load(std::memory_order_acquire) != 0; ++i)
      NIDIM_PAUSE();
    if (m_remaining.load(std::memory_order_acquire) != 0) {
      std::unique_lock<std::mutex> lock(m_mutex);
      m_done.wait(lock, [&] { return m_remaining.load(std::memory_order_acquire) == 0; });
    }
    if (m_error) std::rethrow_exception(m_error);
  }

 private:
  static constexpr uint64_t parts_mask = 0xffff;  // m_threads <= 65535 (resize)

  // The next job's word: the generation after the current one, with `parts`.
  uint64_t next_word(int parts) const {
    const uint64_t generation = (m_job.load(std::memory_order_relaxed) >> 16) + 1;
    return (generation << 16) | static_cast<uint64_t>(parts);
  }

  void run_part(int part, int parts) {
    const int64_t begin = m_n * part / parts, end = m_n * (part + 1) / parts;
    if (begin >= end) return;
    t_in_task = true;
    try {
      (*m_fn)(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(m_mutex);
      if (!m_error) m_error = std::current_exception();
    }
    t_in_task = false;
  }

  void worker(int w, uint64_t seen) {
    for (;;) {
      for (int i = 0; i < spin_iterations && m_job.load(std::memory_order_acquire) == seen; ++i)
        NIDIM_PAUSE();
      if (m_job.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_wake.wait(lock, [&] { return m_stop || m_job.load(std::memory_order_acquire) != seen; });
      }
      if (m_stop) return;
      seen = m_job.load(std::memory_order_acquire);  // this job's generation and parts, together
      const int parts = static_cast<int>(seen & parts_mask);
      if (w < parts) {
        run_part(w, parts);
        if (m_remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
          std::lock_guard<std::mutex> lock(m_mutex);
          m_done.notify_one();
        }
      }
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_stop = true;
      m_job.store(next_word(0), std::memory_order_release);
    }
    m_wake.notify_all();
    for (std::thread& t : m_workers) t.join();
    m_workers.clear();
  }

  int m_threads = 1;
  std::vector<std::thread> m_workers;
  std::mutex m_job_mutex;  // one job at a time
  std::mutex m_mutex;      // guards sleeping and m_error
  std::condition_variable m_wake, m_done;
  std::atomic<uint64_t> m_job{0};  // generation << 16 | parts of the current job
  std::atomic<int> m_remaining{0};
  const std::function<void(int64_t, int64_t)>* m_fn = nullptr;
  int64_t m_n = 0;
  std::exception_ptr m_error;
  std::atomic<bool> m_stop{false};
};

int hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

Pool& pool() {
  // Never destroyed: kernels may run during static destruction of other objects.
  static Pool* p = new Pool(hardware_threads());
  return *p;
}

}  // namespace

void set_num_threads(int n) {
  pool().resize(n <= 0 ? hardware_threads() : n);
}

int num_threads() {
  return pool().threads();
}

void parallel_for_ranges(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f) {
  pool().run(n, grain, f);
}

}  // namespace nidim
