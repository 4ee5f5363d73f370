// nidim/data/ssl_augment.cpp: see ssl_augment.h. The scalar fields are listed once (float_fields)
// for validation messages, JSON writing and JSON reading.
#include "data/ssl_augment.h"

#include <cmath>
#include <cstdlib>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace nidim {

namespace {

using json = nlohmann::json;

struct FloatField {
  const char* name;
  float SslAugmentSpec::*member;
};

constexpr FloatField float_fields[] = {
    {"crop_scale_min", &SslAugmentSpec::crop_scale_min},
    {"crop_scale_max", &SslAugmentSpec::crop_scale_max},
    {"crop_ratio_min", &SslAugmentSpec::crop_ratio_min},
    {"crop_ratio_max", &SslAugmentSpec::crop_ratio_max},
    {"jitter_brightness", &SslAugmentSpec::jitter_brightness},
    {"jitter_contrast", &SslAugmentSpec::jitter_contrast},
    {"jitter_saturation", &SslAugmentSpec::jitter_saturation},
    {"jitter_hue", &SslAugmentSpec::jitter_hue},
    {"jitter_p", &SslAugmentSpec::jitter_p},
    {"grayscale_p", &SslAugmentSpec::grayscale_p},
    {"blur_p", &SslAugmentSpec::blur_p},
    {"blur_sigma_min", &SslAugmentSpec::blur_sigma_min},
    {"blur_sigma_max", &SslAugmentSpec::blur_sigma_max},
    {"solarize_p", &SslAugmentSpec::solarize_p},
    {"solarize_threshold", &SslAugmentSpec::solarize_threshold},
    {"flip_p", &SslAugmentSpec::flip_p},
};

// The shortest decimal that reads back as x (fmt's float formatting), as a double: 0.08f is
// written 0.08, not 0.07999999821186066, and still reads back to the same float.
double json_float(float x) {
  return std::strtod(fmt::format("{}", x).c_str(), nullptr);
}

void check_probability(const char* field, float p) {
  NIDIM_CHECK(p >= 0 && p <= 1, "SslAugmentSpec: {} {} outside [0, 1]", field, p);
}

void check_range(const char* low_field, float low, const char* high_field, float high) {
  NIDIM_CHECK(low <= high, "SslAugmentSpec: {} {} above {} {}", low_field, low, high_field, high);
}

float read_float(const json& j, const char* key) {
  const json& v = j.at(key);
  NIDIM_CHECK(v.is_number(), "SslAugmentSpec JSON: key '{}' must be a number, got {}", key,
              v.dump());
  return static_cast<float>(v.get<double>());
}

std::vector<float> read_floats(const json& j, const char* key) {
  const json& v = j.at(key);
  NIDIM_CHECK(v.is_array(), "SslAugmentSpec JSON: key '{}' must be an array of numbers, got {}",
              key, v.dump());
  std::vector<float> out;
  for (const json& x : v) {
    NIDIM_CHECK(x.is_number(), "SslAugmentSpec JSON: key '{}' must be an array of numbers, got {}",
                key, v.dump());
    out.push_back(static_cast<float>(x.get<double>()));
  }
  return out;
}

json json_floats(const std::vector<float>& xs) {
  json out = json::array();
  for (float x : xs) out.push_back(json_float(x));
  return out;
}

}  // namespace

void SslAugmentSpec::validate() const {
  for (const FloatField& f : float_fields)
    NIDIM_CHECK(std::isfinite(this->*f.member), "SslAugmentSpec: {} {} is not finite", f.name,
                this->*f.member);
  NIDIM_CHECK(crop_scale_min > 0 && crop_scale_max <= 1,
              "SslAugmentSpec: crop scale [{}, {}] not inside (0, 1] (crop_scale_min, "
              "crop_scale_max)",
              crop_scale_min, crop_scale_max);
  check_range("crop_scale_min", crop_scale_min, "crop_scale_max", crop_scale_max);
  NIDIM_CHECK(crop_ratio_min > 0, "SslAugmentSpec: crop_ratio_min {} must be positive",
              crop_ratio_min);
  check_range("crop_ratio_min", crop_ratio_min, "crop_ratio_max", crop_ratio_max);
  NIDIM_CHECK(jitter_brightness >= 0, "SslAugmentSpec: jitter_brightness {} is negative",
              jitter_brightness);
  NIDIM_CHECK(jitter_contrast >= 0, "SslAugmentSpec: jitter_contrast {} is negative",
              jitter_contrast);
  NIDIM_CHECK(jitter_saturation >= 0, "SslAugmentSpec: jitter_saturation {} is negative",
              jitter_saturation);
  NIDIM_CHECK(jitter_hue >= 0 && jitter_hue <= 0.5f,
              "SslAugmentSpec: jitter_hue {} outside [0, 0.5]", jitter_hue);
  check_probability("jitter_p", jitter_p);
  check_probability("grayscale_p", grayscale_p);
  check_probability("blur_p", blur_p);
  NIDIM_CHECK(blur_kernel > 0 && blur_kernel % 2 == 1,
              "SslAugmentSpec: blur_kernel {} must be odd and positive", blur_kernel);
  NIDIM_CHECK(blur_sigma_min > 0, "SslAugmentSpec: blur_sigma_min {} must be positive",
              blur_sigma_min);
  check_range("blur_sigma_min", blur_sigma_min, "blur_sigma_max", blur_sigma_max);
  check_probability("solarize_p", solarize_p);
  // torchvision only refuses a threshold above 1; below 0 it would invert every pixel of a [0, 1]
  // image, as 0 does, so a negative value can only be a slip.
  NIDIM_CHECK(solarize_threshold >= 0 && solarize_threshold <= 1,
              "SslAugmentSpec: solarize_threshold {} outside [0, 1]", solarize_threshold);
  check_probability("flip_p", flip_p);
  NIDIM_CHECK(mean.size() == std.size(), "SslAugmentSpec: {} mean values but {} std values",
              mean.size(), std.size());
  NIDIM_CHECK(mean.empty() || mean.size() == 1 || mean.size() == 3,
              "SslAugmentSpec: {} mean and std values (one per channel: 1 or 3, or none)",
              mean.size());
  for (size_t c = 0; c < mean.size(); ++c) {
    NIDIM_CHECK(std::isfinite(mean[c]), "SslAugmentSpec: mean[{}] {} is not finite", c, mean[c]);
    NIDIM_CHECK(std[c] > 0 && std::isfinite(std[c]), "SslAugmentSpec: std[{}] {} must be positive",
                c, std[c]);
  }
}

json SslAugmentSpec::to_json() const {
  json j = json::object();
  for (const FloatField& f : float_fields) j[f.name] = json_float(this->*f.member);
  j["blur_kernel"] = blur_kernel;
  j["mean"] = json_floats(mean);
  j["std"] = json_floats(std);
  return j;
}

SslAugmentSpec SslAugmentSpec::from_json(const json& j) {
  NIDIM_CHECK(j.is_object(), "SslAugmentSpec JSON: expected an object, got {}", j.dump());
  for (const auto& item : j.items()) {
    bool known = item.key() == "blur_kernel" || item.key() == "mean" || item.key() == "std";
    for (const FloatField& f : float_fields) known = known || item.key() == f.name;
    NIDIM_CHECK(known, "SslAugmentSpec JSON: unknown key '{}'", item.key());
  }
  auto require = [&j](const char* key) {
    NIDIM_CHECK(j.contains(key), "SslAugmentSpec JSON: key '{}' is missing", key);
  };
  SslAugmentSpec s;
  for (const FloatField& f : float_fields) {
    require(f.name);
    s.*f.member = read_float(j, f.name);
  }
  require("blur_kernel");
  NIDIM_CHECK(j.at("blur_kernel").is_number_integer(),
              "SslAugmentSpec JSON: key 'blur_kernel' must be an integer, got {}",
              j.at("blur_kernel").dump());
  s.blur_kernel = j.at("blur_kernel").get<int64_t>();
  require("mean");
  s.mean = read_floats(j, "mean");
  require("std");
  s.std = read_floats(j, "std");
  s.validate();
  return s;
}

bool operator==(const SslAugmentSpec& a, const SslAugmentSpec& b) {
  for (const FloatField& f : float_fields)
    if (a.*f.member != b.*f.member) return false;
  return a.blur_kernel == b.blur_kernel && a.mean == b.mean && a.std == b.std;
}

std::pair<std::vector<float>, std::vector<float>> ssl_mean_std(const std::string& dataset) {
  if (dataset == "cifar10") return {{0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}};
  if (dataset == "cifar100") return {{0.5071f, 0.4865f, 0.4409f}, {0.2673f, 0.2564f, 0.2762f}};
  if (dataset == "mnist") return {{0.1307f}, {0.3081f}};
  if (dataset == "fashion-mnist") return {{0.2860f}, {0.3530f}};
  NIDIM_FAIL("ssl_mean_std: unknown dataset '{}' (cifar10, cifar100, mnist, fashion-mnist)",
             dataset);
}

SslAugmentSpec simclr_spec(const std::string& dataset) {
  SslAugmentSpec s;  // the defaults are SimCLR's numbers
  std::tie(s.mean, s.std) = ssl_mean_std(dataset);
  return s;
}

SslAugmentSpec vicreg_spec(const std::string& dataset) {
  SslAugmentSpec s = simclr_spec(dataset);
  s.crop_scale_min = 0.2f;
  s.solarize_p = 0.1f;
  return s;
}

std::shared_ptr<const Augmentation> ssl_augment(const SslAugmentSpec& spec) {
  spec.validate();
  std::vector<std::shared_ptr<const Augmentation>> steps = {
      std::make_shared<RandomResizedCrop>(spec.crop_scale_min, spec.crop_scale_max,
                                          spec.crop_ratio_min, spec.crop_ratio_max),
      std::make_shared<ColorJitter>(spec.jitter_brightness, spec.jitter_contrast,
                                    spec.jitter_saturation, spec.jitter_hue, spec.jitter_p),
      std::make_shared<RandomGrayscale>(spec.grayscale_p),
      std::make_shared<GaussianBlur>(spec.blur_kernel, spec.blur_sigma_min, spec.blur_sigma_max,
                                     spec.blur_p),
      std::make_shared<Solarize>(spec.solarize_threshold, spec.solarize_p),
      std::make_shared<RandomHorizontalFlip>(spec.flip_p)};
  if (!spec.mean.empty()) steps.push_back(std::make_shared<Normalize>(spec.mean, spec.std));
  return std::make_shared<Compose>(std::move(steps));
}

std::shared_ptr<const TwoViews> ssl_two_views(const SslAugmentSpec& spec) {
  return std::make_shared<TwoViews>(ssl_augment(spec));
}

std::shared_ptr<const Augmentation> ssl_eval_transform(const SslAugmentSpec& spec) {
  spec.validate();
  if (spec.mean.empty()) return nullptr;
  return std::make_shared<Normalize>(spec.mean, spec.std);
}

}  // namespace nidim
