// nidim/data/augment.cpp: see augment.h. Plain loops over one image; the loader runs many
// images on its worker threads.
#include "data/augment.h"

#include <algorithm>
#include <cmath>

#include <fmt/ranges.h>

#include "core/error.h"

namespace nidim {

namespace {

constexpr float luma_r = 0.2989f, luma_g = 0.587f, luma_b = 0.114f;  // torchvision's weights

inline float clamp01(float x) {
  return std::min(1.0f, std::max(0.0f, x));
}

void check_color(const ImageDims& dims, const char* op) {
  NIDIM_CHECK(dims.c == 1 || dims.c == 3, "{}: needs 1 or 3 channels, got {}x{}x{}", op, dims.c,
              dims.h, dims.w);
}

// Per-thread scratch image, reused across calls (augmentations hold no mutable state).
std::vector<float>& scratch(size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

}  // namespace

// ---- SampleRng ---------------------------------------------------------------------------------

SampleRng::SampleRng(uint64_t seed, uint64_t epoch, uint64_t index, uint32_t view)
    : m_seed(seed), m_stream(index), m_next_block((epoch << 36) | (uint64_t(view) << 32)) {
  NIDIM_CHECK(epoch < (uint64_t(1) << 28), "SampleRng: epoch {} too large (limit 2^28)", epoch);
  NIDIM_CHECK(view < 16, "SampleRng: view {} too large (limit 16)", view);
}

uint32_t SampleRng::next_u32() {
  if (m_used == 4) {
    m_words = philox_block(m_seed, m_stream, m_next_block++);
    m_used = 0;
  }
  return m_words.v[m_used++];
}

float SampleRng::uniform() {
  return philox_uniform(next_u32());
}

float SampleRng::uniform(float low, float high) {
  return low + (high - low) * uniform();
}

double SampleRng::uniform_double() {
  const uint64_t hi = next_u32() >> 6, lo = next_u32() >> 5;  // 26 + 27 bits
  return static_cast<double>((hi << 27) | lo) * (1.0 / 9007199254740992.0);
}

int64_t SampleRng::uniform_int(int64_t n) {
  NIDIM_CHECK(n > 0 && n <= (int64_t(1) << 31), "SampleRng::uniform_int: range {}", n);
  return static_cast<int64_t>((static_cast<uint64_t>(next_u32()) * static_cast<uint64_t>(n)) >> 32);
}

uint64_t SampleRng::reserve_blocks(uint64_t blocks) {
  m_used = 4;
  const uint64_t first = m_next_block;
  m_next_block += blocks;
  return first;
}

// ---- the deterministic parts -------------------------------------------------------------------

void resized_crop_bilinear(const float* src, const ImageDims& dims, const CropBox& box, float* dst,
                           int64_t out_h, int64_t out_w) {
  NIDIM_CHECK(box.height > 0 && box.width > 0 && box.top >= 0 && box.left >= 0 &&
                  box.top + box.height <= dims.h && box.left + box.width <= dims.w,
              "resized_crop: box (top {}, left {}, {}x{}) outside a {}x{} image", box.top, box.left,
              box.height, box.width, dims.h, dims.w);
  NIDIM_CHECK(out_h > 0 && out_w > 0, "resized_crop: output {}x{}", out_h, out_w);
  // Source coordinate of output pixel o: (o + 0.5) · in / out − 0.5, clamped at 0 (torch's
  // area_pixel_compute_source_index); the two neighbours are i0 and min(i0 + 1, in − 1).
  struct Tap {
    int64_t i0, i1;
    float l1;
  };
  auto taps = [](int64_t in, int64_t out, int64_t base) {
    std::vector<Tap> t(static_cast<size_t>(out));
    const float scale = static_cast<float>(in) / static_cast<float>(out);
    for (int64_t o = 0; o < out; ++o) {
      const float s = std::max(0.0f, (o + 0.5f) * scale - 0.5f);
      const int64_t i0 = std::min(static_cast<int64_t>(s), in - 1);
      t[o] = {base + i0, base + std::min(i0 + 1, in - 1), s - static_cast<float>(i0)};
    }
    return t;
  };
  const std::vector<Tap> ty = taps(box.height, out_h, box.top);
  const std::vector<Tap> tx = taps(box.width, out_w, box.left);
  for (int64_t c = 0; c < dims.c; ++c) {
    const float* plane = src + c * dims.h * dims.w;
    float* out = dst + c * out_h * out_w;
    for (int64_t oy = 0; oy < out_h; ++oy) {
      const float* row0 = plane + ty[oy].i0 * dims.w;
      const float* row1 = plane + ty[oy].i1 * dims.w;
      const float ly1 = ty[oy].l1, ly0 = 1.0f - ly1;
      for (int64_t ox = 0; ox < out_w; ++ox) {
        const Tap& t = tx[ox];
        const float lx1 = t.l1, lx0 = 1.0f - lx1;
        out[oy * out_w + ox] = ly0 * (lx0 * row0[t.i0] + lx1 * row0[t.i1]) +
                               ly1 * (lx0 * row1[t.i0] + lx1 * row1[t.i1]);
      }
    }
  }
}

void flip_horizontal(float* img, const ImageDims& dims) {
  for (int64_t r = 0; r < dims.c * dims.h; ++r)
    std::reverse(img + r * dims.w, img + (r + 1) * dims.w);
}

void adjust_brightness(float* img, const ImageDims& dims, float factor) {
  for (int64_t k = 0; k < dims.numel(); ++k) img[k] = clamp01(img[k] * factor);
}

void adjust_contrast(float* img, const ImageDims& dims, float factor) {
  check_color(dims, "adjust_contrast");
  // Blend with the mean grey level of the whole image.
  const int64_t plane = dims.h * dims.w;
  double sum = 0;
  if (dims.c == 3) {
    for (int64_t k = 0; k < plane; ++k)
      sum += luma_r * img[k] + luma_g * img[plane + k] + luma_b * img[2 * plane + k];
  } else {
    for (int64_t k = 0; k < plane; ++k) sum += img[k];
  }
  const float mean = static_cast<float>(sum / static_cast<double>(plane));
  for (int64_t k = 0; k < dims.numel(); ++k)
    img[k] = clamp01(factor * img[k] + (1.0f - factor) * mean);
}

void adjust_saturation(float* img, const ImageDims& dims, float factor) {
  check_color(dims, "adjust_saturation");
  if (dims.c == 1) return;
  const int64_t plane = dims.h * dims.w;
  for (int64_t k = 0; k < plane; ++k) {
    const float grey = luma_r * img[k] + luma_g * img[plane + k] + luma_b * img[2 * plane + k];
    for (int64_t c = 0; c < 3; ++c) {
      float& x = img[c * plane + k];
      x = clamp01(factor * x + (1.0f - factor) * grey);
    }
  }
}

void rgb_to_hsv(float r, float g, float b, float* h, float* s, float* v) {
  // torchvision's _rgb2hsv, branch for branch.
  const float maxc = std::max({r, g, b}), minc = std::min({r, g, b});
  const bool flat = maxc == minc;
  const float cr = maxc - minc;
  *s = cr / (flat ? 1.0f : maxc);
  const float div = flat ? 1.0f : cr;
  const float rc = (maxc - r) / div, gc = (maxc - g) / div, bc = (maxc - b) / div;
  float hue;
  if (maxc == r)
    hue = bc - gc;
  else if (maxc == g)
    hue = 2.0f + rc - bc;
  else
    hue = 4.0f + gc - rc;
  *h = std::fmod(hue / 6.0f + 1.0f, 1.0f);
  *v = maxc;
}

void hsv_to_rgb(float h, float s, float v, float* r, float* g, float* b) {
  const float h6 = h * 6.0f;
  const float fi = std::floor(h6);
  const float f = h6 - fi;
  const int i = ((static_cast<int>(fi) % 6) + 6) % 6;
  const float p = clamp01(v * (1.0f - s));
  const float q = clamp01(v * (1.0f - s * f));
  const float t = clamp01(v * (1.0f - s * (1.0f - f)));
  switch (i) {
    case 0:
      *r = v, *g = t, *b = p;
      break;
    case 1:
      *r = q, *g = v, *b = p;
      break;
    case 2:
      *r = p, *g = v, *b = t;
      break;
    case 3:
      *r = p, *g = q, *b = v;
      break;
    case 4:
      *r = t, *g = p, *b = v;
      break;
    default:
      *r = v, *g = p, *b = q;
      break;
  }
}

void adjust_hue(float* img, const ImageDims& dims, float shift) {
  check_color(dims, "adjust_hue");
  NIDIM_CHECK(shift >= -0.5f && shift <= 0.5f, "adjust_hue: shift {} outside [-0.5, 0.5]", shift);
  if (dims.c == 1) return;
  const int64_t plane = dims.h * dims.w;
  float* R = img;
  float* G = img + plane;
  float* B = img + 2 * plane;
  for (int64_t k = 0; k < plane; ++k) {
    float h, s, v;
    rgb_to_hsv(R[k], G[k], B[k], &h, &s, &v);
    h += shift;
    h -= std::floor(h);  // Python's % 1.0: into [0, 1)
    hsv_to_rgb(h, s, v, &R[k], &G[k], &B[k]);
  }
}

void to_grayscale(float* img, const ImageDims& dims) {
  check_color(dims, "to_grayscale");
  if (dims.c == 1) return;
  const int64_t plane = dims.h * dims.w;
  for (int64_t k = 0; k < plane; ++k) {
    const float grey = luma_r * img[k] + luma_g * img[plane + k] + luma_b * img[2 * plane + k];
    img[k] = img[plane + k] = img[2 * plane + k] = grey;
  }
}

std::vector<float> gaussian_kernel1d(int64_t kernel, float sigma) {
  NIDIM_CHECK(kernel > 0 && kernel % 2 == 1,
              "gaussian_blur: kernel size {} must be odd and positive", kernel);
  NIDIM_CHECK(sigma > 0 && std::isfinite(sigma), "gaussian_blur: sigma {} must be positive", sigma);
  // Offsets −(k−1)/2 … (k−1)/2 (torchvision's linspace over the kernel's integer offsets); the
  // weights are summed in double and rounded once.
  const int64_t half = kernel / 2;
  std::vector<double> pdf(static_cast<size_t>(kernel));
  double sum = 0;
  for (int64_t i = 0; i < kernel; ++i) {
    const double x = static_cast<double>(i - half) / sigma;
    pdf[i] = std::exp(-0.5 * x * x);
    sum += pdf[i];
  }
  std::vector<float> w(pdf.size());
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(pdf[i] / sum);
  return w;
}

void gaussian_blur(float* img, const ImageDims& dims, int64_t kernel, float sigma) {
  const std::vector<float> w = gaussian_kernel1d(kernel, sigma);
  const int64_t half = kernel / 2;
  NIDIM_CHECK(half < dims.h && half < dims.w,
              "gaussian_blur: kernel size {} pads by {}, which 'reflect' padding allows only below "
              "the image's height and width ({}x{})",
              kernel, half, dims.h, dims.w);
  // Source index of padded position t (t − half in image coordinates), mirrored about the edge
  // pixels: −1 → 1, n → n − 2 (torch's 'reflect'). One table per axis, so every read is inside.
  auto reflect_table = [half](int64_t n) {
    std::vector<int64_t> t(static_cast<size_t>(n + 2 * half));
    for (int64_t p = 0; p < n + 2 * half; ++p) {
      const int64_t i = p - half;
      t[p] = i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i);
    }
    return t;
  };
  const std::vector<int64_t> ry = reflect_table(dims.h), rx = reflect_table(dims.w);
  const int64_t plane = dims.h * dims.w;
  std::vector<float>& rows = scratch(static_cast<size_t>(plane));
  for (int64_t c = 0; c < dims.c; ++c) {
    float* p = img + c * plane;
    // Row pass: rows[y, x] = Σ_j w[j] · p[y, reflect(x + j − half)].
    for (int64_t y = 0; y < dims.h; ++y)
      for (int64_t x = 0; x < dims.w; ++x) {
        float acc = 0;
        for (int64_t j = 0; j < kernel; ++j) acc += w[j] * p[y * dims.w + rx[x + j]];
        rows[y * dims.w + x] = acc;
      }
    // Column pass: p[y, x] = Σ_i w[i] · rows[reflect(y + i − half), x].
    for (int64_t y = 0; y < dims.h; ++y)
      for (int64_t x = 0; x < dims.w; ++x) {
        float acc = 0;
        for (int64_t i = 0; i < kernel; ++i) acc += w[i] * rows[ry[y + i] * dims.w + x];
        p[y * dims.w + x] = acc;
      }
  }
}

void solarize(float* img, const ImageDims& dims, float threshold) {
  check_color(dims, "solarize");
  // torchvision: threshold above the float bound 1 is an error; pixels equal to it are inverted.
  NIDIM_CHECK(threshold <= 1.0f, "solarize: threshold {} above the bound 1 of float images",
              threshold);
  for (int64_t k = 0; k < dims.numel(); ++k)
    if (img[k] >= threshold) img[k] = 1.0f - img[k];
}

void normalize_channels(float* img, const ImageDims& dims, const float* mean, const float* std) {
  const int64_t plane = dims.h * dims.w;
  for (int64_t c = 0; c < dims.c; ++c) {
    float* p = img + c * plane;
    // Subtract then divide, as torchvision's normalize does (not a multiply by 1 / std).
    for (int64_t k = 0; k < plane; ++k) p[k] = (p[k] - mean[c]) / std[c];
  }
}

// ---- GaussianNoise -----------------------------------------------------------------------------

GaussianNoise::GaussianNoise(float sigma) : m_sigma(sigma) {
  NIDIM_CHECK(sigma >= 0 && std::isfinite(sigma), "GaussianNoise: sigma {} must be >= 0", sigma);
}

void GaussianNoise::apply(float* img, const ImageDims& dims, SampleRng& rng) const {
  const int64_t n = dims.numel();
  const int64_t blocks = (n + 3) / 4;
  const uint64_t first = rng.reserve_blocks(static_cast<uint64_t>(blocks));
  constexpr float two_pi = static_cast<float>(2.0 * M_PI);
  // Element e takes words (2p, 2p + 1) of block e / 4, p = (e % 4) / 2: the layout of
  // normal_cpu with offset 4 · first.
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const Philox4 r = philox_block(rng.seed(), rng.stream(), first + static_cast<uint64_t>(blk));
    for (int pair = 0; pair < 2; ++pair) {
      const float radius = std::sqrt(-2.0f * std::log(philox_uniform_pos(r.v[2 * pair])));
      const float angle = two_pi * philox_uniform(r.v[2 * pair + 1]);
      const int64_t e = blk * 4 + 2 * pair;
      if (e < n) img[e] += m_sigma * radius * std::cos(angle);
      if (e + 1 < n) img[e + 1] += m_sigma * radius * std::sin(angle);
    }
  }
}

std::string GaussianNoise::name() const {
  return fmt::format("GaussianNoise(sigma={})", m_sigma);
}

// ---- RandomResizedCrop -------------------------------------------------------------------------

RandomResizedCrop::RandomResizedCrop(float scale_min, float scale_max, float ratio_min,
                                     float ratio_max)
    : m_scale_min(scale_min),
      m_scale_max(scale_max),
      m_ratio_min(ratio_min),
      m_ratio_max(ratio_max) {
  NIDIM_CHECK(0 < scale_min && scale_min <= scale_max && scale_max <= 1,
              "RandomResizedCrop: scale range [{}, {}] not inside (0, 1]", scale_min, scale_max);
  NIDIM_CHECK(0 < ratio_min && ratio_min <= ratio_max, "RandomResizedCrop: ratio range [{}, {}]",
              ratio_min, ratio_max);
}

CropBox RandomResizedCrop::sample_box(SampleRng& rng, int64_t height, int64_t width) const {
  const double area = static_cast<double>(height) * static_cast<double>(width);
  const double log_lo = std::log(static_cast<double>(m_ratio_min));
  const double log_hi = std::log(static_cast<double>(m_ratio_max));
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (m_scale_min + (m_scale_max - m_scale_min) * rng.uniform_double());
    const double aspect = std::exp(log_lo + (log_hi - log_lo) * rng.uniform_double());
    const int64_t w = std::llround(std::sqrt(target * aspect));
    const int64_t h = std::llround(std::sqrt(target / aspect));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int64_t top = rng.uniform_int(height - h + 1);
      const int64_t left = rng.uniform_int(width - w + 1);
      return {top, left, h, w};
    }
  }
  // Ten misses: the largest centred box whose aspect is inside the range.
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  int64_t w = width, h = height;
  if (in_ratio < m_ratio_min) {
    h = std::llround(static_cast<double>(w) / m_ratio_min);
  } else if (in_ratio > m_ratio_max) {
    w = std::llround(static_cast<double>(h) * m_ratio_max);
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

void RandomResizedCrop::apply(float* img, const ImageDims& dims, SampleRng& rng) const {
  const CropBox box = sample_box(rng, dims.h, dims.w);
  std::vector<float>& src = scratch(static_cast<size_t>(dims.numel()));
  std::copy(img, img + dims.numel(), src.begin());
  resized_crop_bilinear(src.data(), dims, box, img, dims.h, dims.w);
}

std::string RandomResizedCrop::name() const {
  return fmt::format("RandomResizedCrop(scale=[{}, {}], ratio=[{}, {}])", m_scale_min, m_scale_max,
                     m_ratio_min, m_ratio_max);
}

// ---- flip, jitter, grayscale -------------------------------------------------------------------

RandomHorizontalFlip::RandomHorizontalFlip(float p) : m_p(p) {
  NIDIM_CHECK(p >= 0 && p <= 1, "RandomHorizontalFlip: p {} outside [0, 1]", p);
}

void RandomHorizontalFlip::apply(float* img, const ImageDims& dims, SampleRng& rng) const {
  if (rng.uniform() < m_p) flip_horizontal(img, dims);
}

std::string RandomHorizontalFlip::name() const {
  return fmt::format("RandomHorizontalFlip(p={})", m_p);
}

ColorJitter::ColorJitter(float brightness, float contrast, float saturation, float hue, float p)
    : m_brightness(brightness), m_contrast(contrast), m_saturation(saturation), m_hue(hue), m_p(p) {
  NIDIM_CHECK(brightness >= 0 && contrast >= 0 && saturation >= 0,
              "ColorJitter: negative strength (brightness {}, contrast {}, saturation {})",
              brightness, contrast, saturation);
  NIDIM_CHECK(hue >= 0 && hue <= 0.5f, "ColorJitter: hue {} outside [0, 0.5]", hue);
  NIDIM_CHECK(p >= 0 && p <= 1, "ColorJitter: p {} outside [0, 1]", p);
}

void ColorJitter::apply(float* img, const ImageDims& dims, SampleRng& rng) const {
  if (!(rng.uniform() < m_p)) return;
  // torchvision's get_params: a random order of the four, then the four factors (always drawn,
  // so the number of draws does not depend on the strengths).
  int order[4] = {0, 1, 2, 3};
  for (int i = 3; i > 0; --i) std::swap(order[i], order[rng.uniform_int(i + 1)]);
  const float b = rng.uniform(std::max(0.0f, 1 - m_brightness), 1 + m_brightness);
  const float c = rng.uniform(std::max(0.0f, 1 - m_contrast), 1 + m_contrast);
  const float s = rng.uniform(std::max(0.0f, 1 - m_saturation), 1 + m_saturation);
  const float h = rng.uniform(-m_hue, m_hue);
  for (int op : order) {
    if (op == 0 && m_brightness > 0) adjust_brightness(img, dims, b);
    if (op == 1 && m_contrast > 0) adjust_contrast(img, dims, c);
    if (op == 2 && m_saturation > 0) adjust_saturation(img, dims, s);
    if (op == 3 && m_hue > 0) adjust_hue(img, dims, h);
  }
}

std::string ColorJitter::name() const {
  return fmt::format("ColorJitter(brightness={}, contrast={}, saturation={}, hue={}, p={})",
                     m_brightness, m_contrast, m_saturation, m_hue, m_p);
}

RandomGrayscale::RandomGrayscale(float p) : m_p(p) {
  NIDIM_CHECK(p >= 0 && p <= 1, "RandomGrayscale: p {} outside [0, 1]", p);
}

void RandomGrayscale::apply(float* img, const ImageDims& dims, SampleRng& rng) const {
  if (rng.uniform() < m_p) to_grayscale(img, dims);
}

std::string RandomGrayscale::name() const {
  return fmt::format("RandomGrayscale(p={})", m_p);
}

// ---- blur, solarize, normalize -----------------------------------------------------------------

GaussianBlur::GaussianBlur(int64_t kernel, float sigma_min, float sigma_max, float p)
    : m_kernel(kernel), m_sigma_min(sigma_min), m_sigma_max(sigma_max), m_p(p) {
  NIDIM_CHECK(kernel > 0 && kernel % 2 == 1,
              "GaussianBlur: kernel size {} must be odd and positive", kernel);
  NIDIM_CHECK(0 < sigma_min && sigma_min <= sigma_max && std::isfinite(sigma_max),
              "GaussianBlur: sigma range [{}, {}] must have 0 < min <= max", sigma_min, sigma_max);
  NIDIM_CHECK(p >= 0 && p <= 1, "GaussianBlur: p {} outside [0, 1]", p);
}

float GaussianBlur::sample_sigma(SampleRng& rng) const {
  return rng.uniform(m_sigma_min, m_sigma_max);
}

void GaussianBlur::apply(float* img, const ImageDims& dims, SampleRng& rng) const {
  if (!(rng.uniform() < m_p)) return;
  gaussian_blur(img, dims, m_kernel, sample_sigma(rng));
}

std::string GaussianBlur::name() const {
  return fmt::format("GaussianBlur(kernel={}, sigma=[{}, {}], p={})", m_kernel, m_sigma_min,
                     m_sigma_max, m_p);
}

Solarize::Solarize(float threshold, float p) : m_threshold(threshold), m_p(p) {
  NIDIM_CHECK(threshold >= 0 && threshold <= 1, "Solarize: threshold {} outside [0, 1]", threshold);
  NIDIM_CHECK(p >= 0 && p <= 1, "Solarize: p {} outside [0, 1]", p);
}

void Solarize::apply(float* img, const ImageDims& dims, SampleRng& rng) const {
  if (rng.uniform() < m_p) solarize(img, dims, m_threshold);
}

std::string Solarize::name() const {
  return fmt::format("Solarize(threshold={}, p={})", m_threshold, m_p);
}

Normalize::Normalize(std::vector<float> mean, std::vector<float> std)
    : m_mean(std::move(mean)), m_std(std::move(std)) {
  NIDIM_CHECK(!m_mean.empty() && m_mean.size() == m_std.size(),
              "Normalize: {} means and {} stds (one of each per channel)", m_mean.size(),
              m_std.size());
  for (size_t c = 0; c < m_std.size(); ++c) {
    NIDIM_CHECK(std::isfinite(m_mean[c]), "Normalize: mean[{}] = {} is not finite", c, m_mean[c]);
    NIDIM_CHECK(m_std[c] > 0 && std::isfinite(m_std[c]), "Normalize: std[{}] = {} is not positive",
                c, m_std[c]);
  }
}

void Normalize::apply(float* img, const ImageDims& dims, SampleRng&) const {
  NIDIM_CHECK(static_cast<int64_t>(m_mean.size()) == dims.c,
              "Normalize: {} means and stds for a {}x{}x{} image", m_mean.size(), dims.c, dims.h,
              dims.w);
  normalize_channels(img, dims, m_mean.data(), m_std.data());
}

std::string Normalize::name() const {
  return fmt::format("Normalize(mean=[{}], std=[{}])", fmt::join(m_mean, ", "),
                     fmt::join(m_std, ", "));
}

// ---- compose -----------------------------------------------------------------------------------

Compose::Compose(std::vector<std::shared_ptr<const Augmentation>> steps)
    : m_steps(std::move(steps)) {
  for (const auto& s : m_steps) NIDIM_CHECK(s != nullptr, "Compose: a null step");
}

void Compose::apply(float* img, const ImageDims& dims, SampleRng& rng) const {
  for (const auto& s : m_steps) s->apply(img, dims, rng);
}

bool Compose::normalizes() const {
  for (const auto& s : m_steps)
    if (s->normalizes()) return true;
  return false;
}

std::string Compose::name() const {
  std::string out = "Compose(";
  for (size_t i = 0; i < m_steps.size(); ++i) out += (i ? ", " : "") + m_steps[i]->name();
  return out + ")";
}

std::shared_ptr<const Augmentation> simclr_augment() {
  return std::make_shared<Compose>(std::vector<std::shared_ptr<const Augmentation>>{
      std::make_shared<RandomResizedCrop>(), std::make_shared<RandomHorizontalFlip>(),
      std::make_shared<ColorJitter>(), std::make_shared<RandomGrayscale>()});
}

std::shared_ptr<const Augmentation> noise_augment(float sigma) {
  return std::make_shared<GaussianNoise>(sigma);
}

// ---- TwoViews ----------------------------------------------------------------------------------

TwoViews::TwoViews(std::shared_ptr<const Augmentation> both) : m_first(both), m_second(both) {}

TwoViews::TwoViews(std::shared_ptr<const Augmentation> first,
                   std::shared_ptr<const Augmentation> second)
    : m_first(std::move(first)), m_second(std::move(second)) {}

bool TwoViews::normalizes() const {
  return (m_first && m_first->normalizes()) || (m_second && m_second->normalizes());
}

void TwoViews::apply(const float* src, const ImageDims& dims, uint64_t seed, uint64_t epoch,
                     uint64_t index, float* view0, float* view1) const {
  const int64_t n = dims.numel();
  std::copy(src, src + n, view0);
  std::copy(src, src + n, view1);
  if (m_first) {
    SampleRng rng(seed, epoch, index, 0);
    m_first->apply(view0, dims, rng);
  }
  if (m_second) {
    SampleRng rng(seed, epoch, index, 1);
    m_second->apply(view1, dims, rng);
  }
}

}  // namespace nidim
