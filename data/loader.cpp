// nidim/data/loader.cpp: see loader.h.
#include "data/loader.h"

#include <algorithm>
#include <numeric>
#include <system_error>

#include "core/error.h"
#include "core/random.h"

namespace nidim {

namespace {
constexpr uint64_t shuffle_stream_base = uint64_t(1) << 63;  // sample streams are indices < 2^63
}

Loader::Loader(std::shared_ptr<const ImageDataset> dataset, LoaderOptions options)
    : m_dataset(std::move(dataset)), m_opt(std::move(options)) {
  NIDIM_CHECK(m_dataset != nullptr, "Loader: no dataset");
  NIDIM_CHECK(m_opt.batch_size > 0, "Loader: batch size {} must be positive", m_opt.batch_size);
  NIDIM_CHECK(m_opt.num_workers >= 0, "Loader: {} workers", m_opt.num_workers);
  NIDIM_CHECK(m_opt.prefetch >= 1, "Loader: prefetch {} must be at least 1", m_opt.prefetch);
  NIDIM_CHECK(!(m_opt.augment && m_opt.two_views),
              "Loader: give either one-view `augment` or `two_views`, not both");
  // A pipeline that ends in Normalize (ssl_augment.h's recipes) on a dataset with its own
  // normalization would normalize each sample twice.
  const bool pipeline_normalizes = (m_opt.augment && m_opt.augment->normalizes()) ||
                                   (m_opt.two_views && m_opt.two_views->normalizes());
  NIDIM_CHECK(!(pipeline_normalizes && m_dataset->normalized()),
              "Loader: {} has a normalization set and the augmentation normalizes too; keep one "
              "(a recipe's mean and std, or the dataset's)",
              m_dataset->name());
  m_window = std::max(m_opt.prefetch, m_opt.num_workers);
  try {
    for (int i = 0; i < m_opt.num_workers; ++i) m_workers.emplace_back([this] { worker_loop(); });
  } catch (const std::system_error& e) {
    stop_workers();  // those already started (the destructor does not run for a failed constructor)
    NIDIM_FAIL("Loader: cannot start {} worker threads: {}", m_opt.num_workers, e.what());
  }
}

Loader::~Loader() {
  stop_workers();
}

void Loader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_stop = true;
  }
  m_work_cv.notify_all();
  for (std::thread& t : m_workers) t.join();
  m_workers.clear();
}

int64_t Loader::batches_per_epoch() const {
  const int64_t n = m_dataset->size(), b = m_opt.batch_size;
  return m_opt.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> Loader::epoch_order(int64_t epoch) const {
  NIDIM_CHECK(epoch >= 0, "Loader: epoch {} is negative", epoch);
  std::vector<int64_t> order(static_cast<size_t>(m_dataset->size()));
  std::iota(order.begin(), order.end(), int64_t(0));
  if (m_opt.shuffle) {
    Generator gen(m_opt.seed, shuffle_stream_base + static_cast<uint64_t>(epoch));
    for (size_t i = order.size(); i > 1; --i)
      std::swap(order[i - 1], order[gen.uniform_int(static_cast<uint64_t>(i))]);
  }
  return order;
}

Batch Loader::build(const std::vector<int64_t>& order, int64_t epoch, int64_t index) const {
  const ImageDataset& ds = *m_dataset;
  const int64_t begin = index * m_opt.batch_size;
  const int64_t count = std::min(m_opt.batch_size, ds.size() - begin);
  NIDIM_CHECK(index >= 0 && index < batches_per_epoch() && count > 0,
              "Loader: batch {} out of range (the epoch has {})", index, batches_per_epoch());
  const ImageDims dims{ds.channels(), ds.height(), ds.width()};
  const int64_t n = dims.numel();

  Batch b;
  b.epoch = epoch;
  b.index = index;
  b.images = Tensor::empty(Shape{count, dims.c, dims.h, dims.w}, DType::f32);
  if (m_opt.two_views) b.images2 = Tensor::empty(Shape{count, dims.c, dims.h, dims.w}, DType::f32);
  b.labels = Tensor::empty(Shape{count}, DType::i32);
  b.indices = Tensor::empty(Shape{count}, DType::i64);
  float* x0 = b.images.data<float>();
  float* x1 = m_opt.two_views ? b.images2.data<float>() : nullptr;
  int32_t* y = b.labels.data<int32_t>();
  int64_t* idx = b.indices.data<int64_t>();
  std::vector<float> plain(m_opt.two_views ? static_cast<size_t>(n) : 0);
  for (int64_t p = 0; p < count; ++p) {
    const int64_t i = order[static_cast<size_t>(begin + p)];
    idx[p] = i;
    y[p] = ds.label(i);
    float* v0 = x0 + p * n;
    if (m_opt.two_views) {
      float* v1 = x1 + p * n;
      ds.copy_scaled(i, plain.data());
      m_opt.two_views->apply(plain.data(), dims, m_opt.seed, static_cast<uint64_t>(epoch),
                             static_cast<uint64_t>(i), v0, v1);
      ds.normalize(v1);
    } else {
      ds.copy_scaled(i, v0);
      if (m_opt.augment) {
        SampleRng rng(m_opt.seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(i), 0);
        m_opt.augment->apply(v0, dims, rng);
      }
    }
    ds.normalize(v0);
  }
  return b;
}

Batch Loader::make_batch(int64_t epoch, int64_t index) const {
  return build(epoch_order(epoch), epoch, index);
}

void Loader::start_epoch(int64_t epoch, int64_t first_batch) {
  NIDIM_CHECK(epoch >= 0, "Loader: epoch {} is negative", epoch);
  NIDIM_CHECK(first_batch >= 0 && first_batch <= batches_per_epoch(),
              "Loader: cannot start epoch {} at batch {} (it has {} batches)", epoch, first_batch,
              batches_per_epoch());
  auto order = std::make_shared<const std::vector<int64_t>>(epoch_order(epoch));
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    ++m_generation;
    m_slots.clear();
    m_epoch = epoch;
    m_order = std::move(order);
    m_next_dispatch = m_next_consume = first_batch;
    m_end = batches_per_epoch();
    m_started = true;
  }
  m_work_cv.notify_all();
}

void Loader::rethrow(std::exception_ptr error, int64_t epoch, int64_t index) const {
  try {
    std::rethrow_exception(error);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    NIDIM_FAIL("Loader: building batch {} of epoch {}: {}", index, epoch, e.what());
  } catch (...) {
    NIDIM_FAIL("Loader: building batch {} of epoch {}: unknown exception", index, epoch);
  }
}

bool Loader::next(Batch& out) {
  if (m_workers.empty()) {
    NIDIM_CHECK(m_started, "Loader: next() before start_epoch()");
    if (m_next_consume >= m_end) return false;
    const int64_t index = m_next_consume++;
    try {
      out = build(*m_order, m_epoch, index);
    } catch (...) {
      rethrow(std::current_exception(), m_epoch, index);
    }
    return true;
  }
  std::unique_lock<std::mutex> lock(m_mutex);
  NIDIM_CHECK(m_started, "Loader: next() before start_epoch()");
  if (m_next_consume >= m_end) return false;
  const int64_t index = m_next_consume;
  m_ready_cv.wait(lock, [&] {
    auto it = m_slots.find(index);
    return it != m_slots.end() && it->second.ready;
  });
  Slot slot = std::move(m_slots[index]);
  m_slots.erase(index);
  ++m_next_consume;
  const int64_t epoch = m_epoch;
  lock.unlock();
  m_work_cv.notify_one();  // room for one more batch ahead
  if (slot.error) rethrow(slot.error, epoch, index);
  out = std::move(slot.batch);
  return true;
}

void Loader::worker_loop() {
  std::unique_lock<std::mutex> lock(m_mutex);
  for (;;) {
    m_work_cv.wait(lock, [&] {
      return m_stop ||
             (m_started && m_next_dispatch < m_end && m_next_dispatch < m_next_consume + m_window);
    });
    if (m_stop) return;
    const int64_t index = m_next_dispatch++;
    const uint64_t generation = m_generation;
    const int64_t epoch = m_epoch;
    const std::shared_ptr<const std::vector<int64_t>> order = m_order;
    m_slots[index];  // in flight
    lock.unlock();

    Slot done;
    try {
      done.batch = build(*order, epoch, index);
    } catch (...) {
      done.error = std::current_exception();
    }
    done.ready = true;

    lock.lock();
    if (generation != m_generation) continue;  // start_epoch dropped this one
    m_slots[index] = std::move(done);
    m_ready_cv.notify_all();
  }
}

}  // namespace nidim
