// nidim/tests/data/test_loader.cpp: the loader's contract — every sample once per epoch, batch
// contents equal to the dataset's samples put through the documented pipeline (scale, augment
// with SampleRng(seed, epoch, index, view), normalize), identical batches for any number of
// workers, resumption at batch k, worker errors delivered as nidim::Error, clean shutdown.
#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "data/loader.h"
#include "helpers.h"

using namespace nidim;
using namespace nidim_test;

namespace {

// n samples of C×H×W; pixel k of sample i is (i * 31 + k * 7) % 256, label i % 10.
std::shared_ptr<ImageDataset> synthetic(int64_t n, int64_t c, int64_t h, int64_t w) {
  std::vector<uint8_t> px(static_cast<size_t>(n * c * h * w));
  std::vector<int32_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    y[i] = static_cast<int32_t>(i % 10);
    for (int64_t k = 0; k < c * h * w; ++k)
      px[i * c * h * w + k] = static_cast<uint8_t>((i * 31 + k * 7) % 256);
  }
  return std::make_shared<ImageDataset>("synthetic", std::move(px), std::move(y), c, h, w, 10);
}

std::vector<Batch> run_epoch(Loader& loader, int64_t epoch, int64_t first = 0) {
  loader.start_epoch(epoch, first);
  std::vector<Batch> out;
  Batch b;
  while (loader.next(b)) out.push_back(b);
  return out;
}

bool same_floats(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) return a.defined() == b.defined();
  return a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

bool same_batch(const Batch& a, const Batch& b) {
  return a.epoch == b.epoch && a.index == b.index && same_floats(a.images, b.images) &&
         same_floats(a.images2, b.images2) &&
         a.labels.to_vector<int32_t>() == b.labels.to_vector<int32_t>() &&
         a.indices.to_vector<int64_t>() == b.indices.to_vector<int64_t>();
}

// Throws on the sample whose first pixel is 62/255 (sample 2 of `synthetic`): a std::exception
// for `plain`, a nidim::Error otherwise.
class Failing : public Augmentation {
 public:
  explicit Failing(bool plain) : m_plain(plain) {}
  void apply(float* img, const ImageDims&, SampleRng&) const override {
    if (std::abs(img[0] - 62.0f / 255.0f) < 1e-7f) {
      if (m_plain) throw std::runtime_error("disk on fire");
      NIDIM_FAIL("bad sample here");
    }
  }
  std::string name() const override { return "Failing"; }

 private:
  bool m_plain;
};

}  // namespace

TEST_CASE("loader: each epoch visits every sample once, in batches of the right sizes") {
  auto ds = synthetic(103, 1, 4, 5);
  for (bool drop_last : {false, true}) {
    LoaderOptions opt;
    opt.batch_size = 16;
    opt.drop_last = drop_last;
    opt.seed = 4;
    Loader loader(ds, opt);
    CHECK(loader.batches_per_epoch() == (drop_last ? 6 : 7));
    const auto batches = run_epoch(loader, 0);
    REQUIRE(batches.size() == static_cast<size_t>(loader.batches_per_epoch()));
    std::vector<int> seen(103);
    for (size_t k = 0; k < batches.size(); ++k) {
      const Batch& b = batches[k];
      CHECK(b.index == static_cast<int64_t>(k));
      const int64_t want = (!drop_last && k == 6) ? 103 - 96 : 16;
      CHECK(b.size() == want);
      CHECK(b.images.shape() == Shape{want, 1, 4, 5});
      CHECK(!b.images2.defined());
      const auto idx = b.indices.to_vector<int64_t>();
      const auto y = b.labels.to_vector<int32_t>();
      const auto x = b.images.to_vector<float>();
      for (int64_t p = 0; p < want; ++p) {
        ++seen[idx[p]];
        CHECK(y[p] == idx[p] % 10);
        // No augmentation, no normalization: the scaled pixels, computed here as byte / 255
        // (within one float ulp of the library's byte · (1/255)).
        for (int64_t k2 = 0; k2 < 20; ++k2)
          CHECK(x[p * 20 + k2] ==
                doctest::Approx(((idx[p] * 31 + k2 * 7) % 256) / 255.0).epsilon(1e-7));
      }
    }
    int total = 0;
    for (int s : seen) {
      CHECK(s <= 1);
      total += s;
    }
    CHECK(total == (drop_last ? 96 : 103));
  }
}

TEST_CASE("loader: shuffling depends only on (seed, epoch); shuffle off keeps dataset order") {
  auto ds = synthetic(50, 1, 2, 2);
  LoaderOptions opt;
  opt.seed = 1;
  Loader a(ds, opt), b(ds, opt);
  CHECK(a.epoch_order(3) == b.epoch_order(3));
  b.epoch_order(0);  // asking for other epochs first changes nothing
  CHECK(a.epoch_order(4) == b.epoch_order(4));
  CHECK(a.epoch_order(0) != a.epoch_order(1));
  opt.seed = 2;
  Loader c(ds, opt);
  CHECK(a.epoch_order(0) != c.epoch_order(0));
  auto sorted = a.epoch_order(7);
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 50; ++i) CHECK(sorted[i] == i);
  opt.shuffle = false;
  Loader d(ds, opt);
  for (int64_t i = 0; i < 50; ++i) CHECK(d.epoch_order(2)[i] == i);

  // Position p of the order is a uniform draw: over 2000 epochs sample 0 lands first about
  // 2000/50 = 40 times (sd ≈ 6.3); allow 5 sd.
  int first = 0;
  for (int64_t e = 0; e < 2000; ++e) first += a.epoch_order(e)[0] == 0;
  CHECK(std::abs(first - 40) < 32);
}

TEST_CASE("loader: noise and normalization follow the documented per-sample pipeline") {
  auto ds = synthetic(40, 1, 6, 6);
  ds->set_normalization({0.25f}, {0.5f});
  LoaderOptions opt;
  opt.batch_size = 8;
  opt.seed = 77;
  opt.augment = noise_augment(0.2f);
  Loader loader(ds, opt);
  const auto batches = run_epoch(loader, 3);
  for (const Batch& b : batches) {
    const auto idx = b.indices.to_vector<int64_t>();
    const auto x = b.images.to_vector<float>();
    for (int64_t p = 0; p < b.size(); ++p) {
      std::vector<float> want(36);
      ds->copy_scaled(idx[p], want.data());
      SampleRng rng(77, 3, static_cast<uint64_t>(idx[p]), 0);
      opt.augment->apply(want.data(), {1, 6, 6}, rng);
      for (int k = 0; k < 36; ++k)
        CHECK(x[p * 36 + k] == doctest::Approx((want[k] - 0.25) / 0.5).epsilon(1e-6));
    }
  }
}

TEST_CASE("loader: batches are identical for 0, 1 and 3 workers (noise and SimCLR two views)") {
  auto gray = synthetic(70, 1, 8, 8);
  auto color = synthetic(45, 3, 12, 12);
  struct Setup {
    std::shared_ptr<ImageDataset> ds;
    LoaderOptions opt;
  };
  LoaderOptions noise;
  noise.batch_size = 9;
  noise.seed = 5;
  noise.augment = noise_augment(0.2f);
  LoaderOptions simclr;
  simclr.batch_size = 7;
  simclr.seed = 6;
  simclr.drop_last = true;
  simclr.two_views = std::make_shared<TwoViews>(simclr_augment());
  for (const Setup& s : {Setup{gray, noise}, Setup{color, simclr}}) {
    std::vector<std::vector<Batch>> runs;
    for (int workers : {0, 1, 3}) {
      LoaderOptions o = s.opt;
      o.num_workers = workers;
      o.prefetch = workers == 3 ? 2 : 4;
      Loader loader(s.ds, o);
      std::vector<Batch> all = run_epoch(loader, 0);
      for (Batch& b : run_epoch(loader, 1)) all.push_back(b);
      runs.push_back(all);
    }
    REQUIRE(runs[0].size() == runs[1].size());
    REQUIRE(runs[0].size() == runs[2].size());
    for (size_t k = 0; k < runs[0].size(); ++k) {
      CHECK(same_batch(runs[0][k], runs[1][k]));
      CHECK(same_batch(runs[0][k], runs[2][k]));
    }
    if (s.opt.two_views) {
      CHECK(runs[0][0].images2.shape() == runs[0][0].images.shape());
      CHECK(!same_floats(runs[0][0].images, runs[0][0].images2));  // independent views
    }
    // The epochs differ (new order, new noise).
    CHECK(!same_floats(runs[0][0].images, runs[0][runs[0].size() / 2].images));
  }
}

TEST_CASE("loader: start_epoch(e, k) resumes with exactly batches k, k+1, ... of epoch e") {
  auto ds = synthetic(60, 1, 5, 5);
  for (int workers : {0, 2}) {
    LoaderOptions opt;
    opt.batch_size = 8;
    opt.seed = 13;
    opt.num_workers = workers;
    opt.augment = noise_augment(0.2f);
    Loader full(ds, opt), resumed(ds, opt);
    const auto want = run_epoch(full, 2);
    // Begin an epoch, take one batch, then jump: prefetched work of the abandoned epoch is
    // dropped.
    resumed.start_epoch(0);
    Batch tmp;
    REQUIRE(resumed.next(tmp));
    const auto got = run_epoch(resumed, 2, 5);
    REQUIRE(got.size() == want.size() - 5);
    for (size_t k = 0; k < got.size(); ++k) CHECK(same_batch(got[k], want[k + 5]));
    CHECK(same_batch(resumed.make_batch(2, 6), want[6]));
    CHECK(run_epoch(resumed, 2, resumed.batches_per_epoch()).empty());
    CHECK(
        contains(error_of([&] { resumed.start_epoch(2, 9); }), "cannot start epoch 2 at batch 9"));
  }
}

TEST_CASE("loader: worker errors reach the consumer as nidim::Error; shutdown is clean") {
  auto ds = synthetic(12, 1, 3, 3);
  for (int workers : {0, 2}) {
    for (bool plain : {true, false}) {
      LoaderOptions opt;
      opt.batch_size = 4;
      opt.shuffle = false;  // sample 2 is in batch 0
      opt.num_workers = workers;
      opt.augment = std::make_shared<Failing>(plain);
      Loader loader(ds, opt);
      loader.start_epoch(0);
      Batch b;
      const std::string msg = error_of([&] { loader.next(b); });
      CHECK(contains(
          msg, plain ? "Loader: building batch 0 of epoch 0: disk on fire" : "bad sample here"));
      CHECK(one_line(msg));
      CHECK(loader.next(b));  // the loader goes on with batch 1
      CHECK(b.index == 1);
    }
  }
  // Destroying a loader with work in flight or queued does not hang or leak (ASan checks).
  for (int i = 0; i < 5; ++i) {
    LoaderOptions opt;
    opt.batch_size = 2;
    opt.num_workers = 3;
    opt.augment = noise_augment();
    Loader loader(ds, opt);
    loader.start_epoch(0);
    if (i % 2) {
      Batch b;
      loader.next(b);
    }
  }
  LoaderOptions opt;
  opt.num_workers = 1;
  Loader idle(ds, opt);  // never started
  Batch b;
  CHECK(contains(error_of([&] { idle.next(b); }), "next() before start_epoch()"));
  opt.augment = noise_augment();
  opt.two_views = std::make_shared<TwoViews>(noise_augment());
  CHECK(contains(error_of([&] { Loader bad(ds, opt); }), "not both"));
}
