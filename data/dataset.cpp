// nidim/data/dataset.cpp: see dataset.h.
#include "data/dataset.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/io.h"
#include "data/cifar.h"
#include "data/idx.h"

namespace nidim {

namespace {

// "<dir>/<base>.gz" when it exists, else "<dir>/<base>"; an error naming both when neither does.
std::string find_idx_file(const std::string& dir, const std::string& base, const char* hint) {
  const std::string gz = dir + "/" + base + ".gz", plain = dir + "/" + base;
  if (file_exists(gz)) return gz;
  if (file_exists(plain)) return plain;
  NIDIM_FAIL("{}: missing file (also tried {}){}", gz, plain, hint);
}

ImageDataset load_idx_pair(const std::string& name, const std::string& dir, Split split,
                           const char* hint) {
  const std::string prefix = split == Split::train ? "train" : "t10k";
  const std::string images = find_idx_file(dir, prefix + "-images-idx3-ubyte", hint);
  const std::string labels = find_idx_file(dir, prefix + "-labels-idx1-ubyte", hint);
  return dataset_from_idx(name + (split == Split::train ? "-train" : "-test"), images, labels, 10);
}

}  // namespace

ImageDataset::ImageDataset(std::string name, std::vector<uint8_t> pixels,
                           std::vector<int32_t> labels, int64_t channels, int64_t height,
                           int64_t width, int num_classes)
    : m_name(std::move(name)),
      m_pixels(std::move(pixels)),
      m_labels(std::move(labels)),
      m_channels(channels),
      m_height(height),
      m_width(width),
      m_num_classes(num_classes) {
  NIDIM_CHECK(channels > 0 && height > 0 && width > 0 && num_classes > 0,
              "{}: dataset of {}x{}x{} images and {} classes", m_name, channels, height, width,
              num_classes);
  NIDIM_CHECK(m_pixels.size() == m_labels.size() * static_cast<size_t>(image_numel()),
              "{}: {} pixel bytes for {} labels of {}x{}x{} images", m_name, m_pixels.size(),
              m_labels.size(), channels, height, width);
  for (size_t i = 0; i < m_labels.size(); ++i)
    NIDIM_CHECK(m_labels[i] >= 0 && m_labels[i] < num_classes,
                "{}: label {} of sample {} outside the classes 0..{}", m_name, m_labels[i], i,
                num_classes - 1);
}

void ImageDataset::set_normalization(std::vector<float> mean, std::vector<float> std) {
  NIDIM_CHECK(static_cast<int64_t>(mean.size()) == m_channels &&
                  static_cast<int64_t>(std.size()) == m_channels,
              "{}: normalization needs {} means and stds, got {} and {}", m_name, m_channels,
              mean.size(), std.size());
  for (float s : std)
    NIDIM_CHECK(s > 0 && std::isfinite(s), "{}: normalization std {} is not positive", m_name, s);
  m_mean = std::move(mean);
  m_std = std::move(std);
}

std::pair<std::vector<float>, std::vector<float>> ImageDataset::channel_stats() const {
  const int64_t plane = m_height * m_width;
  std::vector<double> sum(static_cast<size_t>(m_channels)), sum2(sum.size());
  // Integer histograms per channel keep the sums exact whatever the set's size.
  std::vector<std::vector<int64_t>> hist(sum.size(), std::vector<int64_t>(256));
  for (int64_t i = 0; i < size(); ++i)
    for (int64_t c = 0; c < m_channels; ++c) {
      const uint8_t* p = pixels(i) + c * plane;
      for (int64_t k = 0; k < plane; ++k) ++hist[c][p[k]];
    }
  std::vector<float> mean(sum.size()), stdev(sum.size());
  const double n = static_cast<double>(size()) * static_cast<double>(plane);
  for (size_t c = 0; c < sum.size(); ++c) {
    for (int v = 0; v < 256; ++v) {
      const double x = v / 255.0;
      sum[c] += hist[c][v] * x;
      sum2[c] += hist[c][v] * x * x;
    }
    const double m = n > 0 ? sum[c] / n : 0.0;
    mean[c] = static_cast<float>(m);
    stdev[c] = static_cast<float>(n > 0 ? std::sqrt(std::max(0.0, sum2[c] / n - m * m)) : 0.0);
  }
  return {mean, stdev};
}

int32_t ImageDataset::label(int64_t i) const {
  NIDIM_CHECK(i >= 0 && i < size(), "{}: sample {} out of range [0, {})", m_name, i, size());
  return m_labels[static_cast<size_t>(i)];
}

const uint8_t* ImageDataset::pixels(int64_t i) const {
  NIDIM_CHECK(i >= 0 && i < size(), "{}: sample {} out of range [0, {})", m_name, i, size());
  return m_pixels.data() + static_cast<size_t>(i) * static_cast<size_t>(image_numel());
}

void ImageDataset::copy_scaled(int64_t i, float* out) const {
  const uint8_t* p = pixels(i);
  const int64_t n = image_numel();
  constexpr float inv255 = 1.0f / 255.0f;
  for (int64_t k = 0; k < n; ++k) out[k] = p[k] * inv255;
}

void ImageDataset::normalize(float* image) const {
  if (m_mean.empty()) return;
  const int64_t plane = m_height * m_width;
  for (int64_t c = 0; c < m_channels; ++c) {
    const float m = m_mean[c], inv = 1.0f / m_std[c];
    float* p = image + c * plane;
    for (int64_t k = 0; k < plane; ++k) p[k] = (p[k] - m) * inv;
  }
}

std::pair<Tensor, Tensor> ImageDataset::get(int64_t i) const {
  Tensor image = Tensor::empty(Shape{m_channels, m_height, m_width}, DType::f32);
  copy_scaled(i, image.data<float>());
  normalize(image.data<float>());
  const int32_t y = label(i);
  return {image, Tensor::from_host(&y, Shape{}, DType::i32)};
}

ImageDataset ImageDataset::slice(int64_t begin, int64_t end) const {
  NIDIM_CHECK(0 <= begin && begin <= end && end <= size(), "{}: slice [{}, {}) of {} samples",
              m_name, begin, end, size());
  const size_t px = static_cast<size_t>(image_numel());
  ImageDataset out(m_name,
                   std::vector<uint8_t>(m_pixels.begin() + begin * px, m_pixels.begin() + end * px),
                   std::vector<int32_t>(m_labels.begin() + begin, m_labels.begin() + end),
                   m_channels, m_height, m_width, m_num_classes);
  out.m_mean = m_mean;
  out.m_std = m_std;
  return out;
}

ImageDataset dataset_from_idx(const std::string& name, const std::string& images_path,
                              const std::string& labels_path, int num_classes) {
  IdxImages images = read_idx_images(images_path);
  const std::vector<uint8_t> labels = read_idx_labels(labels_path);
  NIDIM_CHECK(static_cast<int64_t>(labels.size()) == images.count,
              "{}: {} labels, but {} has {} images", labels_path, labels.size(), images_path,
              images.count);
  std::vector<int32_t> y(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    NIDIM_CHECK(labels[i] < num_classes, "{}: label {} at index {} outside the classes 0..{}",
                labels_path, labels[i], i, num_classes - 1);
    y[i] = labels[i];
  }
  return ImageDataset(name, std::move(images.pixels), std::move(y), 1, images.rows, images.cols,
                      num_classes);
}

ImageDataset load_mnist(const std::string& dir, Split split) {
  return load_idx_pair("mnist", dir, split,
                       "; scripts/get_data puts MNIST in data/mnist of the repository (or "
                       "$NIDIM_DATA_DIR/mnist): run train_dim from there, or give --data-dir");
}

ImageDataset load_fashion_mnist(const std::string& dir, Split split) {
  return load_idx_pair("fashion-mnist", dir, split,
                       "; install Debian's dataset-fashion-mnist or run scripts/get_data");
}

ImageDataset load_cifar10(const std::string& dir, Split split) {
  CifarRecords r;
  std::vector<std::string> files;
  if (split == Split::train) {
    for (int k = 1; k <= 5; ++k) files.push_back(dir + "/data_batch_" + std::to_string(k) + ".bin");
  } else {
    files.push_back(dir + "/test_batch.bin");
  }
  for (const std::string& f : files) {
    NIDIM_CHECK(file_exists(f), "{}: missing file (CIFAR-10 binary version: see docs/DATA.md)", f);
    read_cifar10_file(f, r);
  }
  return ImageDataset(split == Split::train ? "cifar10-train" : "cifar10-test", std::move(r.images),
                      std::move(r.labels), cifar_channels, cifar_height, cifar_width, 10);
}

ImageDataset load_cifar100(const std::string& dir, Split split, bool coarse) {
  CifarRecords r;
  const std::string f = dir + (split == Split::train ? "/train.bin" : "/test.bin");
  NIDIM_CHECK(file_exists(f), "{}: missing file (CIFAR-100 binary version: see docs/DATA.md)", f);
  read_cifar100_file(f, r);
  return ImageDataset(std::string(split == Split::train ? "cifar100-train" : "cifar100-test") +
                          (coarse ? "-coarse" : ""),
                      std::move(r.images),
                      coarse ? std::move(r.coarse_labels) : std::move(r.labels), cifar_channels,
                      cifar_height, cifar_width, coarse ? 20 : 100);
}

}  // namespace nidim
