// nidim/tools/common/plot.h: a small raster canvas for the tools' PNG figures: anti-aliased lines,
// discs, rectangles, text in a built-in 5x7 bitmap font, and Axes that map data coordinates to
// pixels and draw frames, ticks, tick labels, histograms, curves, scatter and contour lines.
//
// Conventions: pixel (0, 0) is the top-left corner; colours are 8-bit sRGB; drawing blends with
// an opacity in [0, 1] (plain "over" compositing in sRGB, which is what matplotlib does too).
// Text is ASCII 32..126 (other bytes draw as '?'), scaled by an integer factor.
// Left out: fonts other than the bitmap one, rotation (y-axis labels are written horizontally
// above the axis), vector output, colour maps beyond a categorical palette.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace nidim::tools {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

constexpr Rgb kWhite{255, 255, 255};
constexpr Rgb kBlack{0, 0, 0};
constexpr Rgb kGrey{128, 128, 128};
constexpr Rgb kLightGrey{220, 220, 220};
// matplotlib's "tab10" categorical colours; palette(i) cycles through them.
Rgb palette(int64_t i);

class Canvas {
 public:
  Canvas(int width, int height, Rgb background = kWhite);

  int width() const { return m_w; }
  int height() const { return m_h; }
  Rgb get(int x, int y) const;

  // Blends colour c with opacity a into pixel (x, y); outside the canvas (or the clip box) does
  // nothing.
  void blend(int x, int y, Rgb c, double a = 1.0);
  void set_clip(int x0, int y0, int x1, int y1);  // inclusive box; drawing outside is dropped
  void clear_clip();

  // Xiaolin Wu's anti-aliased line (Wu, "An efficient antialiasing technique", SIGGRAPH 1991);
  // width > 1 draws parallel Wu lines.
  void line(double x0, double y0, double x1, double y1, Rgb c, double width = 1.0, double a = 1.0);
  // Dashed line: on/off lengths in pixels.
  void dashed_line(double x0, double y0, double x1, double y1, Rgb c, double on = 6,
                   double off = 4);
  void fill_rect(int x0, int y0, int x1, int y1, Rgb c, double a = 1.0);  // inclusive corners
  void rect(int x0, int y0, int x1, int y1, Rgb c);
  // Filled disc with a one-pixel soft edge.
  void disc(double cx, double cy, double r, Rgb c, double a = 1.0);

  // Text with its top-left corner at (x, y); `align` -1 left, 0 centred, 1 right of x.
  void text(int x, int y, const std::string& s, Rgb c, int scale = 1, int align = -1);
  static int text_width(const std::string& s, int scale = 1);
  static int text_height(int scale = 1) { return 9 * scale; }  // with descenders

  // PNG bytes (8-bit RGB) through libpng; save_png writes them atomically.
  std::string encode_png() const;
  void save_png(const std::string& path) const;

 private:
  int m_w, m_h;
  std::vector<uint8_t> m_px;  // RGB, row-major
  int m_cx0 = 0, m_cy0 = 0, m_cx1, m_cy1;
};

// About `target` round tick values covering [lo, hi] (steps 1, 2, 2.5 or 5 times a power of 10).
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// A tick label with as many decimals as the step needs ("0.25", "1e+04" for large values).
std::string tick_label(double v, double step);

// A plotting area: the data box [x0, x1] x [y0, y1] drawn into the pixel box (left, top,
// width, height) of a canvas. Everything drawn through it is clipped to the box.
class Axes {
 public:
  Axes(Canvas& canvas, int left, int top, int width, int height);
  void set_limits(double x0, double x1, double y0, double y1);
  double px(double x) const;
  double py(double y) const;

  // Frame, ticks with labels, optional grid, a title above and axis labels.
  void decorate(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                bool grid = true);
  void curve(const std::vector<double>& xs, const std::vector<double>& ys, Rgb c,
             double width = 2.0);
  void scatter(const std::vector<double>& xs, const std::vector<double>& ys,
               const std::vector<Rgb>& colours, double radius = 2.0, double a = 0.6);
  // Bars over bins [edges[i], edges[i+1]) of the given heights.
  void histogram(const std::vector<double>& edges, const std::vector<double>& heights, Rgb c,
                 double a = 0.7);
  void hline(double y, Rgb c, bool dashed = false);
  void vline(double x, Rgb c, bool dashed = false);
  void segment(double xa, double ya, double xb, double yb, Rgb c, double width = 1.5,
               bool dashed = false);
  // Contour lines of f at the given levels over the current limits, by marching squares on an
  // nx x ny grid with linear interpolation along cell edges (Lorensen & Cline 1987, in 2-D).
  void contour(const std::function<double(double, double)>& f, const std::vector<double>& levels,
               Rgb c, int nx = 200, int ny = 200, double width = 1.5);
  // A legend box in the top-right corner: one coloured swatch per entry.
  void legend(const std::vector<std::string>& labels, const std::vector<Rgb>& colours);

 private:
  Canvas& m_c;
  int m_left, m_top, m_w, m_h;
  double m_x0 = 0, m_x1 = 1, m_y0 = 0, m_y1 = 1;
  void clip() const;
};

// Histogram of v with `bins` equal bins on [lo, hi] (values outside are dropped), as densities
// (count / (n * width)) when `density`.
std::vector<double> histogram_counts(const std::vector<double>& v, double lo, double hi, int bins,
                                     bool density);

}  // namespace nidim::tools
