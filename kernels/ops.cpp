// nidim/kernels/ops.cpp: the op front end (see ops.h). For each op: checks, allocation of the
// results, the forward kernel call and the node whose backward function calls the backward
// kernel. Backward closures capture detached copies of what they need (never the op's own
// output with its node, which would make a reference cycle).
#include "kernels/ops.h"

#include <cmath>

#include "core/autograd.h"
#include "kernels/dispatch.h"
#include "kernels/math.h"

namespace nidim {

namespace {

Tensor empty_like(const Tensor& x) {
  return Tensor::empty(x.shape(), x.dtype(), x.device());
}

void run(Op op, Pass pass, std::vector<Tensor> in, std::vector<Tensor> out, OpParams p = {}) {
  KernelCall call{op, pass, std::move(in), std::move(out), p};
  dispatch(call);
}

void check_defined(Op op, const Tensor& x, const char* what) {
  NIDIM_CHECK(x.defined(), "{}: {} is an undefined tensor", op_name(op), what);
}

void check_float(Op op, const Tensor& x, const char* what = "input") {
  check_defined(op, x, what);
  NIDIM_CHECK(is_floating(x.dtype()), "{}: {} must be float32 or float64, got {} {}", op_name(op),
              what, dtype_name(x.dtype()), x.shape());
}

void check_same_dtype(Op op, const Tensor& a, const Tensor& b) {
  NIDIM_CHECK(a.dtype() == b.dtype(), "{}: dtypes differ: {} {} and {} {}", op_name(op),
              dtype_name(a.dtype()), a.shape(), dtype_name(b.dtype()), b.shape());
}

void check_ndim(Op op, const Tensor& x, int ndim, const char* what) {
  NIDIM_CHECK(x.ndim() == ndim, "{}: {} must have {} dimensions, got shape {}", op_name(op), what,
              ndim, x.shape());
}

int normalize_axis(Op op, const Tensor& x, int axis) {
  const int a = axis < 0 ? axis + x.ndim() : axis;
  NIDIM_CHECK(a >= 0 && a < x.ndim(), "{}: axis {} out of range for shape {}", op_name(op), axis,
              x.shape());
  return a;
}

// The shape of a reduction's result.
Shape reduced_shape(const Shape& s, int axis, bool keepdim) {
  std::vector<int64_t> dims;
  for (int k = 0; k < s.ndim(); ++k) {
    if (k != axis)
      dims.push_back(s[k]);
    else if (keepdim)
      dims.push_back(1);
  }
  return Shape(dims);
}

Shape broadcast_shape(Op op, const Shape& a, const Shape& b) {
  const int n = std::max(a.ndim(), b.ndim());
  std::vector<int64_t> dims(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k) {
    const int ka = a.ndim() - n + k, kb = b.ndim() - n + k;
    const int64_t da = ka >= 0 ? a[ka] : 1, db = kb >= 0 ? b[kb] : 1;
    NIDIM_CHECK(da == db || da == 1 || db == 1, "{}: shapes {} and {} do not broadcast",
                op_name(op), a, b);
    dims[static_cast<size_t>(k)] = da == 1 ? db : da;
  }
  return Shape(dims);
}

Tensor binary(Op op, const Tensor& a, const Tensor& b) {
  check_float(op, a, "a");
  check_float(op, b, "b");
  check_same_dtype(op, a, b);
  Tensor c = Tensor::empty(broadcast_shape(op, a.shape(), b.shape()), a.dtype(), a.device());
  run(op, Pass::forward, {a, b}, {c});
  if ((op == Op::add || op == Op::sub) && a.shape() == c.shape() && b.shape() == c.shape()) {
    // No broadcast: the gradients are dc and +-dc, and neither input needs to be kept (a
    // residual connection's operands are freed as soon as nothing else reads them).
    record(c, op, {a, b}, [op](const Tensor& dc, GradSlots& g) {
      if (g.needs(0)) g.set(0, dc);
      if (g.needs(1)) g.set(1, op == Op::add ? dc : neg(dc));
    });
    return c;
  }
  record(c, op, {a, b}, [op, a = a.detach(), b = b.detach()](const Tensor& dc, GradSlots& g) {
    Tensor da = g.needs(0) ? empty_like(a) : Tensor();
    Tensor db = g.needs(1) ? empty_like(b) : Tensor();
    run(op, Pass::backward, {dc, a, b}, {da, db});
    g.set(0, da);
    g.set(1, db);
  });
  return c;
}

Tensor unary(Op op, const Tensor& x, double a = 0) {
  check_float(op, x);
  Tensor y = empty_like(x);
  OpParams p;
  p.f[0] = a;
  run(op, Pass::forward, {x}, {y}, p);
  // Ops whose derivative is a function of y alone keep only y and pass it in x's place, so x
  // can be freed (a batch-norm output before a ReLU).
  const bool reads_x = unary_backward_reads_x(op);
  record(
      y, op, {x},
      [op, p, x = reads_x ? x.detach() : Tensor(), y = y.detach()](const Tensor& dy, GradSlots& g) {
        const Tensor& xs = x.defined() ? x : y;
        Tensor dx = empty_like(y);
        run(op, Pass::backward, {dy, xs, y}, {dx}, p);
        g.set(0, dx);
      });
  return y;
}

// sum or mean over one axis (axis >= 0) or all elements (axis = -1).
Tensor reduce_sum(Op op, const Tensor& x, int axis, bool keepdim) {
  check_float(op, x);
  const Shape out_shape = axis < 0 ? Shape() : reduced_shape(x.shape(), axis, keepdim);
  if (axis >= 0 || op == Op::mean)
    NIDIM_CHECK(x.numel() > 0, "{}: empty input {}", op_name(op), x.shape());
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  OpParams p;
  p.i[0] = axis;
  run(op, Pass::forward, {x}, {y}, p);
  record(y, op, {x}, [op, p, shape = x.shape(), dtype = x.dtype()](const Tensor& dy, GradSlots& g) {
    Tensor dx = Tensor::empty(shape, dtype, dy.device());
    run(op, Pass::backward, {dy}, {dx}, p);
    g.set(0, dx);
  });
  return y;
}

Tensor scalar_like(const Tensor& x, double v) {
  return scalar(v, x.dtype(), x.device());
}

}  // namespace

// ---- creation -------------------------------------------------------------------------------------

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor x = Tensor::empty(shape, dtype, device);
  OpParams p;
  p.f[0] = value;
  if (x.numel() > 0) run(Op::fill, Pass::forward, {}, {x}, p);
  return x;
}
Tensor zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0, dtype, device);
}
Tensor ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1, dtype, device);
}
Tensor zeros_like(const Tensor& x) {
  return full(x.shape(), 0, x.dtype(), x.device());
}
Tensor ones_like(const Tensor& x) {
  return full(x.shape(), 1, x.dtype(), x.device());
}
Tensor full_like(const Tensor& x, double value) {
  return full(x.shape(), value, x.dtype(), x.device());
}
Tensor scalar(double value, DType dtype, Device device) {
  return full(Shape(), value, dtype, device);
}

Tensor rand(const Shape& shape, Generator& gen, double low, double high, DType dtype,
            Device device) {
  NIDIM_CHECK(is_floating(dtype), "uniform: dtype must be floating, got {}", dtype_name(dtype));
  NIDIM_CHECK(low <= high, "uniform: low {} > high {}", low, high);
  Tensor x = Tensor::empty(shape, dtype, device);
  OpParams p;
  p.i[0] = static_cast<int64_t>(gen.seed());
  p.i[1] = static_cast<int64_t>(gen.stream());
  p.i[2] = static_cast<int64_t>(gen.reserve(static_cast<uint64_t>(x.numel())));
  p.f[0] = low;
  p.f[1] = high;
  if (x.numel() > 0) run(Op::uniform, Pass::forward, {}, {x}, p);
  return x;
}

Tensor randn(const Shape& shape, Generator& gen, double mean, double stddev, DType dtype,
             Device device) {
  NIDIM_CHECK(is_floating(dtype), "normal: dtype must be floating, got {}", dtype_name(dtype));
  NIDIM_CHECK(stddev >= 0, "normal: negative standard deviation {}", stddev);
  Tensor x = Tensor::empty(shape, dtype, device);
  OpParams p;
  p.i[0] = static_cast<int64_t>(gen.seed());
  p.i[1] = static_cast<int64_t>(gen.stream());
  p.i[2] = static_cast<int64_t>(gen.reserve(static_cast<uint64_t>(x.numel())));
  p.f[0] = mean;
  p.f[1] = stddev;
  if (x.numel() > 0) run(Op::normal, Pass::forward, {}, {x}, p);
  return x;
}

Tensor cast(const Tensor& x, DType dtype) {
  check_defined(Op::cast, x, "input");
  NIDIM_CHECK(!(x.requires_grad() && grad_enabled()),
              "cast: not differentiable, and the input {} requires a gradient; use detach() or "
              "NoGradGuard",
              x.str());
  Tensor y = Tensor::empty(x.shape(), dtype, x.device());
  if (x.numel() > 0) run(Op::cast, Pass::forward, {x}, {y});
  return y;
}

// ---- matmul ------------------------------------------------------------------------------------------

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  const Op op = Op::matmul;
  check_float(op, a, "a");
  check_float(op, b, "b");
  check_same_dtype(op, a, b);
  check_ndim(op, a, 2, "a");
  check_ndim(op, b, 2, "b");
  const int64_t M = trans_a ? a.size(1) : a.size(0), K = trans_a ? a.size(0) : a.size(1);
  const int64_t Kb = trans_b ? b.size(1) : b.size(0), N = trans_b ? b.size(0) : b.size(1);
  NIDIM_CHECK(K == Kb, "matmul: inner dimensions differ: a {}{} @ b {}{}", a.shape(),
              trans_a ? "^T" : "", b.shape(), trans_b ? "^T" : "");
  Tensor c = Tensor::empty({M, N}, a.dtype(), a.device());
  OpParams p;
  p.i[0] = trans_a;
  p.i[1] = trans_b;
  if (K == 0) {
    c = zeros(c.shape(), a.dtype(), a.device());
  } else {
    run(op, Pass::forward, {a, b}, {c}, p);
  }
  record(c, op, {a, b}, [p, a = a.detach(), b = b.detach()](const Tensor& dc, GradSlots& g) {
    Tensor da = g.needs(0) ? empty_like(a) : Tensor();
    Tensor db = g.needs(1) ? empty_like(b) : Tensor();
    run(Op::matmul, Pass::backward, {dc, a, b}, {da, db}, p);
    g.set(0, da);
    g.set(1, db);
  });
  return c;
}

// ---- element-wise -------------------------------------------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b) {
  return binary(Op::add, a, b);
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary(Op::sub, a, b);
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary(Op::mul, a, b);
}
Tensor div(const Tensor& a, const Tensor& b) {
  return binary(Op::div, a, b);
}
Tensor neg(const Tensor& x) {
  return unary(Op::neg, x);
}
Tensor exp(const Tensor& x) {
  return unary(Op::exp, x);
}
Tensor log(const Tensor& x) {
  return unary(Op::log, x);
}
Tensor sqrt(const Tensor& x) {
  return unary(Op::sqrt, x);
}
Tensor pow(const Tensor& x, double exponent) {
  return unary(Op::pow, x, exponent);
}
Tensor abs(const Tensor& x) {
  return unary(Op::abs, x);
}
Tensor tanh(const Tensor& x) {
  return unary(Op::tanh, x);
}
Tensor sigmoid(const Tensor& x) {
  return unary(Op::sigmoid, x);
}
Tensor erf(const Tensor& x) {
  return unary(Op::erf, x);
}
Tensor relu(const Tensor& x) {
  return unary(Op::relu, x);
}
Tensor leaky_relu(const Tensor& x, double slope) {
  return unary(Op::leaky_relu, x, slope);
}

Tensor operator+(const Tensor& a, const Tensor& b) {
  return add(a, b);
}
Tensor operator-(const Tensor& a, const Tensor& b) {
  return sub(a, b);
}
Tensor operator*(const Tensor& a, const Tensor& b) {
  return mul(a, b);
}
Tensor operator/(const Tensor& a, const Tensor& b) {
  return div(a, b);
}
Tensor operator-(const Tensor& x) {
  return neg(x);
}
Tensor operator+(const Tensor& a, double b) {
  return add(a, scalar_like(a, b));
}
Tensor operator-(const Tensor& a, double b) {
  return sub(a, scalar_like(a, b));
}
Tensor operator*(const Tensor& a, double b) {
  return mul(a, scalar_like(a, b));
}
Tensor operator/(const Tensor& a, double b) {
  return div(a, scalar_like(a, b));
}
Tensor operator+(double a, const Tensor& b) {
  return add(scalar_like(b, a), b);
}
Tensor operator-(double a, const Tensor& b) {
  return sub(scalar_like(b, a), b);
}
Tensor operator*(double a, const Tensor& b) {
  return mul(scalar_like(b, a), b);
}
Tensor operator/(double a, const Tensor& b) {
  return div(scalar_like(b, a), b);
}

// ---- reductions --------------------------------------------------------------------------------------

Tensor sum(const Tensor& x) {
  return reduce_sum(Op::sum, x, -1, false);
}
Tensor sum(const Tensor& x, int axis, bool keepdim) {
  check_defined(Op::sum, x, "input");
  return reduce_sum(Op::sum, x, normalize_axis(Op::sum, x, axis), keepdim);
}
Tensor mean(const Tensor& x) {
  return reduce_sum(Op::mean, x, -1, false);
}
Tensor mean(const Tensor& x, int axis, bool keepdim) {
  check_defined(Op::mean, x, "input");
  return reduce_sum(Op::mean, x, normalize_axis(Op::mean, x, axis), keepdim);
}

std::pair<Tensor, Tensor> max_with_index(const Tensor& x, int axis, bool keepdim) {
  const Op op = Op::max;
  check_float(op, x);
  const int ax = normalize_axis(op, x, axis);
  NIDIM_CHECK(x.size(ax) > 0, "max: axis {} of {} is empty", axis, x.shape());
  const Shape out_shape = reduced_shape(x.shape(), ax, keepdim);
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  Tensor index = Tensor::empty(out_shape, DType::i64, x.device());
  OpParams p;
  p.i[0] = ax;
  run(op, Pass::forward, {x}, {y, index}, p);
  record(y, op, {x},
         [p, index, shape = x.shape(), dtype = x.dtype()](const Tensor& dy, GradSlots& g) {
           Tensor dx = Tensor::empty(shape, dtype, dy.device());
           run(Op::max, Pass::backward, {dy, index}, {dx}, p);
           g.set(0, dx);
         });
  return {y, index};
}
Tensor max(const Tensor& x, int axis, bool keepdim) {
  return max_with_index(x, axis, keepdim).first;
}

Tensor logsumexp(const Tensor& x, int axis, bool keepdim) {
  const Op op = Op::logsumexp;
  check_float(op, x);
  const int ax = normalize_axis(op, x, axis);
  Tensor y = Tensor::empty(reduced_shape(x.shape(), ax, keepdim), x.dtype(), x.device());
  OpParams p;
  p.i[0] = ax;
  run(op, Pass::forward, {x}, {y}, p);
  record(y, op, {x}, [p, x = x.detach(), y = y.detach()](const Tensor& dy, GradSlots& g) {
    Tensor dx = empty_like(x);
    run(Op::logsumexp, Pass::backward, {dy, x, y}, {dx}, p);
    g.set(0, dx);
  });
  return y;
}

namespace {
Tensor softmax_op(Op op, const Tensor& x, int axis) {
  check_float(op, x);
  OpParams p;
  p.i[0] = normalize_axis(op, x, axis);
  Tensor y = empty_like(x);
  run(op, Pass::forward, {x}, {y}, p);
  record(y, op, {x}, [op, p, y = y.detach()](const Tensor& dy, GradSlots& g) {
    Tensor dx = empty_like(y);
    run(op, Pass::backward, {dy, y}, {dx}, p);
    g.set(0, dx);
  });
  return y;
}
}  // namespace

Tensor softmax(const Tensor& x, int axis) {
  return softmax_op(Op::softmax, x, axis);
}
Tensor log_softmax(const Tensor& x, int axis) {
  return softmax_op(Op::log_softmax, x, axis);
}

// ---- losses -----------------------------------------------------------------------------------------

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  const Op op = Op::cross_entropy;
  check_float(op, logits, "logits");
  check_defined(op, labels, "labels");
  check_ndim(op, logits, 2, "logits");
  NIDIM_CHECK(labels.dtype() == DType::i32 || labels.dtype() == DType::i64,
              "cross_entropy: labels must be int32 or int64, got {} {}", dtype_name(labels.dtype()),
              labels.shape());
  NIDIM_CHECK(labels.ndim() == 1 && labels.size(0) == logits.size(0),
              "cross_entropy: labels {} do not match logits {} (want [{}])", labels.shape(),
              logits.shape(), logits.size(0));
  NIDIM_CHECK(logits.size(0) > 0 && logits.size(1) > 0, "cross_entropy: empty logits {}",
              logits.shape());
  Tensor label32 = labels.dtype() == DType::i32 ? labels : cast(labels, DType::i32);
  Tensor loss = Tensor::empty(Shape(), logits.dtype(), logits.device());
  Tensor prob = empty_like(logits);
  run(op, Pass::forward, {logits, label32}, {loss, prob});
  record(loss, op, {logits}, [prob, label32](const Tensor& dloss, GradSlots& g) {
    Tensor dlogits = empty_like(prob);
    run(Op::cross_entropy, Pass::backward, {dloss, prob, label32}, {dlogits});
    g.set(0, dlogits);
  });
  return loss;
}

Tensor mse_loss(const Tensor& a, const Tensor& b) {
  const Op op = Op::mse;
  check_float(op, a, "a");
  check_float(op, b, "b");
  check_same_dtype(op, a, b);
  NIDIM_CHECK(a.shape() == b.shape(), "mse: shapes differ: {} and {}", a.shape(), b.shape());
  NIDIM_CHECK(a.numel() > 0, "mse: empty inputs {}", a.shape());
  Tensor loss = Tensor::empty(Shape(), a.dtype(), a.device());
  run(op, Pass::forward, {a, b}, {loss});
  record(loss, op, {a, b}, [a = a.detach(), b = b.detach()](const Tensor& dloss, GradSlots& g) {
    Tensor da = g.needs(0) ? empty_like(a) : Tensor();
    Tensor db = g.needs(1) ? empty_like(b) : Tensor();
    run(Op::mse, Pass::backward, {dloss, a, b}, {da, db});
    g.set(0, da);
    g.set(1, db);
  });
  return loss;
}

Tensor nt_xent(const Tensor& z, double temperature, int64_t tile_rows) {
  const Op op = Op::nt_xent;
  check_float(op, z, "z");
  NIDIM_CHECK(z.ndim() == 2 && z.size(0) >= 4 && z.size(0) % 2 == 0 && z.size(1) >= 1,
              "nt_xent: z must be [2B, D] with an even number of rows >= 4 and D >= 1, got {}",
              z.shape());
  NIDIM_CHECK(std::isfinite(temperature) && temperature > 0,
              "nt_xent: temperature must be finite and > 0, got {} (z {})", temperature, z.shape());
  NIDIM_CHECK(tile_rows >= 0, "nt_xent: tile_rows must be >= 0, got {} (z {})", tile_rows,
              z.shape());
  Tensor loss = Tensor::empty(Shape(), z.dtype(), z.device());
  Tensor lse = Tensor::empty({z.size(0)}, z.dtype(), z.device());
  OpParams p;
  p.f[0] = temperature;
  p.i[0] = tile_rows;
  run(op, Pass::forward, {z}, {loss, lse}, p);
  record(loss, op, {z}, [p, z = z.detach(), lse](const Tensor& dloss, GradSlots& g) {
    Tensor dz = empty_like(z);
    run(Op::nt_xent, Pass::backward, {dloss, z, lse}, {dz}, p);
    g.set(0, dz);
  });
  return loss;
}

// ---- images -----------------------------------------------------------------------------------------

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int stride, int padding) {
  const Op op = Op::conv2d;
  check_float(op, x, "input");
  check_float(op, w, "weight");
  check_same_dtype(op, x, w);
  check_ndim(op, x, 4, "input [N, C, H, W]");
  check_ndim(op, w, 4, "weight [O, C, KH, KW]");
  NIDIM_CHECK(x.size(1) == w.size(1), "conv2d: input {} has {} channels, weight {} expects {}",
              x.shape(), x.size(1), w.shape(), w.size(1));
  NIDIM_CHECK(stride >= 1 && padding >= 0, "conv2d: stride {} must be >= 1 and padding {} >= 0",
              stride, padding);
  if (bias.defined()) {
    check_same_dtype(op, x, bias);
    NIDIM_CHECK(bias.ndim() == 1 && bias.size(0) == w.size(0),
                "conv2d: bias {} does not match weight {} (want [{}])", bias.shape(), w.shape(),
                w.size(0));
  }
  const int64_t OH = (x.size(2) + 2 * padding - w.size(2)) / stride + 1;
  const int64_t OW = (x.size(3) + 2 * padding - w.size(3)) / stride + 1;
  NIDIM_CHECK(x.size(2) + 2 * padding >= w.size(2) && x.size(3) + 2 * padding >= w.size(3),
              "conv2d: input {} with padding {} is smaller than the kernel of weight {}", x.shape(),
              padding, w.shape());
  Tensor y = Tensor::empty({x.size(0), w.size(0), OH, OW}, x.dtype(), x.device());
  OpParams p;
  p.i[0] = stride;
  p.i[1] = padding;
  run(op, Pass::forward, {x, w, bias}, {y}, p);
  record(y, op, {x, w, bias},
         [p, x = x.detach(), w = w.detach(), has_bias = bias.defined(), bias_shape = bias.shape()](
             const Tensor& dy, GradSlots& g) {
           Tensor dx = g.needs(0) ? empty_like(x) : Tensor();
           Tensor dw = g.needs(1) ? empty_like(w) : Tensor();
           Tensor db =
               has_bias && g.needs(2) ? Tensor::empty(bias_shape, x.dtype(), x.device()) : Tensor();
           run(Op::conv2d, Pass::backward, {dy, x, w}, {dx, dw, db}, p);
           g.set(0, dx);
           g.set(1, dw);
           g.set(2, db);
         });
  return y;
}

namespace {
Tensor pool2d(Op op, const Tensor& x, int kernel, int stride, int padding) {
  check_float(op, x);
  check_ndim(op, x, 4, "input [N, C, H, W]");
  if (stride == 0) stride = kernel;
  NIDIM_CHECK(kernel >= 1 && stride >= 1, "{}: kernel {} and stride {} must be >= 1", op_name(op),
              kernel, stride);
  NIDIM_CHECK(padding >= 0 && 2 * padding <= kernel,
              "{}: padding {} must be between 0 and half the kernel {}", op_name(op), padding,
              kernel);
  NIDIM_CHECK(x.size(2) + 2 * padding >= kernel && x.size(3) + 2 * padding >= kernel,
              "{}: input {} is smaller than the window {} (padding {})", op_name(op), x.shape(),
              kernel, padding);
  const int64_t OH = (x.size(2) + 2 * padding - kernel) / stride + 1;
  const int64_t OW = (x.size(3) + 2 * padding - kernel) / stride + 1;
  Tensor y = Tensor::empty({x.size(0), x.size(1), OH, OW}, x.dtype(), x.device());
  OpParams p;
  p.i[0] = kernel;
  p.i[1] = stride;
  p.i[2] = padding;
  Tensor index;
  if (op == Op::max_pool2d) {
    index = Tensor::empty(y.shape(), DType::i32, x.device());
    run(op, Pass::forward, {x}, {y, index}, p);
  } else {
    run(op, Pass::forward, {x}, {y}, p);
  }
  record(y, op, {x},
         [op, p, index, shape = x.shape(), dtype = x.dtype()](const Tensor& dy, GradSlots& g) {
           Tensor dx = Tensor::empty(shape, dtype, dy.device());
           if (op == Op::max_pool2d)
             run(op, Pass::backward, {dy, index}, {dx}, p);
           else
             run(op, Pass::backward, {dy}, {dx}, p);
           g.set(0, dx);
         });
  return y;
}
}  // namespace

Tensor avg_pool2d(const Tensor& x, int kernel, int stride, int padding) {
  return pool2d(Op::avg_pool2d, x, kernel, stride, padding);
}
Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding) {
  return pool2d(Op::max_pool2d, x, kernel, stride, padding);
}

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                  Tensor running_var, bool training, double momentum, double eps) {
  const Op op = Op::batch_norm;
  check_float(op, x);
  NIDIM_CHECK(x.ndim() >= 2, "batch_norm: input must be [N, C], [N, C, L] or [N, C, H, W], got {}",
              x.shape());
  const int64_t C = x.size(1);
  for (const Tensor* t :
       std::initializer_list<const Tensor*>{&weight, &bias, &running_mean, &running_var}) {
    if (!t->defined()) continue;
    check_same_dtype(op, x, *t);
    NIDIM_CHECK(t->ndim() == 1 && t->size(0) == C,
                "batch_norm: parameter or statistic {} does not match input {} (want [{}])",
                t->shape(), x.shape(), C);
  }
  NIDIM_CHECK(running_mean.defined() == running_var.defined(),
              "batch_norm: give both running_mean and running_var, or neither");
  NIDIM_CHECK(training || running_mean.defined(),
              "batch_norm: evaluation mode needs running statistics");
  const int64_t per_channel = x.numel() / std::max<int64_t>(C, 1);
  NIDIM_CHECK(!training || per_channel > 1,
              "batch_norm: training needs more than one value per channel, input {}", x.shape());
  NIDIM_CHECK(eps > 0, "batch_norm: eps must be positive, got {}", eps);
  Tensor y = empty_like(x);
  Tensor saved_mean = Tensor::empty({C}, x.dtype(), x.device());
  Tensor saved_invstd = Tensor::empty({C}, x.dtype(), x.device());
  OpParams p;
  p.i[0] = training;
  p.f[0] = momentum;
  p.f[1] = eps;
  run(op, Pass::forward, {x, weight, bias, running_mean, running_var},
      {y, saved_mean, saved_invstd}, p);
  record(
      y, op, {x, weight, bias},
      [p, x = x.detach(), w = weight.detach(), saved_mean, saved_invstd](const Tensor& dy,
                                                                         GradSlots& g) {
        Tensor dx = g.needs(0) ? empty_like(x) : Tensor();
        Tensor dw = g.needs(1) ? empty_like(w) : Tensor();
        Tensor db =
            g.needs(2) ? Tensor::empty(saved_mean.shape(), x.dtype(), x.device()) : Tensor();
        run(Op::batch_norm, Pass::backward, {dy, x, w, saved_mean, saved_invstd}, {dx, dw, db}, p);
        g.set(0, dx);
        g.set(1, dw);
        g.set(2, db);
      });
  return y;
}

// ---- shape and layout -----------------------------------------------------------------------------

Tensor reshape(const Tensor& x, const std::vector<int64_t>& dims) {
  const Op op = Op::reshape;
  check_defined(op, x, "input");
  std::vector<int64_t> d = dims;
  int infer = -1;
  int64_t known = 1;
  for (size_t k = 0; k < d.size(); ++k) {
    if (d[k] == -1) {
      NIDIM_CHECK(infer < 0, "reshape: more than one -1 in the target shape for {}", x.shape());
      infer = static_cast<int>(k);
    } else {
      NIDIM_CHECK(d[k] >= 0, "reshape: negative dimension {} for {}", d[k], x.shape());
      known *= d[k];
    }
  }
  if (infer >= 0) {
    NIDIM_CHECK(known > 0 && x.numel() % known == 0,
                "reshape: cannot infer -1 reshaping {} ({} "
                "elements)",
                x.shape(), x.numel());
    d[static_cast<size_t>(infer)] = x.numel() / known;
  }
  const Shape target(d);
  NIDIM_CHECK(target.numel() == x.numel(), "reshape: {} has {} elements, target {} has {}",
              x.shape(), x.numel(), target, target.numel());
  Tensor y = x.view(target);
  record(y, op, {x},
         [shape = x.shape()](const Tensor& dy, GradSlots& g) { g.set(0, dy.view(shape)); });
  return y;
}

Tensor flatten(const Tensor& x) {
  check_defined(Op::reshape, x, "input");
  NIDIM_CHECK(x.ndim() >= 1, "flatten: needs a batch dimension, got a scalar");
  return reshape(x, {x.size(0), -1});
}

Tensor transpose(const Tensor& x) {
  const Op op = Op::transpose;
  check_defined(op, x, "input");
  check_ndim(op, x, 2, "input");
  Tensor y = Tensor::empty({x.size(1), x.size(0)}, x.dtype(), x.device());
  if (x.numel() > 0) run(op, Pass::forward, {x}, {y});
  record(y, op, {x}, [](const Tensor& dy, GradSlots& g) { g.set(0, transpose(dy)); });
  return y;
}

Tensor slice(const Tensor& x, int64_t begin, int64_t end) {
  const Op op = Op::slice;
  check_defined(op, x, "input");
  NIDIM_CHECK(x.ndim() >= 1, "slice: needs at least one dimension, got a scalar");
  NIDIM_CHECK(0 <= begin && begin <= end && end <= x.size(0),
              "slice: rows [{}, {}) out of range for {}", begin, end, x.shape());
  Tensor y = x.rows(begin, end);
  record(y, op, {x},
         [begin, end, shape = x.shape(), dtype = x.dtype()](const Tensor& dy, GradSlots& g) {
           Tensor dx = zeros(shape, dtype, dy.device());
           Tensor rows = dx.rows(begin, end);
           copy_bytes(rows.raw(), rows.device(), dy.raw(), dy.device(), dy.nbytes());
           g.set(0, dx);
         });
  return y;
}

Tensor concat(const std::vector<Tensor>& parts, int axis) {
  const Op op = Op::concat;
  NIDIM_CHECK(!parts.empty(), "concat: no tensors to join");
  const Tensor& first = parts[0];
  check_defined(op, first, "part 0");
  const int ax = normalize_axis(op, first, axis);
  std::vector<int64_t> dims = first.shape().dims();
  dims[static_cast<size_t>(ax)] = 0;
  for (size_t k = 0; k < parts.size(); ++k) {
    const Tensor& t = parts[k];
    check_defined(op, t, "a part");
    NIDIM_CHECK(t.dtype() == first.dtype(), "concat: part {} is {}, part 0 is {}", k,
                dtype_name(t.dtype()), dtype_name(first.dtype()));
    NIDIM_CHECK(t.ndim() == first.ndim(), "concat: part {} has shape {}, part 0 has {}", k,
                t.shape(), first.shape());
    for (int d = 0; d < t.ndim(); ++d)
      NIDIM_CHECK(d == ax || t.size(d) == first.size(d),
                  "concat: part {} has shape {}, part 0 has {}; they may differ only in axis {}", k,
                  t.shape(), first.shape(), ax);
    dims[static_cast<size_t>(ax)] += t.size(ax);
  }
  Tensor y = Tensor::empty(Shape(dims), first.dtype(), first.device());
  OpParams p;
  p.i[0] = ax;
  run(op, Pass::forward, parts, {y}, p);
  std::vector<Shape> shapes;
  for (const Tensor& t : parts) shapes.push_back(t.shape());
  record(y, op, parts, [p, shapes](const Tensor& dy, GradSlots& g) {
    std::vector<Tensor> dparts;
    for (const Shape& s : shapes) dparts.push_back(Tensor::empty(s, dy.dtype(), dy.device()));
    run(Op::concat, Pass::backward, {dy}, dparts, p);
    for (size_t k = 0; k < dparts.size(); ++k)
      if (g.needs(k)) g.set(k, dparts[k]);
  });
  return y;
}

// ---- parameter updates ------------------------------------------------------------------------------

void sgd_step(Tensor& param, const Tensor& grad, Tensor& buf, const SgdStep& s) {
  const Op op = Op::sgd_step;
  check_float(op, param, "parameter");
  check_float(op, grad, "gradient");
  NIDIM_CHECK(param.shape() == grad.shape() && param.dtype() == grad.dtype(),
              "sgd_step: gradient {} does not match parameter {}", grad.str(), param.str());
  if (s.momentum != 0)
    NIDIM_CHECK(buf.defined() && buf.shape() == param.shape(),
                "sgd_step: momentum buffer {} does not match parameter {}", buf.str(), param.str());
  OpParams p;
  p.f[0] = s.lr;
  p.f[1] = s.momentum;
  p.f[2] = s.dampening;
  p.f[3] = s.weight_decay;
  p.f[4] = s.grad_scale;
  p.i[0] = s.nesterov;
  p.i[1] = s.first;
  run(op, Pass::forward, {param, grad, s.momentum != 0 ? buf : Tensor()}, {}, p);
}

void adam_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamStep& s) {
  const Op op = Op::adam_step;
  check_float(op, param, "parameter");
  for (const Tensor* t : std::initializer_list<const Tensor*>{&grad, &m, &v})
    NIDIM_CHECK(t->defined() && t->shape() == param.shape() && t->dtype() == param.dtype(),
                "adam_step: state {} does not match parameter {}", t->str(), param.str());
  NIDIM_CHECK(s.step >= 1, "adam_step: step counts from 1, got {}", s.step);
  OpParams p;
  p.f[0] = s.lr;
  p.f[1] = s.beta1;
  p.f[2] = s.beta2;
  p.f[3] = s.eps;
  p.f[4] = s.weight_decay;
  p.i[0] = s.step;
  p.i[1] = s.decoupled;
  run(op, Pass::forward, {param, grad, m, v}, {}, p);
}

}  // namespace nidim
