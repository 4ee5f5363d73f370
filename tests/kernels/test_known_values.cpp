// Known values: conv2d, pooling, batch-norm, cross-entropy, softmax family, NT-Xent, checked
// against PyTorch (tests/fixtures/kernels/make_kernel_fixtures.py, float64) in float64 and
// float32. NT-Xent's reference is torch's own composition (F.normalize, z z^T / tau, the diagonal
// masked with -inf, cross_entropy with labels (i + B) mod 2B), not a formula of ours.
//
// Tolerances: float64 runs the same arithmetic in a different order than PyTorch, so results
// agree to a few ulps of the largest partial sums: rtol 1e-10, atol 1e-11. float32 has unit
// roundoff 6e-8; sums of at most ~100 terms of magnitude <= ~5 stay within 2e-5 absolute.
// NT-Xent in float32: a similarity s = zn . zn / tau (|s| <= 1/tau = 14.3 at tau 0.07) carries an
// error of a few ulps of 1/tau, ~4e-6, which shifts the loss (~13) and each softmax weight by
// about that much relative: inside rtol 1e-5 + atol 2e-5 (measured: loss off by 4e-7, dz by
// 2e-7 at tau 0.07, where the bound is 1.5e-4 and 3.5e-5).
#include <doctest/doctest.h>

#include "kernels/ops.h"
#include "test_util.h"

using namespace nidim;
using nidim::test::check_close;
using nidim::test::tensor_from_json;

namespace {

struct Precision {
  DType dtype;
  double rtol, atol;
  const char* name;
};
const Precision precisions[] = {{DType::f64, 1e-10, 1e-11, "f64"}, {DType::f32, 1e-5, 2e-5, "f32"}};

Tensor leaf(const nlohmann::json& j, DType dtype) {
  Tensor t = tensor_from_json(j, dtype);
  t.set_requires_grad(true);
  return t;
}

// Backpropagates sum(y * g) so that gradients correspond to the fixture's upstream gradient g.
void backward_with(const Tensor& y, const nlohmann::json& g, DType dtype) {
  sum(y * tensor_from_json(g, dtype)).backward();
}

}  // namespace

TEST_CASE("known values against PyTorch") {
  const nlohmann::json fixture = nidim::test::load_fixture("kernels/kernels.json");
  for (const auto& [name, c] : fixture.at("cases").items()) {
    const std::string op = c.at("op");
    for (const Precision& pr : precisions) {
      const std::string what = name + " " + pr.name;
      CAPTURE(what);
      if (op == "conv2d") {
        Tensor x = leaf(c["x"], pr.dtype), w = leaf(c["w"], pr.dtype);
        Tensor b = c.contains("b") ? leaf(c["b"], pr.dtype) : Tensor();
        Tensor y = conv2d(x, w, b, c["stride"], c["padding"]);
        check_close(y, c["y"], pr.rtol, pr.atol, what + " y");
        backward_with(y, c["g"], pr.dtype);
        check_close(x.grad(), c["dx"], pr.rtol, pr.atol, what + " dx");
        check_close(w.grad(), c["dw"], pr.rtol, pr.atol, what + " dw");
        if (b.defined()) check_close(b.grad(), c["db"], pr.rtol, pr.atol, what + " db");
      } else if (op == "avg_pool2d" || op == "max_pool2d") {
        Tensor x = leaf(c["x"], pr.dtype);
        Tensor y = op == "avg_pool2d" ? avg_pool2d(x, c["kernel"], c["stride"], c["padding"])
                                      : max_pool2d(x, c["kernel"], c["stride"], c["padding"]);
        check_close(y, c["y"], pr.rtol, pr.atol, what + " y");
        backward_with(y, c["g"], pr.dtype);
        check_close(x.grad(), c["dx"], pr.rtol, pr.atol, what + " dx");
      } else if (op == "batch_norm") {
        Tensor x = leaf(c["x"], pr.dtype);
        Tensor w = c.contains("w") ? leaf(c["w"], pr.dtype) : Tensor();
        Tensor b = c.contains("b") ? leaf(c["b"], pr.dtype) : Tensor();
        Tensor rm = tensor_from_json(c["running_mean"], pr.dtype);
        Tensor rv = tensor_from_json(c["running_var"], pr.dtype);
        Tensor y = batch_norm(x, w, b, rm, rv, c["training"], c["momentum"], c["eps"]);
        check_close(y, c["y"], pr.rtol, pr.atol, what + " y");
        check_close(rm, c["running_mean_after"], pr.rtol, pr.atol, what + " running_mean");
        check_close(rv, c["running_var_after"], pr.rtol, pr.atol, what + " running_var");
        backward_with(y, c["g"], pr.dtype);
        check_close(x.grad(), c["dx"], pr.rtol, pr.atol, what + " dx");
        if (w.defined()) {
          check_close(w.grad(), c["dw"], pr.rtol, pr.atol, what + " dw");
          check_close(b.grad(), c["db"], pr.rtol, pr.atol, what + " db");
        }
      } else if (op == "cross_entropy") {
        Tensor logits = leaf(c["logits"], pr.dtype);
        const std::vector<int64_t> lab = c["labels"].get<std::vector<int64_t>>();
        Tensor labels = Tensor::from_vector(lab, {static_cast<int64_t>(lab.size())});
        Tensor loss = cross_entropy(logits, labels);
        check_close(nidim::test::values(loss), {c["loss"].get<double>()}, pr.rtol, pr.atol,
                    what + " loss");
        loss.backward();
        check_close(logits.grad(), c["dlogits"], pr.rtol, pr.atol, what + " dlogits");
      } else if (op == "nt_xent") {
        for (int64_t tile : {0, 3}) {  // one tile, and tiles of 3 rows (the last one partial)
          const std::string at = what + " tile " + std::to_string(tile);
          Tensor z = leaf(c["z"], pr.dtype);
          Tensor loss = nt_xent(z, c["temperature"], tile);
          check_close(nidim::test::values(loss), {c["loss"].get<double>()}, pr.rtol, pr.atol,
                      at + " loss");
          (loss * c["g"].get<double>()).backward();
          check_close(z.grad(), c["dz"], pr.rtol, pr.atol, at + " dz");
        }
      } else {
        Tensor x = leaf(c["x"], pr.dtype);
        const int axis = c["axis"];
        Tensor y = op == "softmax"       ? softmax(x, axis)
                   : op == "log_softmax" ? log_softmax(x, axis)
                                         : logsumexp(x, axis);
        check_close(y, c["y"], pr.rtol, pr.atol, what + " y");
        backward_with(y, c["g"], pr.dtype);
        check_close(x.grad(), c["dx"], pr.rtol, pr.atol, what + " dx");
      }
    }
  }
}
