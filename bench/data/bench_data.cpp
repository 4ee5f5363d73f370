// bench_data: how fast data/ decodes MNIST and feeds training, in images/s (Google Benchmark's
// items_per_second), to set beside the engine's training-step images/s (bench_engine).
//
//   scripts/get_data && build/bench/data/bench_data
//   build/bench/data/bench_data --benchmark_filter=Loader
// MNIST is read from $NIDIM_MNIST_DIR or <repo>/data/mnist; benchmarks that need it report an
// error when it is missing. Cases:
//   DecodeMnist        gunzip + parse all 70 000 images and labels (train and test files)
//   ScaleMnist         the uint8 -> [0, 1] float conversion of 70 000 images alone
//   LoaderEpoch        one epoch of MNIST training batches (60 000 images, batch 1024) with the
//                      noise view (x + N(0, 0.2²)), or METHOD.md's two views (x, x + σε);
//                      argument: worker threads (0 = built by the consumer)
//   SimclrCifarShaped  the SimCLR pipeline on 3×32×32 images (synthetic: CIFAR cannot be
//                      fetched here), two views per sample, per worker count
// Wall time (UseRealTime) because the work runs on worker threads.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>

#include "core/io.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "data/loader.h"

using namespace nidim;

namespace {

std::string mnist_dir() {
  const char* env = std::getenv("NIDIM_MNIST_DIR");
  return env && *env ? env : std::string(NIDIM_SOURCE_DIR) + "/data/mnist";
}

bool have_mnist(benchmark::State& state) {
  if (file_exists(mnist_dir() + "/train-images-idx3-ubyte.gz")) return true;
  state.SkipWithError(("no MNIST in " + mnist_dir() + ": run scripts/get_data").c_str());
  return false;
}

std::shared_ptr<const ImageDataset> mnist_train() {
  static std::shared_ptr<const ImageDataset> ds =
      std::make_shared<ImageDataset>(load_mnist(mnist_dir(), Split::train));
  return ds;
}

void BM_DecodeMnist(benchmark::State& state) {
  if (!have_mnist(state)) return;
  const std::string d = mnist_dir();
  for (auto _ : state) {
    for (const char* split : {"train", "t10k"}) {
      IdxImages im = read_idx_images(d + "/" + split + "-images-idx3-ubyte.gz");
      std::vector<uint8_t> y = read_idx_labels(d + "/" + split + "-labels-idx1-ubyte.gz");
      benchmark::DoNotOptimize(im.pixels.data());
      benchmark::DoNotOptimize(y.data());
    }
  }
  state.SetItemsProcessed(state.iterations() * 70000);
}

void BM_ScaleMnist(benchmark::State& state) {
  if (!have_mnist(state)) return;
  auto ds = mnist_train();
  std::vector<float> out(784);
  for (auto _ : state) {
    for (int64_t i = 0; i < 70000; ++i) ds->copy_scaled(i % ds->size(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 70000);
}

void loader_epoch(benchmark::State& state, bool two_views) {
  if (!have_mnist(state)) return;
  LoaderOptions opt;
  opt.batch_size = 1024;
  opt.seed = 1;
  opt.num_workers = static_cast<int>(state.range(0));
  if (two_views)
    opt.two_views = std::make_shared<TwoViews>(nullptr, noise_augment(0.2f));
  else
    opt.augment = noise_augment(0.2f);
  Loader loader(mnist_train(), opt);
  int64_t epoch = 0, images = 0;
  for (auto _ : state) {
    loader.start_epoch(epoch++);
    Batch b;
    while (loader.next(b)) images += b.size();
  }
  state.SetItemsProcessed(images);
}

void BM_LoaderEpochNoise(benchmark::State& state) {
  loader_epoch(state, false);
}
void BM_LoaderEpochTwoViews(benchmark::State& state) {
  loader_epoch(state, true);
}

void BM_SimclrCifarShaped(benchmark::State& state) {
  const int64_t n = 10000;
  std::vector<uint8_t> px(static_cast<size_t>(n * 3072));
  for (size_t k = 0; k < px.size(); ++k) px[k] = static_cast<uint8_t>((k * 2654435761u) >> 24);
  std::vector<int32_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<int32_t>(i % 10);
  auto ds = std::make_shared<const ImageDataset>("cifar-shaped", std::move(px), std::move(y), 3, 32,
                                                 32, 10);
  LoaderOptions opt;
  opt.batch_size = 512;
  opt.num_workers = static_cast<int>(state.range(0));
  opt.two_views = std::make_shared<TwoViews>(simclr_augment());
  Loader loader(ds, opt);
  int64_t epoch = 0, images = 0;
  for (auto _ : state) {
    loader.start_epoch(epoch++);
    Batch b;
    while (loader.next(b)) images += b.size();
  }
  state.SetItemsProcessed(images);
}

}  // namespace

BENCHMARK(BM_DecodeMnist)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ScaleMnist)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LoaderEpochNoise)
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_LoaderEpochTwoViews)
    ->Arg(0)
    ->Arg(2)
    ->Arg(4)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_SimclrCifarShaped)
    ->Arg(0)
    ->Arg(2)
    ->Arg(4)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
