// Autograd mechanics: accumulation into leaves, shared subexpressions, no-grad mode, freeing the
// graph, and refusing non-finite losses.
#include <doctest/doctest.h>

#include <cmath>

#include "core/autograd.h"
#include "kernels/ops.h"
#include "test_util.h"

using namespace nidim;
using nidim::test::check_close;
using nidim::test::check_error;

TEST_CASE("a variable used twice gets the sum of both gradients") {
  // y = x * x + 3x: dy/dx = 2x + 3.
  Tensor x = Tensor::from_vector<double>({1.0, -2.0, 0.5}, {3});
  x.set_requires_grad(true);
  sum(x * x + x * 3.0).backward();
  check_close(x.grad().to_vector<double>(), {5.0, -1.0, 4.0}, 1e-15, 0, "dx");
}

TEST_CASE("gradients accumulate across backward calls until zero_grad") {
  Tensor x = Tensor::from_vector<double>({2.0}, {1});
  x.set_requires_grad(true);
  sum(x * x).backward();
  sum(x * x).backward();
  check_close(x.grad().to_vector<double>(), {8.0}, 0, 0, "two backward calls");
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  sum(x * 5.0).backward();
  check_close(x.grad().to_vector<double>(), {5.0}, 0, 0, "after zero_grad");
}

TEST_CASE("a diamond graph visits each node once, after all its consumers") {
  // a = x + 1; b = a * a; c = a * 2; y = b + c: dy/dx = 2a + 2 = 2x + 4.
  Tensor x = Tensor::from_vector<double>({1.0, 3.0}, {2});
  x.set_requires_grad(true);
  Tensor a = x + 1.0;
  Tensor y = sum(a * a + a * 2.0);
  y.backward();
  check_close(x.grad().to_vector<double>(), {6.0, 10.0}, 0, 0, "dx");
}

TEST_CASE("no-grad mode records nothing") {
  Tensor x = ones({3}).set_requires_grad(true);
  {
    NoGradGuard guard;
    Tensor y = x * 2.0;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
  }
  CHECK((x * 2.0).requires_grad());
  Tensor c = ones({3});
  CHECK_FALSE((c * 2.0).requires_grad());  // no input requires a gradient
}

TEST_CASE("the graph is freed by backward and cannot be reused") {
  Tensor x = ones({3}).set_requires_grad(true);
  Tensor h = exp(x);
  Tensor loss = sum(h);
  loss.backward();
  CHECK(h.grad_fn()->released());
  CHECK(loss.grad_fn()->released());
  check_error([&] { loss.backward(); }, {"second time"});
}

TEST_CASE("the graph keeps only what backward functions read") {
  // A ResNet block's pattern: an intermediate read by no backward function (the batch-norm
  // output before a ReLU, the operands of a residual add) is freed with its last handle; a
  // parameter stays in the graph, which accumulates into it.
  Tensor w = full({4}, 2.0).set_requires_grad(true);
  Tensor h = w * 3.0;  // mul reads its operands: h is kept by no one but this handle...
  Tensor y = relu(h);  // ...once relu keeps only its output
  CHECK(h.storage_use_count() == 1);
  CHECK(w.storage_use_count() > 1);  // mul's backward function and the node hold the parameter
  Tensor r = y + h;                  // a same-shape add keeps neither operand
  CHECK(h.storage_use_count() == 1);
  CHECK(y.storage_use_count() == 2);  // this handle and relu's backward, which reads its output
  sum(exp(r)).backward();
  // d/dw sum(exp(relu(3w) + 3w)) = 6 exp(12) at w = 2.
  check_close(test::values(w.grad()), std::vector<double>(4, 6 * std::exp(12.0)), 1e-6, 0, "dw");
}

TEST_CASE("backward refuses non-scalars, constants and non-finite losses") {
  Tensor x = ones({3}).set_requires_grad(true);
  check_error([&] { (x * 2.0).backward(); }, {"scalar", "[3]"});
  check_error([&] { sum(ones({3})).backward(); }, {"does not require a gradient"});
  check_error([&] { sum(log(x - 1.0)).backward(); }, {"not finite", "-inf"});
  check_error([&] { sum(sqrt(x - 2.0)).backward(); }, {"not finite", "nan"});
  CHECK_FALSE(x.grad().defined());  // nothing was accumulated
}

TEST_CASE("leaves only: requires_grad cannot be set on computed tensors") {
  Tensor x = ones({2}).set_requires_grad(true);
  Tensor y = x * 2.0;
  check_error([&] { y.set_requires_grad(false); }, {"only leaves", "mul"});
  check_error([&] { Tensor::from_vector<int32_t>({1}, {1}).set_requires_grad(true); }, {"int32"});
  Tensor d = y.detach();
  CHECK(d.is_leaf());
  CHECK_FALSE(d.requires_grad());
  CHECK(d.shares_storage(y));
}
