// nn: module naming and state_dict order, initializations, layers, optimizers against PyTorch,
// safetensors in both directions and on corrupt input, and two small learning problems.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "core/autograd.h"
#include "core/cuda_runtime.h"
#include "core/io.h"
#include "kernels/ops.h"
#include "nn/layers.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "test_util.h"

using namespace nidim;
using nidim::test::check_close;
using nidim::test::check_error;
using nidim::test::tensor_from_json;

namespace {

// Same layers, names and order as tests/fixtures/nn/torch_net.py's ExchangeNet.
std::shared_ptr<Sequential> make_exchange_net(Generator& gen) {
  auto net = std::make_shared<Sequential>();
  net->add("conv1", std::make_shared<Conv2d>(1, 4, 3, 1, 0, true, gen))
      .add("bn1", std::make_shared<BatchNorm2d>(4))
      .add("act", std::make_shared<LeakyReLU>(0.01))
      .add("pool", std::make_shared<AvgPool2d>(2))
      .add("flat", std::make_shared<Flatten>())
      .add("fc", std::make_shared<Linear>(36, 3, true, gen))
      .add("bn2", std::make_shared<BatchNorm1d>(3, 1e-5, 0.1, false));
  return net;
}

std::vector<std::string> keys(const NamedTensors& t) {
  std::vector<std::string> k;
  for (auto& [name, v] : t) k.push_back(name);
  return k;
}

}  // namespace

TEST_CASE("state_dict names and order are PyTorch's") {
  Generator gen(1);
  auto net = make_exchange_net(gen);
  const nlohmann::json ref = nidim::test::load_fixture("nn/torch_net.json");
  CHECK(keys(net->state_dict()) == ref["keys"].get<std::vector<std::string>>());
  CHECK(keys(net->named_parameters("encoder"))[0] == "encoder.conv1.weight");
  CHECK(keys(net->named_buffers())[0] == "bn1.running_mean");
  CHECK(net->parameter_count() == 4 * 9 + 4 + 4 + 4 + 36 * 3 + 3);
}

TEST_CASE("PyTorch's default initializations: Kaiming-uniform(a=sqrt 5) and bias bounds") {
  Generator gen(5);
  Linear lin(400, 300, true, gen);
  // U(-b, b) with b = 1/sqrt(400) = 0.05: every value inside, variance b^2/3 (120000 draws:
  // relative standard error of the variance ~ 0.4%, tolerance 3%).
  const std::vector<float> w = lin.weight().to_vector<float>();
  double ss = 0, mx = 0;
  for (float v : w) {
    ss += double(v) * v;
    mx = std::max(mx, std::fabs(double(v)));
  }
  CHECK(mx <= 0.05);
  CHECK(mx > 0.049);
  CHECK(ss / w.size() == doctest::Approx(0.05 * 0.05 / 3).epsilon(0.03));
  for (float v : lin.bias().to_vector<float>()) CHECK(std::fabs(v) <= 0.05);
  Conv2d conv(8, 16, 3, 1, 0, true, gen);  // fan_in = 72
  for (float v : conv.weight().to_vector<float>()) CHECK(std::fabs(v) <= 1 / std::sqrt(72.0));
  BatchNorm2d bn(4);
  CHECK(bn.running_var().to_vector<float>() == std::vector<float>{1, 1, 1, 1});
}

TEST_CASE("weights written by PyTorch load, and the network computes what PyTorch computed") {
  Generator gen(2);
  auto net = make_exchange_net(gen);
  Metadata meta;
  const std::string path = std::string(NIDIM_FIXTURES) + "/nn/torch_net.safetensors";
  NamedTensors loaded = load_safetensors(path, &meta);
  CHECK(meta.at("made_by") == "make_nn_fixtures.py");
  const nlohmann::json ref = nidim::test::load_fixture("nn/torch_net.json");
  for (auto& [name, t] : loaded) {
    CAPTURE(name);
    if (t.dtype() == DType::i64)
      CHECK(t.item() == ref["tensors"][name]["data"][0].get<double>());
    else
      check_close(t, ref["tensors"][name], 0, 0, name);  // float32 bytes: exact
  }
  load_module(path, *net);
  net->eval();
  // Eval-mode forward in float32: conv (9 terms), batch-norm, pooling, a 36-term linear layer
  // and batch-norm; 1e-5 relative + 1e-5 absolute covers float32 reordering.
  Tensor y = net->forward(tensor_from_json(ref["input"], DType::f32));
  check_close(y, ref["output"], 1e-5, 1e-5, "ExchangeNet output");
}

TEST_CASE("weights written by nidim: round trip, and a file for PyTorch to load") {
  Generator gen(3);
  auto net = make_exchange_net(gen);
  net->train();
  for (int i = 0; i < 2; ++i) net->forward(randn({8, 1, 8, 8}, gen));
  save_module("nidim_net.safetensors", *net, {{"made_by", "test_nn"}});
  auto other = make_exchange_net(gen);
  load_module("nidim_net.safetensors", *other);
  const NamedTensors a = net->state_dict(), b = other->state_dict();
  for (size_t i = 0; i < a.size(); ++i) {
    CAPTURE(a[i].first);
    CHECK(a[i].second.nbytes() == b[i].second.nbytes());
    CHECK(std::memcmp(a[i].second.raw(), b[i].second.raw(), a[i].second.nbytes()) == 0);
  }
  // For tests/nn/check_nidim_safetensors.py: an input and nidim's eval-mode output.
  net->eval();
  Tensor x = randn({2, 1, 8, 8}, gen);
  Tensor y = net->forward(x);
  nlohmann::json check = {
      {"input", {{"shape", x.shape().dims()}, {"data", nidim::test::values(x)}}},
      {"output", {{"shape", y.shape().dims()}, {"data", nidim::test::values(y)}}}};
  write_file_atomic("nidim_net.json", check.dump());
}

TEST_CASE("safetensors data start at multiples of their element size") {
  // torch.frombuffer(...).view(dtype) and memory-mapping readers need aligned tensors; the format
  // forbids gaps, so the writer orders the data by element size. Read the header back by hand.
  Generator gen(6);
  const NamedTensors tensors = {{"u", Tensor::from_vector(std::vector<uint8_t>{1, 2, 3}, {3})},
                                {"f", randn({3}, gen)},
                                {"i", Tensor::from_vector(std::vector<int64_t>{7, -8}, {2})},
                                {"d", ones({1}, DType::f64)}};
  save_safetensors("aligned.safetensors", tensors);
  const std::vector<uint8_t> bytes = read_file("aligned.safetensors");
  uint64_t n = 0;
  for (int k = 0; k < 8; ++k) n |= static_cast<uint64_t>(bytes[static_cast<size_t>(k)]) << (8 * k);
  CHECK(n % 8 == 0);
  const nlohmann::json header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + n);
  const std::map<std::string, uint64_t> size = {{"U8", 1}, {"F32", 4}, {"I64", 8}, {"F64", 8}};
  uint64_t covered = 0;
  for (const auto& [name, t] : tensors) {
    const nlohmann::json& e = header.at(name);
    const uint64_t begin = e["data_offsets"][0], end = e["data_offsets"][1];
    CAPTURE(name);
    CHECK(begin % size.at(e["dtype"].get<std::string>()) == 0);
    covered += end - begin;
  }
  CHECK(covered == bytes.size() - 8 - n);  // no gaps
  const NamedTensors loaded = load_safetensors("aligned.safetensors");
  for (const auto& [name, t] : tensors) {
    auto it =
        std::find_if(loaded.begin(), loaded.end(), [&](const auto& e) { return e.first == name; });
    REQUIRE(it != loaded.end());
    CHECK(nidim::test::values(cast(it->second, DType::f64)) ==
          nidim::test::values(cast(t, DType::f64)));
  }
}

TEST_CASE("corrupt safetensors files give errors naming the file") {
  Generator gen(4);
  save_safetensors("good.safetensors", {{"a", randn({3, 2}, gen)}, {"b", ones({4}, DType::f64)}});
  std::vector<uint8_t> good = read_file("good.safetensors");
  auto write = [](const std::string& path, const std::vector<uint8_t>& bytes) {
    write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
  };
  // Truncated inside the data.
  write("bad.safetensors", std::vector<uint8_t>(good.begin(), good.end() - 5));
  check_error([] { load_safetensors("bad.safetensors"); },
              {"bad.safetensors", "outside", "truncated"});
  // Shorter than the length prefix.
  write("bad.safetensors", {1, 2, 3});
  check_error([] { load_safetensors("bad.safetensors"); }, {"bad.safetensors", "8-byte"});
  // Header length larger than the file.
  std::vector<uint8_t> big = good;
  big[0] = 0xff;
  big[1] = 0xff;
  write("bad.safetensors", big);
  check_error([] { load_safetensors("bad.safetensors"); }, {"bad.safetensors", "header length"});
  // Not JSON.
  std::vector<uint8_t> junk = good;
  junk[8] = '#';
  write("bad.safetensors", junk);
  check_error([] { load_safetensors("bad.safetensors"); }, {"bad.safetensors", "JSON"});
  // Handmade headers: unsupported dtype, size not matching the shape, overlapping tensors.
  auto handmade = [&](const std::string& header, size_t data_bytes) {
    std::vector<uint8_t> f(8, 0);
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) f[static_cast<size_t>(i)] = static_cast<uint8_t>(n >> (8 * i));
    f.insert(f.end(), header.begin(), header.end());
    f.insert(f.end(), data_bytes, 0);
    write("bad.safetensors", f);
  };
  handmade(R"({"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})", 4);
  check_error([] { load_safetensors("bad.safetensors"); }, {"bad.safetensors", "'w'", "BF16"});
  handmade(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 24);
  check_error([] { load_safetensors("bad.safetensors"); }, {"bad.safetensors", "'w'", "[2, 3]"});
  handmade(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      12);
  check_error([] { load_safetensors("bad.safetensors"); }, {"bad.safetensors", "overlap"});
  handmade(R"({"a":{"dtype":"F32","shape":[1,1,1,1,1],"data_offsets":[0,4]}})", 4);
  check_error([] { load_safetensors("bad.safetensors"); }, {"bad.safetensors", "5 dimensions"});
  check_error([] { load_safetensors("missing.safetensors"); },
              {"missing.safetensors", "cannot open"});
  // Found by fuzzing. A shape nested 300 000 deep: printing it overflowed the stack; the parse
  // now stops at 64 levels.
  handmade(R"({"a":{"dtype":"F32","shape":)" + test::nested_json_array(300000) +
               R"(,"data_offsets":[0,0]}})",
           0);
  check_error([] { load_safetensors("bad.safetensors"); },
              {"bad.safetensors", "nested deeper than 64 levels"});
  // A nested but shallow dimension is named by a short excerpt.
  handmade(R"({"a":{"dtype":"F32","shape":[)" + test::nested_json_array(40) +
               R"(],"data_offsets":[0,0]}})",
           0);
  check_error([] { load_safetensors("bad.safetensors"); },
              {"bad.safetensors", "'a'", "invalid dimension [[[[", "..."});
  // No elements, but 2^32 * 2^31 overflows int64 before the 0 (undefined behaviour in numel).
  handmade(R"({"a":{"dtype":"F32","shape":[4294967296,2147483648,0],"data_offsets":[0,0]}})", 0);
  check_error([] { load_safetensors("bad.safetensors"); },
              {"bad.safetensors", "'a'", "overflows int64"});
  // A file of another model: the error names the key.
  Generator g2(5);
  Linear lin(3, 2, true, g2);
  save_module("linear.safetensors", lin);
  auto net = make_exchange_net(g2);
  check_error([&] { load_module("linear.safetensors", *net); },
              {"linear.safetensors", "missing key 'conv1.weight'"});
  Linear wrong(4, 2, true, g2);
  check_error([&] { load_module("linear.safetensors", wrong); },
              {"linear.safetensors", "'weight'", "[2, 3]", "[2, 4]"});
  for (const char* f : {"good.safetensors", "bad.safetensors", "linear.safetensors"})
    std::remove(f);
}

TEST_CASE("optimizers take PyTorch's first steps") {
  const nlohmann::json ref = nidim::test::load_fixture("nn/optim.json");
  const Tensor x = tensor_from_json(ref["x"], DType::f32),
               t = tensor_from_json(ref["t"], DType::f32);
  for (const auto& [name, run] : ref["runs"].items()) {
    CAPTURE(name);
    Tensor w = tensor_from_json(ref["w0"], DType::f32).set_requires_grad(true);
    Tensor b = tensor_from_json(ref["b0"], DType::f32).set_requires_grad(true);
    const nlohmann::json& o = run["options"];
    const std::string kind = run["kind"];
    std::unique_ptr<Optimizer> opt;
    if (kind == "SGD") {
      SgdOptions s;
      s.lr = o["lr"];
      s.momentum = o.value("momentum", 0.0);
      s.dampening = o.value("dampening", 0.0);
      s.weight_decay = o.value("weight_decay", 0.0);
      s.nesterov = o.value("nesterov", false);
      opt = std::make_unique<SGD>(std::vector<Tensor>{w, b}, s);
    } else if (kind == "Adam" || kind == "AdamW") {
      AdamOptions a = kind == "AdamW" ? adamw_options(o["lr"], o["weight_decay"]) : AdamOptions();
      a.lr = o["lr"];
      a.weight_decay = o.value("weight_decay", kind == "AdamW" ? 0.01 : 0.0);
      if (o.contains("betas")) a.beta1 = o["betas"][0], a.beta2 = o["betas"][1];
      a.eps = o.value("eps", 1e-8);
      opt = std::make_unique<Adam>(std::vector<Tensor>{w, b}, a);
    } else {
      LarsOptions l;
      l.lr = o["lr"];
      l.weight_decay = o["weight_decay"];
      l.momentum = o["momentum"];
      l.eta = o["eta"];
      opt = std::make_unique<LARS>(std::vector<Tensor>{w, b}, l);
    }
    for (size_t step = 0; step < run["steps"].size(); ++step) {
      opt->zero_grad();
      mse_loss(matmul(x, w, false, true) + b, t).backward();
      opt->step();
      // float32 with a loss summed in a different order than PyTorch's: parameters agree to a
      // few ulps of their size per step (rtol 1e-5 after three steps, atol 1e-6).
      check_close(w, run["steps"][step]["w"], 1e-5, 1e-6,
                  name + " w step " + std::to_string(step + 1));
      check_close(b, run["steps"][step]["b"], 1e-5, 1e-6,
                  name + " b step " + std::to_string(step + 1));
    }
  }
}

TEST_CASE("optimizer state survives a save and restore") {
  Generator gen(6);
  Tensor w = randn({3, 3}, gen).set_requires_grad(true);
  Tensor w2 = w.detach().clone().set_requires_grad(true);
  Adam a({w}, AdamOptions()), b({w2}, AdamOptions());
  auto step = [](Adam& opt, Tensor& p) {
    opt.zero_grad();
    sum(p * p * p).backward();
    opt.step();
  };
  step(a, w);
  step(a, w);
  step(b, w2);
  step(b, w2);
  // Restore b's state into a fresh optimizer: the next step must match a's exactly.
  NamedTensors saved = b.state();
  Adam c({w2}, AdamOptions());
  c.load_state(saved);
  step(a, w);
  step(c, w2);
  CHECK(w.to_vector<float>() == w2.to_vector<float>());
}

TEST_CASE("an MLP learns XOR") {
  Generator gen(11);
  Sequential mlp;
  mlp.add(std::make_shared<Linear>(2, 8, true, gen))
      .add(std::make_shared<Tanh>())
      .add(std::make_shared<Linear>(8, 2, true, gen));
  Tensor x = Tensor::from_vector<float>({0, 0, 0, 1, 1, 0, 1, 1}, {4, 2});
  Tensor y = Tensor::from_vector<int32_t>({0, 1, 1, 0}, {4});
  Adam opt(mlp.parameters(), AdamOptions{0.05});
  double loss = 0;
  for (int i = 0; i < 300; ++i) {
    opt.zero_grad();
    Tensor l = cross_entropy(mlp(x), y);
    loss = l.item();
    l.backward();
    opt.step();
  }
  CHECK(loss < 0.05);
  const std::vector<int64_t> pred = max_with_index(mlp(x), 1).second.to_vector<int64_t>();
  CHECK(pred == std::vector<int64_t>{0, 1, 1, 0});
}

TEST_CASE("a small ConvNet overfits one batch of synthetic images") {
  // 32 images of 12x12 noise, 4 arbitrary classes: only memorization can fit them.
  Generator gen(12);
  Tensor images = randn({32, 1, 12, 12}, gen);
  std::vector<int32_t> labels(32);
  for (int i = 0; i < 32; ++i) labels[static_cast<size_t>(i)] = (i * 7) % 4;
  Tensor y = Tensor::from_vector(labels, {32});
  Sequential net;
  net.add(std::make_shared<Conv2d>(1, 8, 3, 1, 0, true, gen))
      .add(std::make_shared<BatchNorm2d>(8))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<MaxPool2d>(2))
      .add(std::make_shared<Conv2d>(8, 16, 3, 1, 0, true, gen))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<AvgPool2d>(2))
      .add(std::make_shared<Flatten>())
      .add(std::make_shared<Linear>(16, 4, true, gen));
  Adam opt(net.parameters(), AdamOptions{0.01});
  for (int i = 0; i < 150; ++i) {
    opt.zero_grad();
    cross_entropy(net(images), y).backward();
    opt.step();
  }
  net.eval();
  const std::vector<int64_t> pred = max_with_index(net(images), 1).second.to_vector<int64_t>();
  int correct = 0;
  for (int i = 0; i < 32; ++i)
    correct += pred[static_cast<size_t>(i)] == labels[static_cast<size_t>(i)];
  CHECK(correct == 32);
}

TEST_CASE("moving a module keeps its handles: layers, optimizers and state_dict see one tensor") {
  Generator gen(13);
  Linear lin(3, 2, true, gen);
  Tensor w = lin.weight();
  Adam opt(lin.parameters(), AdamOptions{});
  lin.to(Device::cpu());  // same device: nothing moves
  CHECK(lin.weight().shares_storage(w));
  CHECK(lin.device().is_cpu());
  // Moving to a device this machine lacks fails with the device named, before anything changes.
  if (cuda_device_count() == 0) {
    check_error([&] { lin.to(Device::cuda()); }, {"cuda"});
    CHECK(lin.weight().device().is_cpu());
  }
  Tensor x = Tensor::from_vector<float>({1, 2, 3}, {1, 3});
  Tensor y = lin(x);
  CHECK(y.shape() == Shape{1, 2});
  check_error([&] { (y * 2.0).move_to(Device::cpu()); }, {"only leaves"});
}
