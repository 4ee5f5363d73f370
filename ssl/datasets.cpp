// nidim/ssl/datasets.cpp: see datasets.h.
#include "ssl/datasets.h"

#include <cstdlib>
#include <filesystem>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/random.h"

namespace nidim {

ImageDataset synthetic_quadrants(int64_t n, uint64_t seed) {
  NIDIM_CHECK(n > 0, "synthetic data set: size must be > 0, got {}", n);
  Generator gen(seed, 7);
  std::vector<uint8_t> pixels(static_cast<size_t>(n * 64));
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int k = static_cast<int>(gen.uniform_int(4));
    labels[static_cast<size_t>(i)] = k;
    // A Gaussian blob (radius 1 pixel) centred in quadrant k, within +-1.2 pixels of the
    // quadrant's centre, of random brightness: continuous factors that survive the
    // augmentation noise, clustered by class.
    const double cy = 1.5 + 4.0 * (k / 2) + 2.4 * (gen.uniform() - 0.5) + 0.5;
    const double cx = 1.5 + 4.0 * (k % 2) + 2.4 * (gen.uniform() - 0.5) + 0.5;
    const double amplitude = 0.6 + 0.4 * gen.uniform();
    for (int r = 0; r < 8; ++r)
      for (int c = 0; c < 8; ++c) {
        const double d2 = (r - cy) * (r - cy) + (c - cx) * (c - cx);
        const double v = amplitude * std::exp(-d2 / 2.0) + 0.05 * gen.normal();
        pixels[static_cast<size_t>(i * 64 + r * 8 + c)] =
            static_cast<uint8_t>(std::clamp(255.0 * v, 0.0, 255.0));
      }
  }
  return ImageDataset("synthetic", std::move(pixels), std::move(labels), 1, 8, 8, 4);
}

namespace {
// MNIST's default folder: $NIDIM_DATA_DIR/mnist when that is set (where scripts/get_data puts it
// then), else data/mnist of the working directory.
std::string default_mnist() {
  const char* root = std::getenv("NIDIM_DATA_DIR");
  return root && *root ? std::string(root) + "/mnist" : std::string(default_mnist_dir);
}
}  // namespace

std::string resolved_data_dir(const DatasetRequest& r) {
  std::string dir = r.dir;
  if (dir.empty() && r.name == "mnist") dir = default_mnist();
  if (dir.empty() && r.name == "fashion-mnist") dir = default_fashion_mnist_dir;
  if (dir.empty()) return "";
  std::error_code ec;
  const std::filesystem::path abs = std::filesystem::absolute(dir, ec);
  if (ec) return dir;
  std::string normal = abs.lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();  // "mn2/" is "mn2"
  return normal;
}

std::pair<ImageDataset, ImageDataset> load_datasets(const DatasetRequest& r) {
  ImageDataset train, test;
  std::string where = r.dir;  // what the errors below name
  // The loaders' errors name the file and, for a missing one, where to get it.
  if (r.name == "mnist") {
    where = r.dir.empty() ? default_mnist() : r.dir;
    train = load_mnist(where, Split::train);
    test = load_mnist(where, Split::test);
  } else if (r.name == "fashion-mnist") {
    where = r.dir.empty() ? default_fashion_mnist_dir : r.dir;
    train = load_fashion_mnist(where, Split::train);
    test = load_fashion_mnist(where, Split::test);
  } else if (r.name == "cifar10" || r.name == "cifar100") {
    const bool ten = r.name == "cifar10";
    NIDIM_CHECK(!r.dir.empty(),
                "{} needs --data-dir: the {} folder of the binary version "
                "(https://www.cs.toronto.edu/~kriz/cifar.html; see docs/DATA.md)",
                r.name, ten ? "cifar-10-batches-bin" : "cifar-100-binary");
    train = ten ? load_cifar10(r.dir, Split::train) : load_cifar100(r.dir, Split::train);
    test = ten ? load_cifar10(r.dir, Split::test) : load_cifar100(r.dir, Split::test);
  } else if (r.name == "synthetic") {
    train = synthetic_quadrants(r.synthetic_train, r.synthetic_seed);
    test = synthetic_quadrants(r.synthetic_test, r.synthetic_seed + 1);
  } else {
    NIDIM_FAIL("dataset '{}': expected mnist, fashion-mnist, cifar10, cifar100 or synthetic",
               r.name);
  }
  if (r.name == "synthetic") where = "the synthetic data set";
  NIDIM_CHECK(train.size() > 0, "{}: the training set has no samples", where);
  NIDIM_CHECK(test.size() > 0, "{}: the test set has no samples", where);
  NIDIM_CHECK(train.channels() == test.channels() && train.height() == test.height() &&
                  train.width() == test.width(),
              "{}: the test images are {}x{}x{} (channels x height x width) but the training "
              "images {}x{}x{}",
              where, test.channels(), test.height(), test.width(), train.channels(), train.height(),
              train.width());
  NIDIM_CHECK(r.limit_train >= 0 && r.limit_test >= 0, "dataset limits must be >= 0");
  if (r.limit_train > 0 && r.limit_train < train.size()) train = train.slice(0, r.limit_train);
  if (r.limit_test > 0 && r.limit_test < test.size()) test = test.slice(0, r.limit_test);
  return {std::move(train), std::move(test)};
}

}  // namespace nidim
