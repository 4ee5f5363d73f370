// nidim/data/dataset.h: ImageDataset, a labelled set of uint8 images held in memory, and the
// loaders of MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100.
//
// Pixels stay uint8 [N, C, H, W] (MNIST: 1×28×28, CIFAR: 3×32×32) and are scaled to float
// [0, 1] (x / 255) when a sample is read, then optionally normalized per channel,
// (x - mean[c]) / std[c]. The loader (loader.h) scales, augments, then normalizes, so the
// augmentations always see [0, 1] pixels. Labels are int32 in [0, num_classes).
// Left out: lazy (on-disk) datasets; every supported set fits in memory (CIFAR-10 is 180 MB).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace nidim {

enum class Split { train, test };

// Where scripts/get_data puts MNIST, and where Debian's dataset-fashion-mnist installs.
constexpr const char* default_mnist_dir = "data/mnist";
constexpr const char* default_fashion_mnist_dir = "/usr/share/datasets/fashion-mnist";

class ImageDataset {
 public:
  ImageDataset() = default;
  // pixels: [n, channels, height, width] uint8; labels: [n], each in [0, num_classes).
  ImageDataset(std::string name, std::vector<uint8_t> pixels, std::vector<int32_t> labels,
               int64_t channels, int64_t height, int64_t width, int num_classes);

  const std::string& name() const { return m_name; }
  int64_t size() const { return static_cast<int64_t>(m_labels.size()); }
  int64_t channels() const { return m_channels; }
  int64_t height() const { return m_height; }
  int64_t width() const { return m_width; }
  int64_t image_numel() const { return m_channels * m_height * m_width; }
  int num_classes() const { return m_num_classes; }

  // Per-channel normalization applied after scaling: one mean and one std (> 0) per channel.
  void set_normalization(std::vector<float> mean, std::vector<float> std);
  bool normalized() const { return !m_mean.empty(); }
  const std::vector<float>& mean() const { return m_mean; }
  const std::vector<float>& std() const { return m_std; }
  // Per-channel mean and standard deviation of the scaled pixels over the whole set (double
  // sums), the values to pass to set_normalization.
  std::pair<std::vector<float>, std::vector<float>> channel_stats() const;

  int32_t label(int64_t i) const;
  const uint8_t* pixels(int64_t i) const;  // [C, H, W] uint8
  const std::vector<int32_t>& labels() const { return m_labels; }
  // Sample i scaled to [0, 1], not normalized. out: [C, H, W]
  void copy_scaled(int64_t i, float* out) const;
  // In place on one image [C, H, W]; nothing when no normalization is set.
  void normalize(float* image) const;
  // Sample i as tensors: (image [C, H, W] float32 scaled and normalized, label [] int32).
  std::pair<Tensor, Tensor> get(int64_t i) const;
  // Samples [begin, end) as a new dataset (same normalization).
  ImageDataset slice(int64_t begin, int64_t end) const;

 private:
  std::string m_name;
  std::vector<uint8_t> m_pixels;  // [N, C, H, W]
  std::vector<int32_t> m_labels;  // [N]
  int64_t m_channels = 0, m_height = 0, m_width = 0;
  int m_num_classes = 0;
  std::vector<float> m_mean, m_std;  // [C] or empty
};

// An image IDX file and its label IDX file (plain or gzipped) as a dataset of 1×H×W images;
// the counts must agree and every label must be below num_classes.
ImageDataset dataset_from_idx(const std::string& name, const std::string& images_path,
                              const std::string& labels_path, int num_classes = 10);
// MNIST from `dir` ({train,t10k}-{images-idx3,labels-idx1}-ubyte, each with or without .gz).
ImageDataset load_mnist(const std::string& dir, Split split);
// Fashion-MNIST: the same file names and format.
ImageDataset load_fashion_mnist(const std::string& dir, Split split);
// CIFAR-10 from cifar-10-batches-bin/ (data_batch_1..5.bin or test_batch.bin).
ImageDataset load_cifar10(const std::string& dir, Split split);
// CIFAR-100 from cifar-100-binary/ (train.bin or test.bin); fine labels (100 classes) or coarse
// ones (20 superclasses).
ImageDataset load_cifar100(const std::string& dir, Split split, bool coarse = false);

}  // namespace nidim
