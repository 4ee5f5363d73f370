// nidim/tools/common/plot.cpp: see plot.h.
#include "tools/common/plot.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "core/error.h"
#include "core/io.h"

namespace nidim::tools {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kFrameWidth = 0.8;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void set_colour(cairo_t* cr, Rgb c, double a = 1.0) {
  cairo_set_source_rgba(cr, c.r / 255.0, c.g / 255.0, c.b / 255.0, a);
}

void stroke(cairo_t* cr, Rgb c, double width, bool dashed = false, double a = 1.0) {
  const double dash[2] = {4.0, 2.5};
  set_colour(cr, c, a);
  cairo_set_line_width(cr, width);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_dash(cr, dash, dashed ? 2 : 0, 0);
  cairo_stroke(cr);
}

// The centre of a hairline on the PNG's pixel grid (half-point steps), so thin rules stay crisp.
double snap(double v) {
  return std::round(v * kPngScale) / kPngScale;
}

// Makes DejaVu Sans at `size` points cr's font; returns how far s advances the pen.
double use_font(cairo_t* cr, const std::string& s, double size) {
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  return e.x_advance;
}

cairo_status_t append_bytes(void* out, const unsigned char* data, unsigned int len) {
  static_cast<std::string*>(out)->append(reinterpret_cast<const char*>(data), len);
  return CAIRO_STATUS_SUCCESS;
}

// Where v falls along an axis from lo (0) to hi (1); NaN for v <= 0 on a log axis.
double axis_fraction(double v, double lo, double hi, bool log) {
  if (!log) return (v - lo) / (hi - lo);
  if (!(v > 0)) return kNaN;
  return (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
}

// A tick: its value, its label ("10" and a raised exponent on log axes; empty for minor ticks).
struct Tick {
  double v;
  std::string base, exponent;
};

std::vector<Tick> axis_ticks(double lo, double hi, bool log) {
  std::vector<Tick> t;
  if (log) {
    const int e0 = static_cast<int>(std::ceil(std::log10(lo) - 1e-9)),
              e1 = static_cast<int>(std::floor(std::log10(hi) + 1e-9));
    if (e1 > e0) {  // two or more decades: labelled powers of ten, unlabelled 2..9 between
      for (int e = e0 - 1; e <= e1; ++e)
        for (int m = 1; m < 10; ++m) {
          const double v = m * std::pow(10.0, e);
          if (v < lo * (1 - 1e-9) || v > hi * (1 + 1e-9)) continue;
          const std::string exponent = (e < 0 ? "\u2212" : "") + std::to_string(std::abs(e));
          t.push_back(m > 1 ? Tick{v, "", ""} : Tick{v, "10", exponent});
        }
      return t;
    }
  }
  const std::vector<double> v = nice_ticks(lo, hi, 5);
  const double step = v.size() > 1 ? v[1] - v[0] : 1;
  for (double x : v) {
    std::string s = tick_label(x, step);
    if (!s.empty() && s[0] == '-') s = "\u2212" + s.substr(1);  // a typographic minus
    t.push_back({x, s, ""});
  }
  return t;
}

// An exponent is drawn at 0.7 of the size, raised by 0.4 of it; top-aligned labels with one
// move down by as much, so that the exponent clears the tick above it.
constexpr double kExponentScale = 0.7, kExponentRaise = 0.4;

double label_width(const Figure& fig, const Tick& t, double size) {
  return fig.text_width(t.base, size) + fig.text_width(t.exponent, size * kExponentScale);
}

void draw_label(Figure& fig, double x, double y, const Tick& t, double size, int ha, int va) {
  const double left = x - label_width(fig, t, size) * (ha + 1) / 2;
  if (!t.exponent.empty() && va < 0) y += kExponentRaise * size;
  fig.text(left, y, t.base, size, kBlack, -1, va);
  if (!t.exponent.empty())
    fig.text(left + fig.text_width(t.base, size), y - kExponentRaise * size, t.exponent,
             size * kExponentScale, kBlack, -1, va);
}

}  // namespace

Rgb palette(int64_t i) {
  static const Rgb tab10[10] = {{31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                                {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127},
                                {188, 189, 34},  {23, 190, 207}};
  return tab10[((i % 10) + 10) % 10];
}

const char* plot_format_name(PlotFormat f) {
  static const char* const names[] = {"png", "svg", "pdf"};  // in PlotFormat's order
  return names[static_cast<int>(f)];
}

std::vector<PlotFormat> parse_plot_formats(const std::string& list) {
  std::vector<PlotFormat> out;
  size_t start = 0;
  while (true) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string name = list.substr(start, comma - start);
    bool known = false;
    for (PlotFormat f : {PlotFormat::kPng, PlotFormat::kSvg, PlotFormat::kPdf})
      if (name == plot_format_name(f)) {
        known = true;
        if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
      }
    NIDIM_CHECK(known,
                "--plot-format {}: unknown format '{}' (a comma-separated list of png, svg, pdf)",
                list, name);
    if (comma == list.size()) return out;
    start = comma + 1;
  }
}

// ---- figure ----------------------------------------------------------------------------------

Figure::Figure(double width, double height) : m_w(width), m_h(height) {
  NIDIM_CHECK(width > 0 && height > 0, "figure: bad size {} x {}", width, height);
  const cairo_rectangle_t extents{0, 0, width, height};
  m_record = cairo_recording_surface_create(CAIRO_CONTENT_COLOR_ALPHA, &extents);
  m_cr = cairo_create(m_record);
  NIDIM_CHECK(cairo_status(m_cr) == CAIRO_STATUS_SUCCESS, "figure: cairo: {}",
              cairo_status_to_string(cairo_status(m_cr)));
  set_colour(m_cr, kWhite);  // an opaque page in every format
  cairo_paint(m_cr);
}

Figure::~Figure() {
  cairo_destroy(m_cr);
  cairo_surface_destroy(m_record);
}

void Figure::text(double x, double y, const std::string& s, double size, Rgb c, int ha, int va,
                  double angle) {
  if (s.empty()) return;
  cairo_save(m_cr);
  const double advance = use_font(m_cr, s, size);
  cairo_translate(m_cr, x, y);
  cairo_rotate(m_cr, -angle * kPi / 180);
  // Baselines from DejaVu Sans' metrics: capitals are 0.73 em tall, descenders 0.24 em deep.
  const double baseline = va < 0 ? 0.76 * size : va == 0 ? 0.365 * size : -0.24 * size;
  cairo_move_to(m_cr, -advance * (ha + 1) / 2, baseline);
  set_colour(m_cr, c);
  cairo_show_text(m_cr, s.c_str());
  cairo_restore(m_cr);
}

double Figure::text_width(const std::string& s, double size) const {
  if (s.empty()) return 0;
  cairo_save(m_cr);
  const double advance = use_font(m_cr, s, size);
  cairo_restore(m_cr);
  return advance;
}

Axes Figure::axes(double left, double top, double width, double height) {
  return Axes(*this, left, top, width, height);
}

std::string Figure::encode(PlotFormat f) const {
  std::string out;
  cairo_surface_t* s =
      f == PlotFormat::kSvg ? cairo_svg_surface_create_for_stream(append_bytes, &out, m_w, m_h)
      : f == PlotFormat::kPdf
          ? cairo_pdf_surface_create_for_stream(append_bytes, &out, m_w, m_h)
          : cairo_image_surface_create(CAIRO_FORMAT_RGB24,
                                       static_cast<int>(std::ceil(m_w * kPngScale)),
                                       static_cast<int>(std::ceil(m_h * kPngScale)));
  if (f == PlotFormat::kPdf)  // no creation time: the same figure gives the same bytes
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATE_DATE, "");
  // Replaying the recording draws every path and glyph again at the target's resolution.
  cairo_t* cr = cairo_create(s);
  if (f == PlotFormat::kPng) cairo_scale(cr, kPngScale, kPngScale);
  cairo_set_source_surface(cr, m_record, 0, 0);
  cairo_paint(cr);
  cairo_status_t status = cairo_status(cr);
  cairo_destroy(cr);
  if (f == PlotFormat::kPng && status == CAIRO_STATUS_SUCCESS)
    status = cairo_surface_write_to_png_stream(s, append_bytes, &out);
  cairo_surface_finish(s);  // SVG and PDF are written here
  if (status == CAIRO_STATUS_SUCCESS) status = cairo_surface_status(s);
  cairo_surface_destroy(s);
  NIDIM_CHECK(status == CAIRO_STATUS_SUCCESS, "figure: cairo could not write the {}: {}",
              plot_format_name(f), cairo_status_to_string(status));
  return out;
}

std::vector<std::string> Figure::save(const std::string& dir, const std::string& stem,
                                      const std::vector<PlotFormat>& formats) const {
  std::vector<std::string> names;
  for (PlotFormat f : formats) {
    names.push_back(stem + "." + plot_format_name(f));
    nidim::write_file_atomic(dir.empty() ? names.back() : dir + "/" + names.back(), encode(f));
  }
  return names;
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

Axes::Axes(Figure& fig, double left, double top, double width, double height)
    : m_fig(fig), m_left(left), m_top(top), m_w(width), m_h(height) {}

void Axes::set_limits(double x0, double x1, double y0, double y1, bool log_x, bool log_y) {
  NIDIM_CHECK(!(log_x && !(x0 > 0)) && !(log_y && !(y0 > 0)),
              "axes: a log scale needs limits > 0, got x from {} and y from {}", x0, y0);
  if (!(x1 > x0)) x1 = log_x ? x0 * 10 : x0 + 1;
  if (!(y1 > y0)) y1 = log_y ? y0 * 10 : y0 + 1;
  m_x0 = x0;
  m_x1 = x1;
  m_y0 = y0;
  m_y1 = y1;
  m_log_x = log_x;
  m_log_y = log_y;
}

double Axes::px(double x) const {
  return m_left + axis_fraction(x, m_x0, m_x1, m_log_x) * m_w;
}
double Axes::py(double y) const {
  return m_top + m_h - axis_fraction(y, m_y0, m_y1, m_log_y) * m_h;
}

void Axes::clip_to_frame() const {
  cairo_t* cr = m_fig.context();
  cairo_save(cr);
  const double in = kFrameWidth / 2;
  cairo_rectangle(cr, m_left + in, m_top + in, m_w - 2 * in, m_h - 2 * in);
  cairo_clip(cr);
}

void Axes::decorate(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                    bool grid) {
  cairo_t* cr = m_fig.context();
  const std::vector<Tick> xt = axis_ticks(m_x0, m_x1, m_log_x),
                          yt = axis_ticks(m_y0, m_y1, m_log_y);
  const double bottom = m_top + m_h, major = 3.5, minor = 2.0;
  // Grid at the labelled ticks, under everything drawn later; then the ticks, outwards.
  for (int pass = grid ? 0 : 1; pass < 2; ++pass) {
    for (const Tick& t : xt) {
      const double x = snap(px(t.v)), len = t.base.empty() ? minor : major;
      if (pass == 0 && t.base.empty()) continue;
      cairo_move_to(cr, x, pass == 0 ? m_top : bottom);
      cairo_line_to(cr, x, pass == 0 ? bottom : bottom + len);
    }
    for (const Tick& t : yt) {
      const double y = snap(py(t.v)), len = t.base.empty() ? minor : major;
      if (pass == 0 && t.base.empty()) continue;
      cairo_move_to(cr, pass == 0 ? m_left : m_left - len, y);
      cairo_line_to(cr, pass == 0 ? m_left + m_w : m_left, y);
    }
    stroke(cr, pass == 0 ? kLightGrey : kBlack, pass == 0 ? 0.5 : kFrameWidth);
  }
  cairo_rectangle(cr, snap(m_left), snap(m_top), snap(m_w), snap(m_h));
  stroke(cr, kBlack, kFrameWidth);
  double widest = 0;
  for (const Tick& t : xt)
    if (!t.base.empty()) draw_label(m_fig, px(t.v), bottom + major + 2, t, kTickSize, 0, -1);
  for (const Tick& t : yt)
    if (!t.base.empty()) {
      draw_label(m_fig, m_left - major - 2.5, py(t.v), t, kTickSize, 1, 0);
      widest = std::max(widest, label_width(m_fig, t, kTickSize));
    }
  m_fig.text(m_left + m_w / 2, m_top - 5, title, kTitleSize, kBlack, 0, 1);
  const double xlabel_y = bottom + major + 2 + (1.45 + (m_log_x ? kExponentRaise : 0)) * kTickSize;
  m_fig.text(m_left + m_w / 2, xlabel_y, xlabel, kLabelSize, kBlack, 0, -1);
  m_fig.text(m_left - major - 2.5 - widest - 4, m_top + m_h / 2, ylabel, kLabelSize, kBlack, 0, 1,
             90);
}

void Axes::curve(const std::vector<double>& xs, const std::vector<double>& ys, Rgb c, double width,
                 bool dashed) {
  cairo_t* cr = m_fig.context();
  clip_to_frame();
  bool pen_down = false;  // a point that cannot be drawn breaks the curve
  for (size_t i = 0; i < xs.size() && i < ys.size(); ++i) {
    const double x = px(xs[i]), y = py(ys[i]);
    if (!std::isfinite(x) || !std::isfinite(y)) {
      pen_down = false;
      continue;
    }
    pen_down ? cairo_line_to(cr, x, y) : cairo_move_to(cr, x, y);
    pen_down = true;
  }
  stroke(cr, c, width, dashed);
  cairo_restore(cr);
}

void Axes::scatter(const std::vector<double>& xs, const std::vector<double>& ys,
                   const std::vector<Rgb>& colours, double radius, double a) {
  cairo_t* cr = m_fig.context();
  clip_to_frame();
  // One fill per point, so that overlapping points darken as matplotlib's do.
  for (size_t i = 0; i < xs.size() && i < ys.size(); ++i) {
    const double x = px(xs[i]), y = py(ys[i]);
    if (!std::isfinite(x) || !std::isfinite(y)) continue;
    set_colour(cr, colours.empty() ? palette(0) : colours[i % colours.size()], a);
    cairo_arc(cr, x, y, radius, 0, 2 * kPi);
    cairo_fill(cr);
  }
  cairo_restore(cr);
}

void Axes::histogram(const std::vector<double>& edges, const std::vector<double>& heights, Rgb c,
                     double a) {
  cairo_t* cr = m_fig.context();
  clip_to_frame();
  // One path of all bars, filled once: neighbouring bars meet without an anti-aliased seam.
  const double base = m_log_y ? m_top + m_h : py(0);
  for (size_t i = 0; i + 1 < edges.size() && i < heights.size(); ++i) {
    const double x0 = px(edges[i]), x1 = px(edges[i + 1]), y = py(heights[i]);
    if (std::isfinite(x0) && std::isfinite(x1) && std::isfinite(y))
      cairo_rectangle(cr, x0, y, x1 - x0, base - y);
  }
  set_colour(cr, c, a);
  cairo_fill(cr);
  cairo_restore(cr);
}

void Axes::hline(double y, Rgb c, bool dashed, const std::string& label) {
  segment(m_x0, y, m_x1, y, c, 1.0, dashed);
  const double at = py(y);
  if (!label.empty() && std::isfinite(at))
    m_fig.text(m_left + m_w - 4, at - 2, label, kTickSize, c, 1, 1);
}

void Axes::segment(double xa, double ya, double xb, double yb, Rgb c, double width, bool dashed) {
  curve({xa, xb}, {ya, yb}, c, width, dashed);
}

void Axes::contour(const std::function<double(double, double)>& f,
                   const std::vector<double>& levels, Rgb c, int nx, int ny, double width) {
  std::vector<double> g(static_cast<size_t>((nx + 1) * (ny + 1)));
  auto gx = [&](int i) { return m_x0 + (m_x1 - m_x0) * i / nx; };
  auto gy = [&](int j) { return m_y0 + (m_y1 - m_y0) * j / ny; };
  for (int j = 0; j <= ny; ++j)
    for (int i = 0; i <= nx; ++i) g[j * (nx + 1) + i] = f(gx(i), gy(j));
  cairo_t* cr = m_fig.context();
  clip_to_frame();
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
        for (int s = 0; s + 1 < np; s += 2) {
          cairo_move_to(cr, px(pts[s][0]), py(pts[s][1]));
          cairo_line_to(cr, px(pts[s + 1][0]), py(pts[s + 1][1]));
        }
      }
  }
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);  // the segments of a line meet without gaps
  stroke(cr, c, width);
  cairo_restore(cr);
}

void Axes::legend(const std::vector<std::string>& labels, const std::vector<Rgb>& colours) {
  if (labels.empty()) return;
  double w = 0;
  for (const auto& l : labels) w = std::max(w, m_fig.text_width(l, kTickSize));
  const double row = 1.4 * kTickSize, bw = w + 22, bh = labels.size() * row + 6;
  const double x0 = m_left + m_w - bw - 5, y0 = m_top + 5;
  cairo_t* cr = m_fig.context();
  cairo_rectangle(cr, x0, y0, bw, bh);
  set_colour(cr, kWhite, 0.85);
  cairo_fill_preserve(cr);
  stroke(cr, kGrey, 0.5);
  for (size_t i = 0; i < labels.size(); ++i) {
    const double y = y0 + 3 + (i + 0.5) * row;
    cairo_rectangle(cr, x0 + 5, y - 3.5, 7, 7);
    set_colour(cr, colours[i % colours.size()]);
    cairo_fill(cr);
    m_fig.text(x0 + 17, y, labels[i], kTickSize, kBlack, -1, 0);
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
