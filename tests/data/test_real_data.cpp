// nidim/tests/data/test_real_data.cpp: the real MNIST and Fashion-MNIST, when present (the
// other suites never need them). Expected counts, first labels, class counts and pixel sums were
// (and the training pixels' mean and std) computed with numpy from the same files (scripts/get_data
// checks MNIST's SHA-256 sums). Folders: $NIDIM_MNIST_DIR or <repo>/data/mnist;
// $NIDIM_FASHION_MNIST_DIR or Debian's /usr/share/datasets/fashion-mnist. Absent data is reported
// and the case passes.
#include <cstdlib>
#include <numeric>

#include "data/dataset.h"
#include "helpers.h"

using namespace nidim;
using namespace nidim_test;

namespace {

std::string dir_from(const char* env, const std::string& fallback) {
  const char* v = std::getenv(env);
  return v && *v ? v : fallback;
}

bool present(const std::string& dir) {
  return file_exists(dir + "/train-images-idx3-ubyte.gz") ||
         file_exists(dir + "/train-images-idx3-ubyte");
}

struct Expected {
  int64_t count;
  std::vector<int32_t> first_labels;
  std::vector<int64_t> class_counts;
  int64_t pixel_sum;
  double mean = -1, std = -1;  // of the scaled training pixels (numpy, float64)
};

void check_split(const ImageDataset& ds, const Expected& e) {
  CHECK(ds.size() == e.count);
  CHECK(ds.channels() == 1);
  CHECK(ds.height() == 28);
  CHECK(ds.width() == 28);
  for (size_t i = 0; i < e.first_labels.size(); ++i)
    CHECK(ds.label(static_cast<int64_t>(i)) == e.first_labels[i]);
  std::vector<int64_t> counts(10);
  for (int32_t y : ds.labels()) ++counts[y];
  CHECK(counts == e.class_counts);
  int64_t sum = 0;
  for (int64_t i = 0; i < ds.size(); ++i) {
    const uint8_t* p = ds.pixels(i);
    sum = std::accumulate(p, p + 784, sum);
  }
  CHECK(sum == e.pixel_sum);
  if (e.mean >= 0) {
    // channel_stats sums exact integer histograms in double, then rounds to float: 1e-6.
    auto [mean, stdev] = ds.channel_stats();
    CHECK(mean[0] == doctest::Approx(e.mean).epsilon(1e-6));
    CHECK(stdev[0] == doctest::Approx(e.std).epsilon(1e-6));
  }
}

}  // namespace

TEST_CASE("real data: MNIST (optional)") {
  const std::string dir =
      dir_from("NIDIM_MNIST_DIR", std::string(NIDIM_FIXTURES) + "/../../data/mnist");
  if (!present(dir)) {
    MESSAGE("skipped: no MNIST in " << dir << " (run scripts/get_data)");
    return;
  }
  check_split(load_mnist(dir, Split::train),
              {60000,
               {5, 0, 4, 1, 9, 2, 1, 3, 1, 4},
               {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949},
               1567298545,
               0.1306604762738429,
               0.3081078038564622});
  check_split(load_mnist(dir, Split::test),
              {10000,
               {7, 2, 1, 0, 4, 1, 4, 9, 5, 9},
               {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009},
               264923200});
}

TEST_CASE("real data: Fashion-MNIST (optional)") {
  const std::string dir = dir_from("NIDIM_FASHION_MNIST_DIR", default_fashion_mnist_dir);
  if (!present(dir)) {
    MESSAGE("skipped: no Fashion-MNIST in " << dir << " (apt-get install dataset-fashion-mnist)");
    return;
  }
  check_split(load_fashion_mnist(dir, Split::train), {60000,
                                                      {9, 0, 0, 3, 0, 2, 7, 2, 5, 5},
                                                      std::vector<int64_t>(10, 6000),
                                                      3431114169,
                                                      0.2860405969887955,
                                                      0.35302424451492237});
  check_split(load_fashion_mnist(dir, Split::test),
              {10000, {9, 2, 1, 1, 6, 1, 4, 6, 5, 7}, std::vector<int64_t>(10, 1000), 573469082});
}
