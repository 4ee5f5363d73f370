// nidim/tests/data/test_ssl_augment.cpp: the SSL recipes (ssl_augment.h): the presets against
// solo-learn's CIFAR numbers, validation and JSON errors naming the field or key, the pipeline's
// order against the same steps applied by hand, and the Loader's refusal to normalize twice.
#include <cmath>

#include <nlohmann/json.hpp>

#include "data/loader.h"
#include "data/ssl_augment.h"
#include "helpers.h"

using namespace nidim;
using namespace nidim_test;

namespace {

std::vector<float> ramp(const ImageDims& d) {
  std::vector<float> img(static_cast<size_t>(d.numel()));
  for (int64_t k = 0; k < d.numel(); ++k) img[k] = static_cast<float>((k * 37) % 97) / 96;
  return img;
}

}  // namespace

TEST_CASE("ssl_augment: the presets are solo-learn's CIFAR recipes") {
  // solo-learn scripts/pretrain/cifar/{simclr,vicreg}.yaml and its CIFAR mean/std.
  const SslAugmentSpec s = simclr_spec("cifar10");
  CHECK(s.crop_scale_min == 0.08f);
  CHECK(s.crop_scale_max == 1.0f);
  CHECK(s.crop_ratio_min == 3.0f / 4.0f);
  CHECK(s.crop_ratio_max == 4.0f / 3.0f);
  CHECK(s.jitter_brightness == 0.4f);
  CHECK(s.jitter_contrast == 0.4f);
  CHECK(s.jitter_saturation == 0.2f);
  CHECK(s.jitter_hue == 0.1f);
  CHECK(s.jitter_p == 0.8f);
  CHECK(s.grayscale_p == 0.2f);
  CHECK(s.blur_p == 0.0f);
  CHECK(s.solarize_p == 0.0f);
  CHECK(s.solarize_threshold == 0.5f);
  CHECK(s.flip_p == 0.5f);
  CHECK(s.mean == std::vector<float>{0.4914f, 0.4822f, 0.4465f});
  CHECK(s.std == std::vector<float>{0.2470f, 0.2435f, 0.2616f});

  const SslAugmentSpec v = vicreg_spec("cifar100");
  CHECK(v.crop_scale_min == 0.2f);
  CHECK(v.solarize_p == 0.1f);
  CHECK(v.mean == std::vector<float>{0.5071f, 0.4865f, 0.4409f});
  CHECK(v.std == std::vector<float>{0.2673f, 0.2564f, 0.2762f});
  // Everything else as SimCLR's.
  SslAugmentSpec w = v;
  w.crop_scale_min = 0.08f;
  w.solarize_p = 0.0f;
  CHECK(w == simclr_spec("cifar100"));
  CHECK(w != v);

  CHECK(simclr_spec("mnist").mean == std::vector<float>{0.1307f});
  CHECK(vicreg_spec("fashion-mnist").std == std::vector<float>{0.3530f});
  CHECK(contains(error_of([] { simclr_spec("svhn"); }), "'svhn'"));
}

TEST_CASE("ssl_augment: validate names the field and its value") {
  struct Case {
    void (*spoil)(SslAugmentSpec&);
    const char* message;
  };
  const Case cases[] = {
      {[](SslAugmentSpec& s) { s.crop_scale_min = 0; }, "crop scale [0, 1]"},
      {[](SslAugmentSpec& s) { s.crop_scale_max = 1.5f; }, "crop scale [0.08, 1.5]"},
      {[](SslAugmentSpec& s) { s.crop_scale_min = 0.9f, s.crop_scale_max = 0.5f; },
       "crop_scale_min 0.9 above crop_scale_max 0.5"},
      {[](SslAugmentSpec& s) { s.crop_ratio_max = 0.5f; }, "crop_ratio_min 0.75 above"},
      {[](SslAugmentSpec& s) { s.crop_ratio_min = -1; }, "crop_ratio_min -1"},
      {[](SslAugmentSpec& s) { s.jitter_brightness = -0.1f; }, "jitter_brightness -0.1"},
      {[](SslAugmentSpec& s) { s.jitter_contrast = -0.2f; }, "jitter_contrast -0.2"},
      {[](SslAugmentSpec& s) { s.jitter_saturation = -0.3f; }, "jitter_saturation -0.3"},
      {[](SslAugmentSpec& s) { s.jitter_hue = 0.6f; }, "jitter_hue 0.6"},
      {[](SslAugmentSpec& s) { s.jitter_p = 1.2f; }, "jitter_p 1.2"},
      {[](SslAugmentSpec& s) { s.grayscale_p = -0.5f; }, "grayscale_p -0.5"},
      {[](SslAugmentSpec& s) { s.blur_p = 2; }, "blur_p 2"},
      {[](SslAugmentSpec& s) { s.blur_kernel = 4; }, "blur_kernel 4"},
      {[](SslAugmentSpec& s) { s.blur_kernel = -3; }, "blur_kernel -3"},
      {[](SslAugmentSpec& s) { s.blur_sigma_min = 0; }, "blur_sigma_min 0"},
      {[](SslAugmentSpec& s) { s.blur_sigma_max = 0.05f; },
       "blur_sigma_min 0.1 above blur_sigma_max"},
      {[](SslAugmentSpec& s) { s.solarize_p = 1.5f; }, "solarize_p 1.5"},
      {[](SslAugmentSpec& s) { s.solarize_threshold = 1.01f; }, "solarize_threshold 1.01"},
      {[](SslAugmentSpec& s) { s.flip_p = NAN; }, "flip_p nan"},
      {[](SslAugmentSpec& s) { s.std.pop_back(); }, "3 mean values but 2 std values"},
      {[](SslAugmentSpec& s) { s.std[1] = 0; }, "std[1] 0"},
      {[](SslAugmentSpec& s) { s.mean[2] = INFINITY; }, "mean[2] inf"},
      {[](SslAugmentSpec& s) {
         s.mean = {0.5f, 0.5f}, s.std = {1, 1};
       },
       "2 mean and std"},
  };
  CHECK_NOTHROW(simclr_spec("cifar10").validate());
  CHECK_NOTHROW(SslAugmentSpec{}.validate());  // no normalization
  for (const Case& c : cases) {
    SslAugmentSpec s = simclr_spec("cifar10");
    c.spoil(s);
    const std::string message = error_of([&] { s.validate(); });
    CHECK_MESSAGE(contains(message, c.message), message);
    CHECK(contains(error_of([&] { ssl_augment(s); }), c.message));  // the builder validates
  }
}

TEST_CASE("ssl_augment: JSON round trip; errors name the key") {
  for (const SslAugmentSpec& s : {simclr_spec("cifar10"), vicreg_spec("mnist"), SslAugmentSpec{}}) {
    const nlohmann::json j = s.to_json();
    CHECK(SslAugmentSpec::from_json(j) == s);
    CHECK(SslAugmentSpec::from_json(nlohmann::json::parse(j.dump())) == s);
  }
  const nlohmann::json j = vicreg_spec("cifar10").to_json();
  CHECK(j.size() == 19);
  CHECK(contains(j.dump(), "\"crop_scale_min\":0.2,"));  // shortest form, not 0.2000000029...
  CHECK(contains(j.dump(), "\"mean\":[0.4914,0.4822,0.4465]"));
  CHECK(j.at("blur_kernel") == 3);

  auto spoiled = [&](const char* key, nlohmann::json value) {
    nlohmann::json k = j;
    if (value.is_discarded())
      k.erase(key);
    else
      k[key] = value;
    return error_of([&] { SslAugmentSpec::from_json(k); });
  };
  const nlohmann::json missing(nlohmann::json::value_t::discarded);
  CHECK(contains(spoiled("flip_p", missing), "key 'flip_p' is missing"));
  CHECK(contains(spoiled("std", missing), "key 'std' is missing"));
  CHECK(contains(spoiled("blur_prob", 0.5), "unknown key 'blur_prob'"));
  CHECK(contains(spoiled("jitter_hue", "0.1"), "key 'jitter_hue' must be a number, got \"0.1\""));
  CHECK(contains(spoiled("blur_kernel", 3.5), "key 'blur_kernel' must be an integer, got 3.5"));
  CHECK(contains(spoiled("mean", 0.5), "key 'mean' must be an array of numbers"));
  CHECK(contains(spoiled("std", {0.2, "x", 0.2}), "key 'std' must be an array of numbers"));
  CHECK(contains(spoiled("solarize_p", 1.5), "solarize_p 1.5"));  // validated after reading
  CHECK(contains(error_of([] { SslAugmentSpec::from_json(nlohmann::json::array()); }),
                 "expected an object"));
}

TEST_CASE(
    "ssl_augment: the pipeline runs crop, jitter, grayscale, blur, solarize, flip, normalize") {
  const auto names = ssl_augment(vicreg_spec("cifar10"))->name();
  size_t at = 0;
  for (const char* step :
       {"RandomResizedCrop(scale=[0.2, 1]", "ColorJitter(brightness=0.4", "RandomGrayscale(p=0.2)",
        "GaussianBlur(kernel=3", "Solarize(threshold=0.5, p=0.1)", "RandomHorizontalFlip(p=0.5)",
        "Normalize(mean=[0.4914"}) {
    const size_t found = names.find(step, at);
    CHECK_MESSAGE(found != std::string::npos,
                  step << " not after position " << at << " in " << names);
    if (found != std::string::npos) at = found;
  }
  CHECK(!contains(ssl_augment(SslAugmentSpec{})->name(), "Normalize"));

  // Order by effect: with a full-image crop (scale 1, aspect 1, square image: the identity), the
  // jitter off and every other step certain, the output is normalize(flip(solarize(blur(gray(x)))))
  // with σ fixed at 1.3; grayscale, blur and solarize do not commute, so another order differs.
  SslAugmentSpec s = simclr_spec("cifar10");
  s.crop_scale_min = s.crop_ratio_min = s.crop_ratio_max = 1;
  s.jitter_p = 0;
  s.grayscale_p = s.blur_p = s.solarize_p = s.flip_p = 1;
  s.blur_kernel = 5;
  s.blur_sigma_min = s.blur_sigma_max = 1.3f;
  s.solarize_threshold = 0.4f;
  const ImageDims d{3, 8, 8};
  const std::vector<float> x = ramp(d);
  std::vector<float> want = x;
  to_grayscale(want.data(), d);
  gaussian_blur(want.data(), d, 5, 1.3f);
  solarize(want.data(), d, 0.4f);
  flip_horizontal(want.data(), d);
  normalize_channels(want.data(), d, s.mean.data(), s.std.data());
  std::vector<float> y = x;
  SampleRng rng(1, 0, 0, 0);
  ssl_augment(s)->apply(y.data(), d, rng);
  for (size_t k = 0; k < y.size(); ++k) CHECK(y[k] == want[k]);

  // Every probability 0 and the identity crop: only the normalization acts.
  s.grayscale_p = s.blur_p = s.solarize_p = s.flip_p = 0;
  std::vector<float> z = x, plain = x;
  SampleRng rng2(1, 0, 0, 0);
  ssl_augment(s)->apply(z.data(), d, rng2);
  normalize_channels(plain.data(), d, s.mean.data(), s.std.data());
  CHECK(z == plain);
  // ... and its evaluation transform is exactly that normalization.
  std::vector<float> e = x;
  ssl_eval_transform(s)->apply(e.data(), d, rng2);
  CHECK(e == plain);
  CHECK(ssl_eval_transform(SslAugmentSpec{}) == nullptr);
}

TEST_CASE("ssl_augment: two views are reproducible per key and differ between views") {
  const ImageDims d{3, 32, 32};
  const std::vector<float> x = ramp(d);
  for (const SslAugmentSpec& spec : {simclr_spec("cifar10"), vicreg_spec("cifar100")}) {
    const auto views = ssl_two_views(spec);
    CHECK(views->normalizes());
    std::vector<float> a0(x.size()), a1(x.size()), b0(x.size()), b1(x.size());
    int differ = 0;
    for (uint64_t i = 0; i < 20; ++i) {
      views->apply(x.data(), d, 7, 3, i, a0.data(), a1.data());
      views->apply(x.data(), d, 7, 3, i, b0.data(), b1.data());
      CHECK(a0 == b0);  // same seed, epoch, index: the same bits
      CHECK(a1 == b1);
      differ += (a0 != a1);
    }
    CHECK(differ == 20);
  }
  // One channel (MNIST): saturation, hue and grayscale do nothing, the rest runs.
  const ImageDims m{1, 28, 28};
  const std::vector<float> g = ramp(m);
  std::vector<float> v0(g.size()), v1(g.size());
  ssl_two_views(vicreg_spec("mnist"))->apply(g.data(), m, 1, 0, 5, v0.data(), v1.data());
  CHECK(v0 != v1);
}

TEST_CASE("ssl_augment: the Loader refuses a normalized dataset with a normalizing pipeline") {
  const int64_t n = 4;
  auto ds = std::make_shared<ImageDataset>("tiny", std::vector<uint8_t>(n * 3 * 4 * 4, 100),
                                           std::vector<int32_t>(n, 0), 3, 4, 4, 10);
  LoaderOptions opt;
  opt.batch_size = 2;
  opt.two_views = ssl_two_views(simclr_spec("cifar10"));
  CHECK_NOTHROW(Loader(ds, opt));
  auto normalized = std::make_shared<ImageDataset>(*ds);
  normalized->set_normalization({0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f});
  CHECK(contains(error_of([&] { Loader(normalized, opt); }), "normalize"));
  LoaderOptions one;
  one.augment = ssl_augment(vicreg_spec("cifar10"));
  CHECK(contains(error_of([&] { Loader(normalized, one); }), "tiny has a normalization set"));
  one.augment = ssl_augment(SslAugmentSpec{});  // no normalization in the recipe: fine
  CHECK_NOTHROW(Loader(normalized, one));
}
