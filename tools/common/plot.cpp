// nidim/tools/common/plot.cpp: see plot.h.
#include "tools/common/plot.h"

#include <png.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/error.h"
#include "core/io.h"

namespace nidim::tools {

namespace {

// 5x7 glyphs for ASCII 32..126: seven rows, bit 4 the leftmost column. Drawn for this file in the
// style of the classic HD44780 character-LCD font. The descender letters g, p, q, y are drawn two
// rows lower (their first five rows are the x-height body), so a line of text is 9 rows tall.
const uint8_t kFont[95][7] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // ' '
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04},  // !
    {0x0A, 0x0A, 0x0A, 0x00, 0x00, 0x00, 0x00},  // "
    {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A},  // #
    {0x04, 0x0F, 0x14, 0x0E, 0x05, 0x1E, 0x04},  // $
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03},  // %
    {0x0C, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0D},  // &
    {0x0C, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00},  // '
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02},  // (
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08},  // )
    {0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00},  // *
    {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00},  // +
    {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08},  // ,
    {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00},  // -
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C},  // .
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00},  // /
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E},  // 0
    {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},  // 1
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F},  // 2
    {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},  // 3
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02},  // 4
    {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},  // 5
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E},  // 6
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},  // 7
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E},  // 8
    {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},  // 9
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00},  // :
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x04, 0x08},  // ;
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02},  // <
    {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00},  // =
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08},  // >
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04},  // ?
    {0x0E, 0x11, 0x01, 0x0D, 0x15, 0x15, 0x0E},  // @
    {0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11},  // A
    {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E},  // B
    {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E},  // C
    {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C},  // D
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F},  // E
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10},  // F
    {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F},  // G
    {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},  // H
    {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E},  // I
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C},  // J
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11},  // K
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F},  // L
    {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11},  // M
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11},  // N
    {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},  // O
    {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10},  // P
    {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D},  // Q
    {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11},  // R
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E},  // S
    {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},  // T
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},  // U
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04},  // V
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A},  // W
    {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11},  // X
    {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04},  // Y
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F},  // Z
    {0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E},  // [
    {0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00},  // backslash
    {0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E},  // ]
    {0x04, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x00},  // ^
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F},  // _
    {0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00},  // `
    {0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F},  // a
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E},  // b
    {0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E},  // c
    {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F},  // d
    {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E},  // e
    {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08},  // f
    {0x0F, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x0E},  // g (descender)
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11},  // h
    {0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E},  // i
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0C},  // j
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12},  // k
    {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E},  // l
    {0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11},  // m
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11},  // n
    {0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E},  // o
    {0x1E, 0x11, 0x11, 0x11, 0x1E, 0x10, 0x10},  // p (descender)
    {0x0F, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x01},  // q (descender)
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10},  // r
    {0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E},  // s
    {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06},  // t
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D},  // u
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04},  // v
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A},  // w
    {0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11},  // x
    {0x11, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x0E},  // y (descender)
    {0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F},  // z
    {0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02},  // {
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},  // |
    {0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08},  // }
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00},  // ~
};

constexpr int kAdvance = 6;  // glyph width 5 plus one column of spacing

double frac(double x) {
  return x - std::floor(x);
}

}  // namespace

Rgb palette(int64_t i) {
  static const Rgb tab10[10] = {{31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                                {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127},
                                {188, 189, 34},  {23, 190, 207}};
  return tab10[((i % 10) + 10) % 10];
}

Canvas::Canvas(int width, int height, Rgb bg)
    : m_w(width),
      m_h(height),
      m_px(static_cast<size_t>(width) * height * 3),
      m_cx1(width - 1),
      m_cy1(height - 1) {
  NIDIM_CHECK(width > 0 && height > 0, "canvas: bad size {} x {}", width, height);
  for (size_t i = 0; i < m_px.size(); i += 3) {
    m_px[i] = bg.r;
    m_px[i + 1] = bg.g;
    m_px[i + 2] = bg.b;
  }
}

Rgb Canvas::get(int x, int y) const {
  const size_t o = (static_cast<size_t>(y) * m_w + x) * 3;
  return {m_px[o], m_px[o + 1], m_px[o + 2]};
}

void Canvas::set_clip(int x0, int y0, int x1, int y1) {
  m_cx0 = std::max(0, x0);
  m_cy0 = std::max(0, y0);
  m_cx1 = std::min(m_w - 1, x1);
  m_cy1 = std::min(m_h - 1, y1);
}

void Canvas::clear_clip() {
  set_clip(0, 0, m_w - 1, m_h - 1);
}

void Canvas::blend(int x, int y, Rgb c, double a) {
  if (x < m_cx0 || x > m_cx1 || y < m_cy0 || y > m_cy1 || !(a > 0)) return;
  a = std::min(1.0, a);
  uint8_t* p = &m_px[(static_cast<size_t>(y) * m_w + x) * 3];
  p[0] = static_cast<uint8_t>(std::lround(p[0] * (1 - a) + c.r * a));
  p[1] = static_cast<uint8_t>(std::lround(p[1] * (1 - a) + c.g * a));
  p[2] = static_cast<uint8_t>(std::lround(p[2] * (1 - a) + c.b * a));
}

void Canvas::line(double x0, double y0, double x1, double y1, Rgb c, double width, double a) {
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) return;
  if (width > 1.0) {
    // Parallel single-pixel lines across the width, offset along the normal.
    const double dx = x1 - x0, dy = y1 - y0, len = std::hypot(dx, dy);
    if (len == 0) return;
    const double nx = -dy / len, ny = dx / len;
    const int k = static_cast<int>(std::ceil(width));
    for (int i = 0; i < k; ++i) {
      const double o = (i - (k - 1) / 2.0) * (width / k);
      line(x0 + nx * o, y0 + ny * o, x1 + nx * o, y1 + ny * o, c, 1.0, a);
    }
    return;
  }
  // Wu's algorithm: step along the major axis; the two pixels straddling the ideal line share
  // the coverage by the fractional distance.
  const bool steep = std::fabs(y1 - y0) > std::fabs(x1 - x0);
  if (steep) {
    std::swap(x0, y0);
    std::swap(x1, y1);
  }
  if (x0 > x1) {
    std::swap(x0, x1);
    std::swap(y0, y1);
  }
  const double dx = x1 - x0, dy = y1 - y0;
  const double grad = dx == 0 ? 1.0 : dy / dx;
  auto plot = [&](double px, double py, double cov) {
    if (steep) {
      blend(static_cast<int>(py), static_cast<int>(px), c, cov * a);
    } else {
      blend(static_cast<int>(px), static_cast<int>(py), c, cov * a);
    }
  };
  const double xs = std::round(x0), xe = std::round(x1);
  double y = y0 + grad * (xs - x0);
  for (double x = xs; x <= xe; x += 1.0) {
    plot(x, std::floor(y), 1 - frac(y));
    plot(x, std::floor(y) + 1, frac(y));
    y += grad;
  }
}

void Canvas::dashed_line(double x0, double y0, double x1, double y1, Rgb c, double on, double off) {
  const double len = std::hypot(x1 - x0, y1 - y0);
  if (len == 0) return;
  const double ux = (x1 - x0) / len, uy = (y1 - y0) / len;
  for (double t = 0; t < len; t += on + off) {
    const double te = std::min(len, t + on);
    line(x0 + ux * t, y0 + uy * t, x0 + ux * te, y0 + uy * te, c, 1.5);
  }
}

void Canvas::fill_rect(int x0, int y0, int x1, int y1, Rgb c, double a) {
  if (x0 > x1) std::swap(x0, x1);
  if (y0 > y1) std::swap(y0, y1);
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) blend(x, y, c, a);
}

void Canvas::rect(int x0, int y0, int x1, int y1, Rgb c) {
  for (int x = x0; x <= x1; ++x) {
    blend(x, y0, c);
    blend(x, y1, c);
  }
  for (int y = y0; y <= y1; ++y) {
    blend(x0, y, c);
    blend(x1, y, c);
  }
}

void Canvas::disc(double cx, double cy, double r, Rgb c, double a) {
  if (!std::isfinite(cx) || !std::isfinite(cy)) return;
  const int x0 = static_cast<int>(std::floor(cx - r - 1)),
            x1 = static_cast<int>(std::ceil(cx + r + 1));
  const int y0 = static_cast<int>(std::floor(cy - r - 1)),
            y1 = static_cast<int>(std::ceil(cy + r + 1));
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) {
      const double dist = std::hypot(x + 0.5 - cx, y + 0.5 - cy);
      const double cov = std::min(1.0, std::max(0.0, r + 0.5 - dist));  // 1-pixel soft edge
      if (cov > 0) blend(x, y, c, cov * a);
    }
}

void Canvas::text(int x, int y, const std::string& s, Rgb c, int scale, int align) {
  const int w = text_width(s, scale);
  if (align == 0) x -= w / 2;
  if (align > 0) x -= w;
  for (size_t i = 0; i < s.size(); ++i) {
    int ch = static_cast<unsigned char>(s[i]);
    if (ch < 32 || ch > 126) ch = '?';
    const uint8_t* g = kFont[ch - 32];
    const int gx = x + static_cast<int>(i) * kAdvance * scale;
    const int gy = y + ((ch == 'g' || ch == 'p' || ch == 'q' || ch == 'y') ? 2 * scale : 0);
    for (int row = 0; row < 7; ++row)
      for (int col = 0; col < 5; ++col)
        if (g[row] & (0x10 >> col))
          for (int dy = 0; dy < scale; ++dy)
            for (int dx = 0; dx < scale; ++dx)
              blend(gx + col * scale + dx, gy + row * scale + dy, c);
  }
}

int Canvas::text_width(const std::string& s, int scale) {
  if (s.empty()) return 0;
  return (static_cast<int>(s.size()) * kAdvance - 1) * scale;
}

std::string Canvas::encode_png() const {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  NIDIM_CHECK(png != nullptr, "png: png_create_write_struct failed");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    NIDIM_FAIL("png: png_create_info_struct failed");
  }
  std::string out;
  // libpng reports errors by longjmp; nothing with a destructor is live between setjmp and the
  // calls below except `out` and `rows`, which outlive this frame's jump target.
  std::vector<png_bytep> rows(static_cast<size_t>(m_h));
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    NIDIM_FAIL("png: libpng failed while encoding a {} x {} image", m_w, m_h);
  }
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep data, png_size_t len) {
        static_cast<std::string*>(png_get_io_ptr(p))
            ->append(reinterpret_cast<const char*>(data), len);
      },
      [](png_structp) {});
  png_set_IHDR(png, info, m_w, m_h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < m_h; ++y)
    rows[y] = const_cast<png_bytep>(&m_px[static_cast<size_t>(y) * m_w * 3]);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

void Canvas::save_png(const std::string& path) const {
  nidim::write_file_atomic(path, encode_png());
}

// ---- ticks -----------------------------------------------------------------------------------

std::vector<double> nice_ticks(double lo, double hi, int target) {
  std::vector<double> t;
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return t;
  const double raw = (hi - lo) / std::max(1, target);
  const int e = static_cast<int>(std::floor(std::log10(raw)));
  const double p10 = std::pow(10.0, e);
  double mult = 10.0;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * p10 >= raw) {
      mult = m;
      break;
    }
  const double step = mult * p10;
  // Tick k is k * mult * 10^e, formed as k * mult / 10^-e for e < 0 so that 0.1 * 3 prints as
  // 0.3 (a division by an exact power of ten rounds correctly; a product with 0.1 may not).
  auto tick = [&](int64_t k) { return e < 0 ? k * mult / std::pow(10.0, -e) : k * mult * p10; };
  const int64_t k0 = static_cast<int64_t>(std::ceil(lo / step - 1e-9));
  for (int64_t k = k0; tick(k) <= hi + 1e-9 * step && k < k0 + 1000; ++k) t.push_back(tick(k));
  return t;
}

std::string tick_label(double v, double step) {
  const double a = std::fabs(v);
  if (a != 0 && (a >= 1e5 || a < 1e-3)) return fmt::format("{:.2g}", v);
  const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  // 2.5-steps need one more decimal than their power of ten.
  const double scaled = step * std::pow(10.0, decimals);
  const int extra = std::fabs(scaled - std::round(scaled)) > 1e-6 ? 1 : 0;
  return fmt::format("{:.{}f}", v, decimals + extra);
}

// ---- axes ------------------------------------------------------------------------------------

Axes::Axes(Canvas& canvas, int left, int top, int width, int height)
    : m_c(canvas), m_left(left), m_top(top), m_w(width), m_h(height) {}

void Axes::set_limits(double x0, double x1, double y0, double y1) {
  if (!(x1 > x0)) x1 = x0 + 1;
  if (!(y1 > y0)) y1 = y0 + 1;
  m_x0 = x0;
  m_x1 = x1;
  m_y0 = y0;
  m_y1 = y1;
}

double Axes::px(double x) const {
  return m_left + (x - m_x0) / (m_x1 - m_x0) * m_w;
}
double Axes::py(double y) const {
  return m_top + m_h - (y - m_y0) / (m_y1 - m_y0) * m_h;
}

void Axes::clip() const {
  m_c.set_clip(m_left, m_top, m_left + m_w, m_top + m_h);
}

void Axes::decorate(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                    bool grid) {
  m_c.clear_clip();
  const std::vector<double> xt = nice_ticks(m_x0, m_x1, 5), yt = nice_ticks(m_y0, m_y1, 5);
  const double xs = xt.size() > 1 ? xt[1] - xt[0] : 1, ys = yt.size() > 1 ? yt[1] - yt[0] : 1;
  for (double v : xt) {
    const int x = static_cast<int>(std::lround(px(v)));
    if (grid) m_c.line(x, m_top, x, m_top + m_h, kLightGrey);
    m_c.line(x, m_top + m_h, x, m_top + m_h + 5, kBlack);
    m_c.text(x, m_top + m_h + 9, tick_label(v, xs), kBlack, 2, 0);
  }
  for (double v : yt) {
    const int y = static_cast<int>(std::lround(py(v)));
    if (grid) m_c.line(m_left, y, m_left + m_w, y, kLightGrey);
    m_c.line(m_left - 5, y, m_left, y, kBlack);
    m_c.text(m_left - 9, y - 7, tick_label(v, ys), kBlack, 2, 1);
  }
  m_c.rect(m_left, m_top, m_left + m_w, m_top + m_h, kBlack);
  if (!title.empty()) m_c.text(m_left + m_w / 2, m_top - 40, title, kBlack, 2, 0);
  if (!xlabel.empty()) m_c.text(m_left + m_w / 2, m_top + m_h + 32, xlabel, kBlack, 2, 0);
  if (!ylabel.empty()) m_c.text(m_left, m_top - 20, ylabel, kBlack, 2, -1);
}

void Axes::curve(const std::vector<double>& xs, const std::vector<double>& ys, Rgb c,
                 double width) {
  clip();
  for (size_t i = 1; i < xs.size() && i < ys.size(); ++i)
    m_c.line(px(xs[i - 1]), py(ys[i - 1]), px(xs[i]), py(ys[i]), c, width);
  m_c.clear_clip();
}

void Axes::scatter(const std::vector<double>& xs, const std::vector<double>& ys,
                   const std::vector<Rgb>& colours, double radius, double a) {
  clip();
  for (size_t i = 0; i < xs.size() && i < ys.size(); ++i)
    m_c.disc(px(xs[i]), py(ys[i]), radius,
             colours.empty() ? palette(0) : colours[i % colours.size()], a);
  m_c.clear_clip();
}

void Axes::histogram(const std::vector<double>& edges, const std::vector<double>& heights, Rgb c,
                     double a) {
  clip();
  for (size_t i = 0; i + 1 < edges.size() && i < heights.size(); ++i) {
    const int x0 = static_cast<int>(std::lround(px(edges[i]))),
              x1 = static_cast<int>(std::lround(px(edges[i + 1])));
    const int y0 = static_cast<int>(std::lround(py(heights[i]))),
              y1 = static_cast<int>(std::lround(py(0)));
    m_c.fill_rect(x0, y0, x1 - 1, y1, c, a);
  }
  m_c.clear_clip();
}

void Axes::hline(double y, Rgb c, bool dashed) {
  segment(m_x0, y, m_x1, y, c, 1.5, dashed);
}
void Axes::vline(double x, Rgb c, bool dashed) {
  segment(x, m_y0, x, m_y1, c, 1.5, dashed);
}

void Axes::segment(double xa, double ya, double xb, double yb, Rgb c, double width, bool dashed) {
  clip();
  if (dashed) {
    m_c.dashed_line(px(xa), py(ya), px(xb), py(yb), c);
  } else {
    m_c.line(px(xa), py(ya), px(xb), py(yb), c, width);
  }
  m_c.clear_clip();
}

void Axes::contour(const std::function<double(double, double)>& f,
                   const std::vector<double>& levels, Rgb c, int nx, int ny, double width) {
  std::vector<double> g(static_cast<size_t>((nx + 1) * (ny + 1)));
  auto gx = [&](int i) { return m_x0 + (m_x1 - m_x0) * i / nx; };
  auto gy = [&](int j) { return m_y0 + (m_y1 - m_y0) * j / ny; };
  for (int j = 0; j <= ny; ++j)
    for (int i = 0; i <= nx; ++i) g[j * (nx + 1) + i] = f(gx(i), gy(j));
  clip();
  for (double lv : levels) {
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) {
        // Corners counter-clockwise from bottom-left; an edge is crossed when its ends are on
        // opposite sides of the level, at the linearly interpolated point.
        const double v[4] = {g[j * (nx + 1) + i], g[j * (nx + 1) + i + 1],
                             g[(j + 1) * (nx + 1) + i + 1], g[(j + 1) * (nx + 1) + i]};
        const double cx[4] = {gx(i), gx(i + 1), gx(i + 1), gx(i)};
        const double cy[4] = {gy(j), gy(j), gy(j + 1), gy(j + 1)};
        double pts[4][2];
        int np = 0;
        for (int e = 0; e < 4; ++e) {
          const int a = e, b = (e + 1) % 4;
          if ((v[a] < lv) != (v[b] < lv)) {
            const double t = (lv - v[a]) / (v[b] - v[a]);
            pts[np][0] = cx[a] + t * (cx[b] - cx[a]);
            pts[np][1] = cy[a] + t * (cy[b] - cy[a]);
            ++np;
          }
        }
        // Two crossings: one segment; four (a saddle): pair them in edge order.
        for (int s = 0; s + 1 < np; s += 2)
          m_c.line(px(pts[s][0]), py(pts[s][1]), px(pts[s + 1][0]), py(pts[s + 1][1]), c, width);
      }
  }
  m_c.clear_clip();
}

void Axes::legend(const std::vector<std::string>& labels, const std::vector<Rgb>& colours) {
  if (labels.empty()) return;
  int w = 0;
  for (const auto& l : labels) w = std::max(w, Canvas::text_width(l, 2));
  const int row = 22, bw = w + 40, bh = static_cast<int>(labels.size()) * row + 10;
  const int x0 = m_left + m_w - bw - 8, y0 = m_top + 8;
  m_c.clear_clip();
  m_c.fill_rect(x0, y0, x0 + bw, y0 + bh, kWhite, 0.85);
  m_c.rect(x0, y0, x0 + bw, y0 + bh, kGrey);
  for (size_t i = 0; i < labels.size(); ++i) {
    const int y = y0 + 8 + static_cast<int>(i) * row;
    m_c.fill_rect(x0 + 8, y, x0 + 22, y + 13, colours[i % colours.size()]);
    m_c.text(x0 + 30, y, labels[i], kBlack, 2);
  }
}

std::vector<double> histogram_counts(const std::vector<double>& v, double lo, double hi, int bins,
                                     bool density) {
  std::vector<double> h(static_cast<size_t>(bins), 0.0);
  const double w = (hi - lo) / bins;
  int64_t n = 0;
  for (double x : v) {
    if (!(x >= lo && x <= hi)) continue;
    const int b = std::min(bins - 1, static_cast<int>((x - lo) / w));
    h[b] += 1;
    ++n;
  }
  if (density && !v.empty())
    for (double& c : h) c /= static_cast<double>(v.size()) * w;
  return h;
}

}  // namespace nidim::tools
