// nidim/data/ssl_augment.h: the augmentation recipe of the SSL methods (SimCLR, VICReg) as one
// struct whose every strength and probability is a field, solo-learn's CIFAR presets, and the
// builders of the pipeline (one view or two) from a recipe.
//
// Pipeline, in solo-learn's order (its CifarTransform), each step drawing from the sample's own
// stream (augment.h):
//   RandomResizedCrop(scale, ratio) → RandomApply(ColorJitter(b, c, s, h), jitter_p) →
//   RandomGrayscale(grayscale_p) → RandomApply(GaussianBlur(kernel, σ range), blur_p) →
//   RandomSolarize(threshold, solarize_p) → RandomHorizontalFlip(flip_p) → Normalize(mean, std)
// Every step is in the pipeline whatever its probability (a step with p = 0 draws its one
// uniform and does nothing), so the draws a sample takes never depend on the numbers.
//
// Normalization: solo-learn ends the pipeline with torchvision's Normalize on the CIFAR means
// and stds. ImageDataset::normalize does nothing unless set_normalization was called, and no
// loader of data/ calls it (the DIM runs train on [0, 1] pixels), so the recipe's mean and std
// are applied here, as the pipeline's last step; the Loader refuses a dataset that has its own
// normalization with such a pipeline (it would normalize twice). Empty mean and std: no
// normalization (the views stay in [0, 1]).
//
// Left out: solo-learn's equalization (p 0 in both CIFAR recipes), multi-crop (its CIFAR recipes
// take two crops of one size), bicubic crop resizing (solo-learn's CIFAR crops are bicubic; the
// crop here is bilinear, augment.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "data/augment.h"

namespace nidim {

// Defaults: solo-learn's SimCLR CIFAR recipe (scripts/pretrain/cifar/simclr.yaml), without
// normalization.
struct SslAugmentSpec {
  // RandomResizedCrop: area fraction in [crop_scale_min, crop_scale_max] ⊂ (0, 1], aspect
  // (width / height) in [crop_ratio_min, crop_ratio_max].
  float crop_scale_min = 0.08f;
  float crop_scale_max = 1.0f;
  float crop_ratio_min = 3.0f / 4.0f;
  float crop_ratio_max = 4.0f / 3.0f;
  // ColorJitter: factors in [max(0, 1 − x), 1 + x] for brightness, contrast and saturation, a hue
  // shift in [−hue, hue] (hue <= 0.5); the whole jitter applied with probability jitter_p.
  float jitter_brightness = 0.4f;
  float jitter_contrast = 0.4f;
  float jitter_saturation = 0.2f;
  float jitter_hue = 0.1f;
  float jitter_p = 0.8f;
  float grayscale_p = 0.2f;
  // GaussianBlur, applied with probability blur_p: σ ~ U(blur_sigma_min, blur_sigma_max).
  // blur_kernel = 3 (odd, positive): SimCLR's rule, a kernel of 10% of the image's side, gives 3.2
  // on CIFAR's 32 pixels; a larger kernel would blur a 32×32 image far more, relative to its size,
  // than SimCLR's 23-pixel kernel blurs a 224×224 one. solo-learn's CIFAR recipes never blur
  // (blur_p 0), so the kernel only matters when a user asks for blurring.
  float blur_p = 0.0f;
  int64_t blur_kernel = 3;
  float blur_sigma_min = 0.1f;
  float blur_sigma_max = 2.0f;
  // RandomSolarize: pixels >= solarize_threshold (in [0, 1]) become 1 − pixel.
  float solarize_p = 0.0f;
  float solarize_threshold = 0.5f;
  float flip_p = 0.5f;
  // Normalize after everything else: one mean and one std (> 0) per channel, or both empty.
  std::vector<float> mean;
  std::vector<float> std;

  // Throws naming the first field out of range and its value.
  void validate() const;
  // Every field under its own name (floats written as their shortest decimal form, which reads
  // back to the same float).
  nlohmann::json to_json() const;
  // The inverse of to_json: every key required, no other key allowed; errors name the key. The
  // result is validated.
  static SslAugmentSpec from_json(const nlohmann::json& j);
};

bool operator==(const SslAugmentSpec& a, const SslAugmentSpec& b);
inline bool operator!=(const SslAugmentSpec& a, const SslAugmentSpec& b) {
  return !(a == b);
}

// The per-channel mean and std the recipes normalize with: CIFAR-10 (0.4914, 0.4822, 0.4465) /
// (0.2470, 0.2435, 0.2616) and CIFAR-100 (0.5071, 0.4865, 0.4409) / (0.2673, 0.2564, 0.2762),
// solo-learn's values; MNIST 0.1307 / 0.3081 and Fashion-MNIST 0.2860 / 0.3530, their training
// sets' statistics (ImageDataset::channel_stats, docs/DATA.md). dataset: "cifar10", "cifar100",
// "mnist", "fashion-mnist" (the names of ssl/datasets.h).
std::pair<std::vector<float>, std::vector<float>> ssl_mean_std(const std::string& dataset);

// solo-learn's CIFAR recipes with `dataset`'s mean and std (ssl_mean_std). On the one-channel
// MNIST family the same numbers apply; saturation, hue and grayscale then do nothing.
//   SimCLR: crop scale (0.08, 1), ColorJitter(0.4, 0.4, 0.2, 0.1) p 0.8, grayscale p 0.2,
//           blur p 0, solarization p 0, flip p 0.5
//   VICReg: crop scale (0.2, 1), the same jitter and grayscale, blur p 0, solarization p 0.1,
//           flip p 0.5
SslAugmentSpec simclr_spec(const std::string& dataset);
SslAugmentSpec vicreg_spec(const std::string& dataset);

// The pipeline of one view (validates the spec first).
std::shared_ptr<const Augmentation> ssl_augment(const SslAugmentSpec& spec);
// Both views through that pipeline with independent draws (solo-learn's symmetric recipes).
std::shared_ptr<const TwoViews> ssl_two_views(const SslAugmentSpec& spec);
// What evaluation images get: only the recipe's Normalize (null when it has no mean and std).
std::shared_ptr<const Augmentation> ssl_eval_transform(const SslAugmentSpec& spec);

}  // namespace nidim
