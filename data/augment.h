// nidim/data/augment.h: the augmentations of the paper's experiments, seeded per sample.
//
// Legend: C channels, H W height and width of one image; images are float [C, H, W] with
// pixels in [0, 1] (the dataset's scaling), transformed in place; every augmentation keeps the
// image's size (RandomResizedCrop resizes its crop back to H×W, e.g. 32×32 for CIFAR).
//
// Randomness: each (seed, epoch, sample index, view) has its own Philox stream (SampleRng), so
// what a sample gets never depends on the thread that ran it, the batch it fell in or the
// samples before it. SampleRng's layout: key = seed; stream = dataset index of the sample;
// block counter = epoch · 2^36 + view · 2^32 + k, with k counting the blocks the sample's
// pipeline used so far. Draws are taken in a fixed order within a pipeline.
//
// The set:
//   GaussianNoise      x + σ·ε per pixel (METHOD.md's MNIST view, σ = 0.2), no clamping; ε by
//                      Box-Muller on word pairs exactly as kernels' normal_cpu does
//   RandomResizedCrop  area fraction U(0.08, 1), log-aspect U(log 3/4, log 4/3), 10 tries then a
//                      centre crop (torchvision's rule); bilinear resize, half-pixel centres
//                      (align_corners = false), as torch's interpolate
//   RandomHorizontalFlip p = 0.5
//   ColorJitter        brightness, contrast, saturation 0.4, hue 0.1, in a random order, the
//                      whole jitter applied with p = 0.8 (SimCLR's RandomApply); torchvision's
//                      formulas, results clamped to [0, 1]
//   RandomGrayscale    p = 0.2; luma 0.2989 R + 0.587 G + 0.114 B copied to the 3 channels
//   GaussianBlur       torchvision's GaussianBlur(kernel, sigma = (0.1, 2.0)) inside a
//                      RandomApply(p): σ ~ U(σ_min, σ_max) per call, the same σ on both axes,
//                      separable normalized kernel, 'reflect' padding, each channel alone
//   Solarize           torchvision's RandomSolarize(threshold, p) on float images: pixels
//                      >= threshold become 1 − pixel (threshold <= 1, torchvision's bound)
//   Normalize          torchvision's Normalize: (x − mean[c]) / std[c]; the last step of a
//                      pipeline (its output is no longer in [0, 1])
//   Compose            a sequence; simclr_augment() is SimCLR's CIFAR pipeline (the recipes
//                      of solo-learn, with every number a field, are in ssl_augment.h)
//   TwoViews           two independently augmented views of each sample (view ids 0 and 1)
// Left out: antialiased downscaling (a crop is never larger than the output, so resizing only
// ever upsamples), bicubic resizing (solo-learn's crops use it; here the crop is bilinear),
// equalization (solo-learn's CIFAR recipes apply it with p 0).
// 1-channel images: saturation, hue and grayscale leave them unchanged, as torchvision does.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/philox.h"

namespace nidim {

struct ImageDims {
  int64_t c = 1, h = 1, w = 1;
  int64_t numel() const { return c * h * w; }
};

// The random stream of one (sample, view) in one epoch; see the header comment for its layout.
class SampleRng {
 public:
  // epoch < 2^28, view < 16 (checked).
  SampleRng(uint64_t seed, uint64_t epoch, uint64_t index, uint32_t view);

  uint32_t next_u32();
  float uniform();  // [0, 1), 24 bits
  float uniform(float low, float high);
  double uniform_double();  // [0, 1), 53 bits from two words
  // [0, n) by multiply-shift on 32 bits (bias below n / 2^32); n <= 2^31.
  int64_t uniform_int(int64_t n);
  // Reserves `blocks` whole Philox blocks for a bulk fill and returns the first block's counter;
  // words left in the current block are skipped.
  uint64_t reserve_blocks(uint64_t blocks);
  uint64_t seed() const { return m_seed; }
  uint64_t stream() const { return m_stream; }

 private:
  uint64_t m_seed, m_stream, m_next_block;
  Philox4 m_words{};
  int m_used = 4;  // words of m_words already handed out
};

class Augmentation {
 public:
  virtual ~Augmentation() = default;
  // Transforms one image in place. img: [C, H, W]. Must be safe to call from several threads at
  // once (no mutable state).
  virtual void apply(float* img, const ImageDims& dims, SampleRng& rng) const = 0;
  virtual std::string name() const = 0;
  // Whether the pipeline ends in a per-channel normalization (the Loader then refuses a dataset
  // that normalizes too).
  virtual bool normalizes() const { return false; }
};

class GaussianNoise : public Augmentation {
 public:
  explicit GaussianNoise(float sigma = 0.2f);
  void apply(float* img, const ImageDims& dims, SampleRng& rng) const override;
  std::string name() const override;
  float sigma() const { return m_sigma; }

 private:
  float m_sigma;
};

struct CropBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

class RandomResizedCrop : public Augmentation {
 public:
  RandomResizedCrop(float scale_min = 0.08f, float scale_max = 1.0f, float ratio_min = 3.0f / 4.0f,
                    float ratio_max = 4.0f / 3.0f);
  void apply(float* img, const ImageDims& dims, SampleRng& rng) const override;
  std::string name() const override;
  // The box a draw selects in an H×W image (torchvision's get_params).
  CropBox sample_box(SampleRng& rng, int64_t height, int64_t width) const;

 private:
  float m_scale_min, m_scale_max, m_ratio_min, m_ratio_max;
};

class RandomHorizontalFlip : public Augmentation {
 public:
  explicit RandomHorizontalFlip(float p = 0.5f);
  void apply(float* img, const ImageDims& dims, SampleRng& rng) const override;
  std::string name() const override;

 private:
  float m_p;
};

class ColorJitter : public Augmentation {
 public:
  // Factors: brightness, contrast, saturation in [max(0, 1 - x), 1 + x]; hue shift in
  // [-hue, hue] (hue <= 0.5). p: probability that the jitter is applied at all.
  ColorJitter(float brightness = 0.4f, float contrast = 0.4f, float saturation = 0.4f,
              float hue = 0.1f, float p = 0.8f);
  void apply(float* img, const ImageDims& dims, SampleRng& rng) const override;
  std::string name() const override;

 private:
  float m_brightness, m_contrast, m_saturation, m_hue, m_p;
};

class RandomGrayscale : public Augmentation {
 public:
  explicit RandomGrayscale(float p = 0.2f);
  void apply(float* img, const ImageDims& dims, SampleRng& rng) const override;
  std::string name() const override;

 private:
  float m_p;
};

// torchvision's GaussianBlur wrapped in RandomApply([...], p): one uniform draw decides, then
// σ is drawn (only when applied) and the image blurred with gaussian_blur. p = 1 is torchvision's
// GaussianBlur alone.
class GaussianBlur : public Augmentation {
 public:
  // kernel: odd and positive, the same along both axes; 0 < sigma_min <= sigma_max; p in [0, 1].
  explicit GaussianBlur(int64_t kernel = 3, float sigma_min = 0.1f, float sigma_max = 2.0f,
                        float p = 1.0f);
  void apply(float* img, const ImageDims& dims, SampleRng& rng) const override;
  std::string name() const override;
  // The σ a draw selects (torchvision's get_params): uniform in [sigma_min, sigma_max).
  float sample_sigma(SampleRng& rng) const;

 private:
  int64_t m_kernel;
  float m_sigma_min, m_sigma_max, m_p;
};

// torchvision's RandomSolarize(threshold, p): with probability p, solarize(img, threshold).
class Solarize : public Augmentation {
 public:
  // threshold in [0, 1]; p in [0, 1].
  explicit Solarize(float threshold = 0.5f, float p = 1.0f);
  void apply(float* img, const ImageDims& dims, SampleRng& rng) const override;
  std::string name() const override;

 private:
  float m_threshold, m_p;
};

// torchvision's Normalize: (x − mean[c]) / std[c], no randomness; mean and std have one entry per
// channel of the images it is applied to (checked there).
class Normalize : public Augmentation {
 public:
  Normalize(std::vector<float> mean, std::vector<float> std);
  void apply(float* img, const ImageDims& dims, SampleRng& rng) const override;
  std::string name() const override;
  bool normalizes() const override { return true; }

 private:
  std::vector<float> m_mean, m_std;
};

class Compose : public Augmentation {
 public:
  explicit Compose(std::vector<std::shared_ptr<const Augmentation>> steps);
  void apply(float* img, const ImageDims& dims, SampleRng& rng) const override;
  std::string name() const override;
  bool normalizes() const override;

 private:
  std::vector<std::shared_ptr<const Augmentation>> m_steps;
};

// SimCLR's CIFAR pipeline: crop, flip, jitter (p 0.8), grayscale (p 0.2), default parameters.
std::shared_ptr<const Augmentation> simclr_augment();
// METHOD.md's MNIST view: additive N(0, σ²) noise.
std::shared_ptr<const Augmentation> noise_augment(float sigma = 0.2f);

// Two views of each sample: view 0 through `first`, view 1 through `second`; either may be null
// (that view is the plain image). The one-argument form uses the same pipeline for both, with
// independent draws (SimCLR); TwoViews(nullptr, noise_augment()) gives METHOD.md's (x, x + σε).
class TwoViews {
 public:
  explicit TwoViews(std::shared_ptr<const Augmentation> both);
  TwoViews(std::shared_ptr<const Augmentation> first, std::shared_ptr<const Augmentation> second);
  // src: [C, H, W] scaled image; view0, view1: [C, H, W] outputs.
  void apply(const float* src, const ImageDims& dims, uint64_t seed, uint64_t epoch, uint64_t index,
             float* view0, float* view1) const;
  const std::shared_ptr<const Augmentation>& first() const { return m_first; }
  const std::shared_ptr<const Augmentation>& second() const { return m_second; }
  bool normalizes() const;  // either view's pipeline normalizes

 private:
  std::shared_ptr<const Augmentation> m_first, m_second;
};

// ---- the deterministic parts, exposed for tests -------------------------------------------
// Resizes the box of src [C, H, W] to dst [C, out_h, out_w], bilinear with half-pixel centres.
void resized_crop_bilinear(const float* src, const ImageDims& dims, const CropBox& box, float* dst,
                           int64_t out_h, int64_t out_w);
void flip_horizontal(float* img, const ImageDims& dims);
void adjust_brightness(float* img, const ImageDims& dims, float factor);
void adjust_contrast(float* img, const ImageDims& dims, float factor);
void adjust_saturation(float* img, const ImageDims& dims, float factor);
void adjust_hue(float* img, const ImageDims& dims, float shift);
void to_grayscale(float* img, const ImageDims& dims);
// torchvision's _get_gaussian_kernel1d: exp(−x² / 2σ²) at the offsets x = −(k−1)/2 … (k−1)/2,
// divided by their sum. Returns [kernel].
std::vector<float> gaussian_kernel1d(int64_t kernel, float sigma);
// torchvision's gaussian_blur(img, [k, k], [σ, σ]) on float images: each channel convolved with
// the outer product of gaussian_kernel1d (done as a row pass then a column pass), the image
// extended by 'reflect' padding (mirrored without repeating the edge pixel), which needs
// (k − 1) / 2 < H and < W, as torch's pad does.
void gaussian_blur(float* img, const ImageDims& dims, int64_t kernel, float sigma);
// torchvision's solarize on float images (1 or 3 channels): x >= threshold becomes 1 − x.
void solarize(float* img, const ImageDims& dims, float threshold);
// torchvision's normalize: (x − mean[c]) / std[c]. mean, std: [C]
void normalize_channels(float* img, const ImageDims& dims, const float* mean, const float* std);
// One pixel: r, g, b in [0, 1] <-> h in [0, 1), s, v in [0, 1].
void rgb_to_hsv(float r, float g, float b, float* h, float* s, float* v);
void hsv_to_rgb(float h, float s, float v, float* r, float* g, float* b);

}  // namespace nidim
