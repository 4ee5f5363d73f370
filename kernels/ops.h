// nidim/kernels/ops.h: the ops users call, with automatic differentiation.
//
// Each function validates its arguments (an error names the op and the shapes), allocates the
// result on the inputs' device, runs the kernel through dispatch(), and, when grad mode is on
// and an input requires a gradient, records a node whose backward function runs the op's
// backward kernel. Semantics follow PyTorch's functions of the same name unless a comment says
// otherwise. Shapes: at most 4 dimensions; axes may be negative.
#pragma once

#include <utility>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"

namespace nidim {

// ---- creation -----------------------------------------------------------------------------------
Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
            Device device = Device::cpu());
Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor zeros_like(const Tensor& x);
Tensor ones_like(const Tensor& x);
Tensor full_like(const Tensor& x, double value);
// A 0-dimensional tensor holding `value`.
Tensor scalar(double value, DType dtype = DType::f32, Device device = Device::cpu());
// Uniform on [low, high) and normal, from the generator's Philox stream (core/philox.h); the
// generator's offset advances by the words used.
Tensor rand(const Shape& shape, Generator& gen, double low = 0, double high = 1,
            DType dtype = DType::f32, Device device = Device::cpu());
Tensor randn(const Shape& shape, Generator& gen, double mean = 0, double stddev = 1,
             DType dtype = DType::f32, Device device = Device::cpu());
// Conversion between dtypes (values are converted, not rescaled). Not differentiable.
Tensor cast(const Tensor& x, DType dtype);

// ---- linear algebra -------------------------------------------------------------------------------
// op(a) [M, K] times op(b) [K, N], where op(x) is x or, when its flag is set, x transposed.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// ---- element-wise ---------------------------------------------------------------------------------
// Binary ops broadcast as numpy does: shapes are aligned on the right and each dimension must be
// equal or 1 in one of the operands (scalars, rows [1, D] and columns [M, 1] included).
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor abs(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor erf(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
// With a number on either side: the number becomes a scalar tensor of x's dtype and device.
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

// ---- reductions -------------------------------------------------------------------------------------
Tensor sum(const Tensor& x);  // all elements: a 0-dimensional tensor
Tensor sum(const Tensor& x, int axis, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, int axis, bool keepdim = false);
// Maximum along an axis; the gradient goes to the first maximal element.
Tensor max(const Tensor& x, int axis, bool keepdim = false);
// Values and their positions (int64) along the axis.
std::pair<Tensor, Tensor> max_with_index(const Tensor& x, int axis, bool keepdim = false);
Tensor logsumexp(const Tensor& x, int axis, bool keepdim = false);
Tensor softmax(const Tensor& x, int axis = -1);
Tensor log_softmax(const Tensor& x, int axis = -1);

// ---- losses -------------------------------------------------------------------------------------------
// Mean over rows of -log softmax(logits)[label]; logits [N, C], labels [N] int32 or int64 in [0, C).
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);
// Mean of (a - b)^2; a and b have the same shape.
Tensor mse_loss(const Tensor& a, const Tensor& b);

// SimCLR's NT-Xent loss (normalized temperature-scaled cross-entropy) over the 2B views z
// [2B, D]: rows i and (i + B) mod 2B are the two views of one image. Rows are L2-normalized
// inside (as F.normalize, eps 1e-12; the normalization's gradient included), s_ij = <zn_i, zn_j> /
// temperature, and the result is the scalar
//   (1/2B) sum_i [ -s_{i,pos(i)} + log sum_{j != i} exp(s_ij) ],
// PyTorch's cross_entropy of the similarities with the diagonal masked out and labels pos(i).
// Fused with its gradient: rows are processed in tiles of tile_rows (0: chosen from 2B; other
// values are for tests), and no [2B, 2B] tensor outlives a tile (kernels/cpu/ntxent.cpp).
Tensor nt_xent(const Tensor& z, double temperature, int64_t tile_rows = 0);

// ---- images ---------------------------------------------------------------------------------------------
// x [N, C, H, W], weight [O, C, KH, KW], bias [O] or undefined; zero padding on every side.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride = 1,
              int padding = 0);
// Square windows; stride 0 means stride = kernel (PyTorch's default); padding <= kernel / 2.
Tensor avg_pool2d(const Tensor& x, int kernel, int stride = 0, int padding = 0);
Tensor max_pool2d(const Tensor& x, int kernel, int stride = 0, int padding = 0);
// x [N, C], [N, C, L] or [N, C, H, W]; weight, bias [C] or undefined (no affine transform);
// running_mean, running_var [C] are updated in place when training (undefined: not tracked) and
// used when not training.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                  Tensor running_var, bool training, double momentum = 0.1, double eps = 1e-5);

// ---- shape and layout -------------------------------------------------------------------------------------
// A view with another shape; one dimension may be -1 (inferred).
Tensor reshape(const Tensor& x, const std::vector<int64_t>& dims);
// [N, ...] -> [N, product of the rest].
Tensor flatten(const Tensor& x);
// 2-D transpose (a copy: tensors are always contiguous).
Tensor transpose(const Tensor& x);
// Rows [begin, end) of dimension 0, as a view.
Tensor slice(const Tensor& x, int64_t begin, int64_t end);
// Joins tensors whose shapes agree except along `axis`.
Tensor concat(const std::vector<Tensor>& parts, int axis);

// ---- in-place parameter updates (not recorded) ---------------------------------------------------------
struct SgdStep {
  double lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0;
  double grad_scale = 1;  // multiplies (grad + weight_decay * p); LARS's trust ratio
  bool nesterov = false;
  bool first = true;  // first step: the momentum buffer starts as the gradient
};
void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, const SgdStep& s);
struct AdamStep {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  int64_t step = 1;        // counted from 1
  bool decoupled = false;  // AdamW
};
void adam_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamStep& s);

}  // namespace nidim
