// nidim/tools/common/plot.h: the tools' figures, drawn with cairo. A Figure records its drawing
// once (a cairo recording surface) and replays it onto an image surface (PNG), an SVG surface or
// a PDF surface, so the three files show the same figure. Axes map data coordinates (linear or
// log10) to the figure and draw frames, ticks, tick labels, histograms, curves, scatter, contour
// lines, reference lines and legends.
//
// Conventions: lengths are in points (1/72 inch), (0, 0) is the top-left corner, y grows down;
// the PNG has kPngScale pixels per point. Colours are 8-bit sRGB with an opacity in [0, 1].
// Text is UTF-8 in DejaVu Sans through cairo's toy text API (fontconfig picks the file); angles
// are in degrees counter-clockwise, so y-axis labels are drawn at 90.
// Left out: colour maps beyond a categorical palette, images, mathematical typesetting (log
// axes write "10" with a raised exponent by hand), text shaping beyond what cairo's toy API does.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

typedef struct _cairo cairo_t;
typedef struct _cairo_surface cairo_surface_t;

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

enum class PlotFormat { kPng, kSvg, kPdf };
const char* plot_format_name(PlotFormat f);  // "png", "svg", "pdf": also the file extension
// A comma-separated subset of png,svg,pdf ("png,pdf"), in the given order, duplicates dropped;
// anything else throws an error naming the --plot-format flag.
std::vector<PlotFormat> parse_plot_formats(const std::string& list);

constexpr double kPngScale = 2.0;  // PNG pixels per point

class Axes;

class Figure {
 public:
  Figure(double width, double height);  // points
  ~Figure();
  Figure(const Figure&) = delete;
  Figure& operator=(const Figure&) = delete;

  double width() const { return m_w; }
  double height() const { return m_h; }

  // Text anchored at (x, y): `ha` -1 left, 0 centre, 1 right of x; `va` -1 top, 0 middle, 1
  // bottom (the font's ascent and descent, so labels of one size line up); the text is rotated
  // by `angle` degrees counter-clockwise about the anchor, alignment taken along the text.
  void text(double x, double y, const std::string& s, double size, Rgb c = kBlack, int ha = -1,
            int va = -1, double angle = 0);
  double text_width(const std::string& s, double size) const;
  // A plotting area whose frame is the box (left, top, width, height), in points.
  Axes axes(double left, double top, double width, double height);

  // The figure as a file's bytes: PNG (kPngScale pixels per point, white background, 8-bit RGB),
  // SVG or PDF (one page of width x height points).
  std::string encode(PlotFormat f) const;
  // Writes dir/stem.<format> for each format, each atomically (core/io.h); returns the file names
  // written, without dir.
  std::vector<std::string> save(const std::string& dir, const std::string& stem,
                                const std::vector<PlotFormat>& formats) const;

  cairo_t* context() const { return m_cr; }  // for Axes, drawing into the recording

 private:
  double m_w, m_h;
  cairo_surface_t* m_record = nullptr;
  cairo_t* m_cr = nullptr;
};

// About `target` round tick values covering [lo, hi] (steps 1, 2, 2.5 or 5 times a power of 10).
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// A tick label with as many decimals as the step needs ("0.25", "1e+04" for large values).
std::string tick_label(double v, double step);

// A plotting area of a figure: the data box [x0, x1] x [y0, y1] drawn into the frame. Data
// drawing is clipped to the frame; points a log axis cannot show (<= 0) are skipped.
class Axes {
 public:
  Axes(Figure& fig, double left, double top, double width, double height);
  // log_x / log_y: a log10 scale, decades equally spaced and ticks at powers of ten (its limits
  // must be > 0); else linear.
  void set_limits(double x0, double x1, double y0, double y1, bool log_x = false,
                  bool log_y = false);
  double px(double x) const;  // figure coordinates of data coordinates (NaN where not drawable)
  double py(double y) const;

  // Frame, ticks with labels, optional grid, the title above, the x label below and the y label
  // to the left, rotated.
  void decorate(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                bool grid = true);
  void curve(const std::vector<double>& xs, const std::vector<double>& ys, Rgb c,
             double width = 1.25, bool dashed = false);
  void scatter(const std::vector<double>& xs, const std::vector<double>& ys,
               const std::vector<Rgb>& colours, double radius = 1.0, double a = 0.6);
  // Bars over bins [edges[i], edges[i+1]) of the given heights, from the x axis.
  void histogram(const std::vector<double>& edges, const std::vector<double>& heights, Rgb c,
                 double a = 0.7);
  // A horizontal reference line across the axes, with an optional label at its right end.
  void hline(double y, Rgb c, bool dashed = true, const std::string& label = "");
  void segment(double xa, double ya, double xb, double yb, Rgb c, double width = 1.0,
               bool dashed = false);
  // Contour lines of f at the given levels over the current (linear) limits, by marching squares
  // on an nx x ny grid with linear interpolation along cell edges (Lorensen & Cline 1987, in 2-D).
  void contour(const std::function<double(double, double)>& f, const std::vector<double>& levels,
               Rgb c, int nx = 200, int ny = 200, double width = 0.75);
  // A legend box in the top-right corner: one coloured swatch per entry.
  void legend(const std::vector<std::string>& labels, const std::vector<Rgb>& colours);

  // Text sizes in points.
  static constexpr double kTickSize = 8.5, kLabelSize = 9.5, kTitleSize = 10;

 private:
  Figure& m_fig;
  double m_left, m_top, m_w, m_h;
  double m_x0 = 0, m_x1 = 1, m_y0 = 0, m_y1 = 1;
  bool m_log_x = false, m_log_y = false;
  void clip_to_frame() const;  // cairo_save and a clip inside the frame line; cairo_restore ends
};

// Histogram of v with `bins` equal bins on [lo, hi] (values outside are dropped), as densities
// (count / (n * width)) when `density`.
std::vector<double> histogram_counts(const std::vector<double>& v, double lo, double hi, int bins,
                                     bool density);

}  // namespace nidim::tools
