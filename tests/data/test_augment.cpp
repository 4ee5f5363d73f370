// nidim/tests/data/test_augment.cpp: the augmentations against closed forms (bilinear on
// hand-computed and linear images, colour formulas, HSV values from Python's colorsys), the
// noise against an independent double-precision Box-Muller of the documented Philox layout,
// the random choices against their probabilities, and blur, solarize, normalize, the colour ops
// and the resized crop against torchvision 0.14's functional ops (tests/fixtures/data/augment.json,
// made by make_augment_fixtures.py).
#include <cmath>
#include <set>

#include "data/augment.h"
#include "helpers.h"
#include "test_util.h"

using namespace nidim;
using namespace nidim_test;

namespace {

std::vector<float> ramp_image(const ImageDims& d, float scale = 1.0f / 97) {
  std::vector<float> img(static_cast<size_t>(d.numel()));
  for (int64_t k = 0; k < d.numel(); ++k) img[k] = static_cast<float>((k * 37) % 97) * scale;
  return img;
}

double luma(double r, double g, double b) {
  return 0.2989 * r + 0.587 * g + 0.114 * b;
}

}  // namespace

TEST_CASE("augment: SampleRng follows its documented Philox layout and separates its keys") {
  SampleRng a(42, 3, 1000, 1);
  const Philox4 b0 = philox_block(42, 1000, (uint64_t(3) << 36) | (uint64_t(1) << 32));
  const Philox4 b1 = philox_block(42, 1000, ((uint64_t(3) << 36) | (uint64_t(1) << 32)) + 1);
  for (int i = 0; i < 4; ++i) CHECK(a.next_u32() == b0.v[i]);
  CHECK(a.next_u32() == b1.v[0]);
  // reserve_blocks skips the rest of the current block.
  CHECK(a.reserve_blocks(3) == ((uint64_t(3) << 36) | (uint64_t(1) << 32)) + 2);
  CHECK(a.next_u32() ==
        philox_block(42, 1000, ((uint64_t(3) << 36) | (uint64_t(1) << 32)) + 5).v[0]);

  auto first = [](uint64_t seed, uint64_t epoch, uint64_t index, uint32_t view) {
    SampleRng r(seed, epoch, index, view);
    return r.next_u32();
  };
  std::set<uint32_t> seen = {first(1, 0, 0, 0), first(2, 0, 0, 0), first(1, 1, 0, 0),
                             first(1, 0, 1, 0), first(1, 0, 0, 1)};
  CHECK(seen.size() == 5);
  CHECK(first(9, 8, 7, 1) == first(9, 8, 7, 1));

  CHECK(contains(error_of([] { SampleRng(0, uint64_t(1) << 28, 0, 0); }), "epoch"));
  CHECK(contains(error_of([] { SampleRng(0, 0, 0, 16); }), "view 16"));

  // uniform_int(10): 20000 draws, each bin expects 2000 with sd sqrt(20000 · 0.1 · 0.9) ≈ 42;
  // allow 5 sd.
  SampleRng r(7, 0, 0, 0);
  std::vector<int> bins(10);
  for (int i = 0; i < 20000; ++i) {
    const int64_t v = r.uniform_int(10);
    REQUIRE(v >= 0);
    REQUIRE(v < 10);
    ++bins[v];
  }
  for (int b : bins) CHECK(std::abs(b - 2000) < 212);
  double sum = 0;
  for (int i = 0; i < 20000; ++i) {
    const double u = r.uniform_double();
    REQUIRE(u >= 0);
    REQUIRE(u < 1);
    sum += u;
  }
  CHECK(std::abs(sum / 20000 - 0.5) < 5 * std::sqrt(1.0 / 12 / 20000));
}

TEST_CASE("augment: Gaussian noise is x + sigma * Box-Muller of the sample's Philox words") {
  const ImageDims d{1, 28, 28};
  const std::vector<float> x = ramp_image(d);
  std::vector<float> y = x;
  SampleRng rng(123, 5, 77, 1);
  GaussianNoise(0.2f).apply(y.data(), d, rng);
  // Reference in double: element e uses words (2p, 2p+1) of block base + e / 4, p = (e % 4) / 2.
  // float log/sqrt/cos against double differ by a few 1e-7 relative on |z| < 6: 1e-5 absolute.
  const uint64_t base = (uint64_t(5) << 36) | (uint64_t(1) << 32);
  for (int64_t e = 0; e < d.numel(); ++e) {
    const Philox4 b = philox_block(123, 77, base + static_cast<uint64_t>(e / 4));
    const int p = static_cast<int>(e % 4) / 2;
    const double u1 = ((b.v[2 * p] >> 8) + 1) / 16777216.0, u2 = (b.v[2 * p + 1] >> 8) / 16777216.0;
    const double r = std::sqrt(-2 * std::log(u1)), t = 2 * M_PI * u2;
    const double z = (e % 2 == 0) ? r * std::cos(t) : r * std::sin(t);
    CHECK(std::abs(y[e] - (x[e] + 0.2 * z)) < 1e-5);
  }

  // Moments over 64 images (50176 draws): the mean's sd is 0.2 / sqrt(50176) ≈ 9e-4 and the
  // sample sd's relative sd is 1 / sqrt(2 · 50176) ≈ 0.32%; allow 5 sd each.
  double s = 0, s2 = 0;
  const int64_t n = 64 * d.numel();
  for (int i = 0; i < 64; ++i) {
    std::vector<float> z(static_cast<size_t>(d.numel()), 0.0f);
    SampleRng ri(9, 0, static_cast<uint64_t>(i), 0);
    GaussianNoise(0.2f).apply(z.data(), d, ri);
    for (float v : z) {
      s += v;
      s2 += double(v) * v;
    }
  }
  const double mean = s / n, sd = std::sqrt(s2 / n - mean * mean);
  CHECK(std::abs(mean) < 5 * 0.2 / std::sqrt(double(n)));
  CHECK(std::abs(sd / 0.2 - 1) < 5 / std::sqrt(2.0 * n));
}

TEST_CASE("augment: bilinear resized crop (identity, 2x2 to 4x4 by hand, linear images exact)") {
  const ImageDims d{2, 5, 6};
  const std::vector<float> x = ramp_image(d);
  std::vector<float> y(x.size());
  resized_crop_bilinear(x.data(), d, {0, 0, 5, 6}, y.data(), 5, 6);
  CHECK(y == x);  // same size: every tap lands on a pixel centre with weight 1

  // torch.nn.functional.interpolate([[0, 1], [2, 3]], size=4, mode="bilinear",
  // align_corners=False) by hand: source coordinate (o + 0.5) / 2 - 0.5 clamped at 0.
  const std::vector<float> small = {0, 1, 2, 3};
  std::vector<float> big(16);
  resized_crop_bilinear(small.data(), {1, 2, 2}, {0, 0, 2, 2}, big.data(), 4, 4);
  const std::vector<float> want = {0,    0.25f, 0.75f, 1,    0.5f, 0.75f, 1.25f, 1.5f,
                                   1.5f, 1.75f, 2.25f, 2.5f, 2,    2.25f, 2.75f, 3};
  for (int k = 0; k < 16; ++k) CHECK(big[k] == doctest::Approx(want[k]).epsilon(1e-6));

  // A linear image f = a·row + b·col + c is reproduced exactly (up to float rounding, 1e-4 on
  // values up to ~40) at the clamped source coordinates, for any box and output size.
  const ImageDims L{1, 20, 24};
  std::vector<float> lin(static_cast<size_t>(L.numel()));
  for (int64_t r = 0; r < 20; ++r)
    for (int64_t c = 0; c < 24; ++c) lin[r * 24 + c] = 1.5f * r - 0.75f * c + 10;
  const CropBox boxes[] = {{3, 5, 7, 11}, {0, 0, 20, 24}, {12, 1, 8, 5}, {4, 4, 1, 1}};
  for (const CropBox& box : boxes) {
    for (int64_t oh : {9, 32}) {
      const int64_t ow = oh + 3;
      std::vector<float> out(static_cast<size_t>(oh * ow));
      resized_crop_bilinear(lin.data(), L, box, out.data(), oh, ow);
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          const double sy =
              std::min<double>(box.height - 1, std::max(0.0, (oy + 0.5) * box.height / oh - 0.5));
          const double sx =
              std::min<double>(box.width - 1, std::max(0.0, (ox + 0.5) * box.width / ow - 0.5));
          const double f = 1.5 * (box.top + sy) - 0.75 * (box.left + sx) + 10;
          CHECK(std::abs(out[oy * ow + ox] - f) < 1e-4);
        }
    }
  }
  CHECK(contains(error_of([&] {
                   resized_crop_bilinear(x.data(), d, {1, 0, 5, 6}, y.data(), 5, 6);
                 }),
                 "outside a 5x6 image"));
}

TEST_CASE("augment: random resized crop boxes stay inside the image and cover the ranges") {
  RandomResizedCrop crop;
  double min_frac = 1, max_frac = 0, min_ratio = 10, max_ratio = 0;
  for (uint64_t i = 0; i < 4000; ++i) {
    SampleRng rng(5, 0, i, 0);
    const CropBox b = crop.sample_box(rng, 32, 32);
    REQUIRE(b.height >= 1);
    REQUIRE(b.width >= 1);
    REQUIRE(b.top >= 0);
    REQUIRE(b.left >= 0);
    REQUIRE(b.top + b.height <= 32);
    REQUIRE(b.left + b.width <= 32);
    const double frac = double(b.height * b.width) / 1024, ratio = double(b.width) / b.height;
    min_frac = std::min(min_frac, frac);
    max_frac = std::max(max_frac, frac);
    min_ratio = std::min(min_ratio, ratio);
    max_ratio = std::max(max_ratio, ratio);
  }
  // Rounding w and h to integers moves the area and aspect a little: at the smallest area
  // (0.08 · 1024 ≈ 82 px, sides ≈ 9) by up to about half a pixel per side, i.e. ~12%.
  CHECK(min_frac >= 0.08 * 0.85);
  CHECK(min_frac < 0.1);
  CHECK(max_frac <= 1.0);
  CHECK(max_frac > 0.95);
  CHECK(min_ratio >= 0.75 * 0.85);
  CHECK(min_ratio < 0.8);
  CHECK(max_ratio <= 4.0 / 3 / 0.85);
  CHECK(max_ratio > 1.25);

  // Scale 1 and aspect 1 on a 10x20 image ask for a 14x14 box, which never fits: after ten
  // tries the fallback is the largest centred box of aspect 1, 10x10 at column 5.
  RandomResizedCrop full(1.0f, 1.0f, 1.0f, 1.0f);
  SampleRng rng(1, 0, 0, 0);
  const CropBox b = full.sample_box(rng, 10, 20);
  CHECK(b.top == 0);
  CHECK(b.height == 10);
  CHECK(b.width == 10);
  CHECK(b.left == 5);
}

TEST_CASE("augment: flip, brightness, contrast, saturation, grayscale closed forms") {
  const ImageDims d{3, 4, 5};
  const std::vector<float> x = ramp_image(d);
  const int64_t plane = 20;

  std::vector<float> f = x;
  flip_horizontal(f.data(), d);
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t r = 0; r < 4; ++r)
      for (int64_t k = 0; k < 5; ++k) CHECK(f[(c * 4 + r) * 5 + k] == x[(c * 4 + r) * 5 + 4 - k]);

  std::vector<float> b = x;
  adjust_brightness(b.data(), d, 1.7f);
  for (size_t k = 0; k < x.size(); ++k)
    CHECK(b[k] == doctest::Approx(std::min(1.0, 1.7 * x[k])).epsilon(1e-6));

  // Contrast blends with the image's mean luma; 1e-5 covers float sums over 20 pixels.
  double m = 0;
  for (int64_t k = 0; k < plane; ++k) m += luma(x[k], x[plane + k], x[2 * plane + k]);
  m /= plane;
  for (float factor : {0.0f, 0.6f, 1.4f}) {
    std::vector<float> c = x;
    adjust_contrast(c.data(), d, factor);
    for (size_t k = 0; k < x.size(); ++k)
      CHECK(std::abs(c[k] - std::clamp(factor * x[k] + (1 - factor) * m, 0.0, 1.0)) < 1e-5);
  }

  for (float factor : {0.0f, 0.6f, 1.4f}) {
    std::vector<float> s = x;
    adjust_saturation(s.data(), d, factor);
    for (int64_t k = 0; k < plane; ++k) {
      const double g = luma(x[k], x[plane + k], x[2 * plane + k]);
      for (int64_t c = 0; c < 3; ++c)
        CHECK(std::abs(s[c * plane + k] -
                       std::clamp(factor * x[c * plane + k] + (1 - factor) * g, 0.0, 1.0)) < 1e-6);
    }
  }

  std::vector<float> g = x;
  to_grayscale(g.data(), d);
  for (int64_t k = 0; k < plane; ++k) {
    const double want = luma(x[k], x[plane + k], x[2 * plane + k]);
    for (int64_t c = 0; c < 3; ++c) CHECK(std::abs(g[c * plane + k] - want) < 1e-6);
  }

  // One channel: saturation, hue and grayscale change nothing (torchvision's rule).
  const ImageDims one{1, 4, 5};
  std::vector<float> o(x.begin(), x.begin() + 20), o2 = o;
  adjust_saturation(o2.data(), one, 0.3f);
  adjust_hue(o2.data(), one, 0.2f);
  to_grayscale(o2.data(), one);
  CHECK(o2 == o);
  CHECK(contains(error_of([&] {
                   std::vector<float> t(40);
                   adjust_hue(t.data(), {2, 4, 5}, 0.1f);
                 }),
                 "needs 1 or 3 channels"));
}

TEST_CASE("augment: hue rotation matches colorsys values and round-trips") {
  // Values from Python's colorsys (rgb_to_hsv, shift, hsv_to_rgb); float arithmetic on [0, 1]
  // values, a handful of operations: 1e-6.
  struct Case {
    float r, g, b, shift, R, G, B;
  };
  const Case cases[] = {
      {0.2f, 0.4f, 0.8f, 0.1f, 0.36f, 0.2f, 0.8f},
      {0.9f, 0.3f, 0.5f, -0.25f, 0.4f, 0.3f, 0.9f},
      {1.0f, 0.0f, 0.0f, 1.0f / 3, 0.0f, 1.0f, 0.0f},  // red to green
      {0.5f, 0.5f, 0.5f, 0.3f, 0.5f, 0.5f, 0.5f},      // grey has no hue
  };
  for (const Case& c : cases) {
    std::vector<float> px = {c.r, c.g, c.b};
    adjust_hue(px.data(), {3, 1, 1}, c.shift);
    CHECK(std::abs(px[0] - c.R) < 1e-6);
    CHECK(std::abs(px[1] - c.G) < 1e-6);
    CHECK(std::abs(px[2] - c.B) < 1e-6);
  }
  float h, s, v;
  rgb_to_hsv(0.2f, 0.4f, 0.8f, &h, &s, &v);
  CHECK(h == doctest::Approx(0.6111111).epsilon(1e-6));
  CHECK(s == doctest::Approx(0.75).epsilon(1e-6));
  CHECK(v == 0.8f);
  // Shift 0 is the identity on a grid of colours.
  for (int r = 0; r <= 8; ++r)
    for (int g = 0; g <= 8; ++g)
      for (int b = 0; b <= 8; ++b) {
        float px[3] = {r / 8.0f, g / 8.0f, b / 8.0f};
        adjust_hue(px, {3, 1, 1}, 0.0f);
        CHECK(std::abs(px[0] - r / 8.0f) < 1e-6);
        CHECK(std::abs(px[1] - g / 8.0f) < 1e-6);
        CHECK(std::abs(px[2] - b / 8.0f) < 1e-6);
      }
}

TEST_CASE("augment: random choices happen with their probabilities; SimCLR stays in [0, 1]") {
  const ImageDims d{3, 8, 8};
  const std::vector<float> x = ramp_image(d);
  // 2000 samples: a probability p gives 2000p hits with sd sqrt(2000 p (1-p)) <= 23; 5 sd.
  auto rate = [&](const Augmentation& a) {
    int changed = 0;
    for (uint64_t i = 0; i < 2000; ++i) {
      std::vector<float> y = x;
      SampleRng rng(11, 0, i, 0);
      a.apply(y.data(), d, rng);
      changed += (y != x);
    }
    return changed;
  };
  CHECK(std::abs(rate(RandomHorizontalFlip()) - 1000) < 115);
  CHECK(std::abs(rate(RandomGrayscale()) - 400) < 90);
  CHECK(std::abs(rate(ColorJitter()) - 1600) < 90);
  CHECK(rate(ColorJitter(0.4f, 0.4f, 0.4f, 0.1f, 0.0f)) == 0);
  CHECK(rate(ColorJitter(0, 0, 0, 0, 1.0f)) == 0);  // all strengths 0: factors 1, shift 0

  const auto simclr = simclr_augment();
  CHECK(contains(simclr->name(), "RandomResizedCrop"));
  for (uint64_t i = 0; i < 200; ++i) {
    std::vector<float> y = x, z = x;
    SampleRng r1(3, 1, i, 0), r2(3, 1, i, 0);
    simclr->apply(y.data(), d, r1);
    simclr->apply(z.data(), d, r2);
    CHECK(y == z);  // same key, same result
    for (float v : y) {
      REQUIRE(v >= 0.0f);
      REQUIRE(v <= 1.0f);
    }
  }
}

TEST_CASE("augment: TwoViews draws view 0 and view 1 from their own streams") {
  const ImageDims d{1, 6, 6};
  const std::vector<float> x = ramp_image(d);
  std::vector<float> v0(36), v1(36);
  const auto noise = noise_augment(0.2f);
  TwoViews clean_noisy(nullptr, noise);
  clean_noisy.apply(x.data(), d, 8, 2, 31, v0.data(), v1.data());
  CHECK(v0 == x);  // METHOD.md's (x, x + σε)
  std::vector<float> want = x;
  SampleRng r1(8, 2, 31, 1);
  noise->apply(want.data(), d, r1);
  CHECK(v1 == want);

  TwoViews both(noise);
  both.apply(x.data(), d, 8, 2, 31, v0.data(), v1.data());
  std::vector<float> want0 = x;
  SampleRng r0(8, 2, 31, 0);
  noise->apply(want0.data(), d, r0);
  CHECK(v0 == want0);
  CHECK(v1 == want);
  CHECK(v0 != v1);
}

// ---- against torchvision 0.14's functional ops (tests/fixtures/data/augment.json, made by
// make_augment_fixtures.py on two fixed images whose pixels include 0, 0.5 and 1) ---------------

namespace {

struct FixtureImage {
  ImageDims dims;
  std::vector<float> pixels;
};

FixtureImage fixture_image(const nlohmann::json& fx, const std::string& name) {
  const nlohmann::json& j = fx.at("images").at(name);
  const std::vector<int64_t> shape = j.at("shape").get<std::vector<int64_t>>();
  REQUIRE(shape.size() == 3);
  const std::vector<double> data = j.at("data").get<std::vector<double>>();
  return {{shape[0], shape[1], shape[2]}, std::vector<float>(data.begin(), data.end())};
}

std::vector<double> as_double(const std::vector<float>& x) {
  return std::vector<double>(x.begin(), x.end());
}

std::vector<double> expected(const nlohmann::json& c) {
  return c.at("out").at("data").get<std::vector<double>>();
}

}  // namespace

TEST_CASE("augment: gaussian_kernel1d is the normalized Gaussian over the integer offsets") {
  // k = 5, σ = 1.5: exp(−x² / 4.5) at x = −2 … 2, divided by the sum; float rounding: 1e-7.
  const std::vector<float> w = gaussian_kernel1d(5, 1.5f);
  REQUIRE(w.size() == 5);
  double sum = 0;
  for (int x = -2; x <= 2; ++x) sum += std::exp(-x * x / 4.5);
  for (int x = -2; x <= 2; ++x) CHECK(std::abs(w[x + 2] - std::exp(-x * x / 4.5) / sum) < 1e-7);
  CHECK(gaussian_kernel1d(1, 0.3f) == std::vector<float>{1.0f});
  CHECK(contains(error_of([] { gaussian_kernel1d(4, 1.0f); }), "kernel size 4"));
  CHECK(contains(error_of([] { gaussian_kernel1d(3, 0.0f); }), "sigma 0"));
}

TEST_CASE("augment: gaussian_blur matches torchvision's F.gaussian_blur (reflect padding)") {
  const nlohmann::json fx = nidim::test::load_fixture("data/augment.json");
  REQUIRE(fx.at("blur").size() == 9);
  for (const nlohmann::json& c : fx.at("blur")) {
    FixtureImage img = fixture_image(fx, c.at("image"));
    const int64_t k = c.at("kernel");
    const float sigma = c.at("sigma").get<float>();
    gaussian_blur(img.pixels.data(), img.dims, k, sigma);
    // Each output is a convex combination of k² pixels in [0, 1]. torchvision sums the k² terms
    // of its float32 2-D kernel; nidim rounds a double kernel to float and sums k terms twice
    // (rows, then columns). Both sides carry float32 rounding of order k² · 2^-24 ≈ 1e-5 at
    // k = 13 in the worst case; measured differences stay below 4e-7 (so 2e-6 still fails a
    // kernel off by one offset, a symmetric instead of reflect pad, or σ swapped, all ≥ 1e-3).
    nidim::test::check_close(
        as_double(img.pixels), expected(c), 0, 2e-6,
        fmt::format("blur {} k {} sigma {}", c.at("image").get<std::string>(), k, sigma));
  }
  // 'reflect' needs a padding below each side: k = 15 pads 7, too much for 7 rows.
  FixtureImage gray = fixture_image(fx, "gray");
  CHECK(
      contains(error_of([&] { gaussian_blur(gray.pixels.data(), gray.dims, 15, 1.0f); }), "(7x9)"));
}

TEST_CASE("augment: solarize matches F.solarize exactly (pixels >= threshold inverted)") {
  const nlohmann::json fx = nidim::test::load_fixture("data/augment.json");
  REQUIRE(fx.at("solarize").size() == 8);
  for (const nlohmann::json& c : fx.at("solarize")) {
    FixtureImage img = fixture_image(fx, c.at("image"));
    solarize(img.pixels.data(), img.dims, c.at("threshold").get<float>());
    // 1 − x in float32 on both sides, and the same comparison: bit for bit.
    nidim::test::check_close(as_double(img.pixels), expected(c), 0, 0,
                             fmt::format("solarize {} at {}", c.at("image").get<std::string>(),
                                         c.at("threshold").get<double>()));
  }
  std::vector<float> px = {0.5f, 0.9f};
  CHECK(contains(error_of([&] { solarize(px.data(), {1, 1, 2}, 1.001f); }), "threshold 1.001"));
  CHECK(contains(error_of([&] { solarize(px.data(), {2, 1, 1}, 0.5f); }), "1 or 3 channels"));
}

TEST_CASE("augment: normalize matches F.normalize exactly (subtract, then divide)") {
  const nlohmann::json fx = nidim::test::load_fixture("data/augment.json");
  REQUIRE(fx.at("normalize").size() == 3);
  for (const nlohmann::json& c : fx.at("normalize")) {
    FixtureImage img = fixture_image(fx, c.at("image"));
    const std::vector<float> mean = c.at("mean").get<std::vector<float>>();
    const std::vector<float> std = c.at("std").get<std::vector<float>>();
    // Through the Normalize step (which calls normalize_channels): one float32 subtraction and
    // one division per pixel, as torch does: bit for bit.
    SampleRng rng(0, 0, 0, 0);
    Normalize(mean, std).apply(img.pixels.data(), img.dims, rng);
    nidim::test::check_close(
        as_double(img.pixels), expected(c), 0, 0,
        fmt::format("normalize {} mean {}", c.at("image").get<std::string>(), mean[0]));
  }
  std::vector<float> px(6);
  SampleRng rng(0, 0, 0, 0);
  CHECK(contains(error_of([&] {
                   Normalize({0.5f}, {0.2f}).apply(px.data(), {3, 1, 2}, rng);
                 }),
                 "1 means and stds for a 3x1x2 image"));
  CHECK(contains(error_of([] { Normalize({0.5f, 0.5f}, {0.2f, 0.0f}); }), "std[1] = 0"));
  CHECK(contains(error_of([] { Normalize({0.5f}, {}); }), "1 means and 0 stds"));
}

TEST_CASE("augment: colour ops and resized crop match torchvision at solo-learn's factors") {
  const nlohmann::json fx = nidim::test::load_fixture("data/augment.json");
  REQUIRE(fx.at("color").size() == 19);
  for (const nlohmann::json& c : fx.at("color")) {
    FixtureImage img = fixture_image(fx, c.at("image"));
    const std::string op = c.at("op");
    const float f = c.at("factor").get<float>();
    if (op == "brightness") adjust_brightness(img.pixels.data(), img.dims, f);
    if (op == "contrast") adjust_contrast(img.pixels.data(), img.dims, f);
    if (op == "saturation") adjust_saturation(img.pixels.data(), img.dims, f);
    if (op == "hue") adjust_hue(img.pixels.data(), img.dims, f);
    if (op == "grayscale") to_grayscale(img.pixels.data(), img.dims);
    // A few float32 operations per pixel on [0, 1] values; contrast's mean is summed in double
    // here and in float32 by torch, and hue goes through HSV and back: 1e-6 covers a few ulps
    // of 1 (measured below 2.5e-7; a wrong luma weight, blend or hue shift moves values by
    // ≥ 1e-3).
    nidim::test::check_close(as_double(img.pixels), expected(c), 0, 1e-6,
                             fmt::format("{} {} {}", op, c.at("image").get<std::string>(), f));
  }
  REQUIRE(fx.at("resized_crop").size() == 3);
  for (const nlohmann::json& c : fx.at("resized_crop")) {
    const FixtureImage img = fixture_image(fx, c.at("image"));
    const std::vector<int64_t> shape = c.at("out").at("shape").get<std::vector<int64_t>>();
    std::vector<float> out(static_cast<size_t>(shape[0] * shape[1] * shape[2]));
    const CropBox box{c.at("top"), c.at("left"), c.at("height"), c.at("width")};
    resized_crop_bilinear(img.pixels.data(), img.dims, box, out.data(), shape[1], shape[2]);
    // Bilinear: two float32 lerps per output on [0, 1] values: 1e-6 (measured below 2.5e-7).
    nidim::test::check_close(as_double(out), expected(c), 0, 1e-6,
                             fmt::format("resized_crop {}", c.at("image").get<std::string>()));
  }
}

TEST_CASE("augment: GaussianBlur and Solarize apply with their probability, draws as documented") {
  const ImageDims d{3, 8, 8};
  const std::vector<float> x = ramp_image(d);
  auto rate = [&](const Augmentation& a, int n) {
    int changed = 0;
    for (uint64_t i = 0; i < static_cast<uint64_t>(n); ++i) {
      std::vector<float> y = x;
      SampleRng rng(21, 0, i, 1);
      a.apply(y.data(), d, rng);
      changed += (y != x);
    }
    return changed;
  };
  // σ >= 0.5 so that a blur always changes the ramp (σ = 0.1 gives off-centre weights e^-50).
  CHECK(rate(GaussianBlur(5, 0.5f, 2.0f, 0.0f), 500) == 0);
  CHECK(rate(GaussianBlur(5, 0.5f, 2.0f, 1.0f), 500) == 500);
  CHECK(rate(Solarize(0.5f, 0.0f), 500) == 0);
  CHECK(rate(Solarize(0.5f, 1.0f), 500) == 500);
  // p = 0.3 over 2000: expect 600, sd sqrt(2000 · 0.3 · 0.7) ≈ 20.5; 5 sd.
  CHECK(std::abs(rate(GaussianBlur(3, 0.5f, 2.0f, 0.3f), 2000) - 600) < 103);
  CHECK(std::abs(rate(Solarize(0.5f, 0.3f), 2000) - 600) < 103);

  // Draw order: one uniform for p, then σ; the output is gaussian_blur with that σ.
  const GaussianBlur blur(3, 0.1f, 2.0f, 0.7f);
  int applied = 0;
  for (uint64_t i = 0; i < 50; ++i) {
    std::vector<float> y = x, want = x;
    SampleRng rng(4, 2, i, 0), ref(4, 2, i, 0);
    blur.apply(y.data(), d, rng);
    if (ref.uniform() < 0.7f) {
      gaussian_blur(want.data(), d, 3, blur.sample_sigma(ref));
      ++applied;
    }
    CHECK(y == want);
    std::vector<float> again = x;
    SampleRng same(4, 2, i, 0);
    blur.apply(again.data(), d, same);
    CHECK(again == y);  // same key, same bits
  }
  CHECK(applied > 20);
  CHECK(applied < 50);

  // σ ~ U(0.1, 2): 20000 draws inside [0.1, 2), mean 1.05 with sd 1.9 / sqrt(12 · 20000) ≈ 0.0039
  // (5 sd: 0.02), and they reach within 0.01 of both ends.
  double sum = 0, lo = 10, hi = 0;
  SampleRng r(8, 0, 0, 0);
  for (int i = 0; i < 20000; ++i) {
    const float s = blur.sample_sigma(r);
    REQUIRE(s >= 0.1f);
    REQUIRE(s < 2.0f);
    sum += s;
    lo = std::min<double>(lo, s);
    hi = std::max<double>(hi, s);
  }
  CHECK(std::abs(sum / 20000 - 1.05) < 0.02);
  CHECK(lo < 0.11);
  CHECK(hi > 1.99);

  CHECK(contains(error_of([] { GaussianBlur(4); }), "kernel size 4"));
  CHECK(contains(error_of([] { GaussianBlur(3, 2.0f, 1.0f); }), "[2, 1]"));
  CHECK(contains(error_of([] { GaussianBlur(3, 0.1f, 2.0f, 1.5f); }), "p 1.5"));
  CHECK(contains(error_of([] { Solarize(1.5f); }), "threshold 1.5"));
  CHECK(contains(error_of([] { Solarize(0.5f, -0.1f); }), "p -0.1"));
}
