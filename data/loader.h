// nidim/data/loader.h: Loader, which shuffles, batches, augments and prefetches an ImageDataset.
//
// Determinism contract (docs/DATA.md):
//   * The order of epoch e is a Fisher-Yates shuffle drawn from the Philox stream
//     (seed, 2^63 + e): it depends only on (seed, epoch), never on what ran before.
//   * A sample's augmentation depends only on (seed, epoch, dataset index, view) (SampleRng).
//   * So the batches of an epoch are identical whatever the number of workers, and
//     start_epoch(e, k) yields exactly batches k, k+1, ... of a run started at batch 0: a
//     training run resumes from (epoch, batch).
// Batches come whole, as tensors ([B, C, H, W] float32 images, [B] int32 labels) filled in
// place, with no per-sample tensors. Pipeline per sample: scale to [0, 1], augment, normalize.
//
// Threads: with num_workers = 0 next() builds each batch itself. Otherwise the workers build
// whole batches ahead of the consumer, at most max(prefetch, num_workers) batches past the one
// next() will return, and next() hands them out in order. Prefetching stays within the epoch:
// the first batch of the next epoch is started by start_epoch. A worker's exception reaches the
// consumer as a nidim::Error from next() for the batch it was building. The destructor stops and
// joins the workers. A Loader is driven by one thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/tensor.h"
#include "data/augment.h"
#include "data/dataset.h"

namespace nidim {

struct LoaderOptions {
  int64_t batch_size = 256;
  bool shuffle = true;
  bool drop_last = false;  // drop the last, smaller batch
  uint64_t seed = 0;
  int num_workers = 0;  // 0: synchronous
  int prefetch = 4;     // batches built ahead of the consumer (>= 1; raised to num_workers)
  // One view: `augment` (null: none). Two views: `two_views` (then `augment` must be null).
  std::shared_ptr<const Augmentation> augment;
  std::shared_ptr<const TwoViews> two_views;
};

struct Batch {
  int64_t epoch = 0, index = 0;  // batch `index` of epoch `epoch`
  Tensor images;                 // [B, C, H, W] float32 (view 0)
  Tensor images2;                // [B, C, H, W] float32, view 1; undefined with one view
  Tensor labels;                 // [B] int32
  Tensor indices;                // [B] int64: the dataset index of each sample
  int64_t size() const { return labels.defined() ? labels.numel() : 0; }
};

class Loader {
 public:
  Loader(std::shared_ptr<const ImageDataset> dataset, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  int64_t batches_per_epoch() const;
  const LoaderOptions& options() const { return m_opt; }
  const ImageDataset& dataset() const { return *m_dataset; }

  // Starts epoch `epoch` at batch `first_batch` (0 <= first_batch <= batches_per_epoch()),
  // dropping whatever was prefetched for the previous one.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch of the current epoch into `out`; false when the epoch is over.
  bool next(Batch& out);

  // The sample order of an epoch (dataset indices), as the loader uses it.
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  // Builds batch `index` of `epoch` directly (what a worker runs).
  Batch make_batch(int64_t epoch, int64_t index) const;

 private:
  struct Slot {
    bool ready = false;
    Batch batch;
    std::exception_ptr error;
  };
  Batch build(const std::vector<int64_t>& order, int64_t epoch, int64_t index) const;
  void worker_loop();
  void stop_workers();  // asks the workers to stop and joins them
  [[noreturn]] void rethrow(std::exception_ptr error, int64_t epoch, int64_t index) const;

  std::shared_ptr<const ImageDataset> m_dataset;
  LoaderOptions m_opt;
  int64_t m_window = 1;  // batches built ahead: max(prefetch, num_workers)

  std::mutex m_mutex;
  std::condition_variable m_work_cv, m_ready_cv;
  std::vector<std::thread> m_workers;
  bool m_stop = false;
  bool m_started = false;
  uint64_t m_generation = 0;  // bumped by start_epoch; results of older generations are dropped
  int64_t m_epoch = 0;
  std::shared_ptr<const std::vector<int64_t>> m_order;
  int64_t m_next_dispatch = 0, m_next_consume = 0, m_end = 0;
  std::map<int64_t, Slot> m_slots;  // batches being built or ready, by index
};

}  // namespace nidim
