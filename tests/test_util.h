// nidim/tests/test_util.h: helpers shared by the test suites: reading JSON fixtures, making
// tensors from them, and comparing tensors with an explained tolerance.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/tensor.h"

namespace nidim::test {

inline nlohmann::json load_fixture(const std::string& relative) {
  const std::string path = std::string(NIDIM_FIXTURES) + "/" + relative;
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "missing fixture " << path);
  return nlohmann::json::parse(in);
}

// {"shape": [...], "data": [...]} -> tensor of `dtype`.
inline Tensor tensor_from_json(const nlohmann::json& j, DType dtype = DType::f64) {
  const std::vector<int64_t> shape = j.at("shape").get<std::vector<int64_t>>();
  const std::vector<double> data = j.at("data").get<std::vector<double>>();
  if (dtype == DType::f64) return Tensor::from_vector(data, Shape(shape));
  std::vector<float> f(data.begin(), data.end());
  return Tensor::from_vector(f, Shape(shape));
}

inline std::vector<double> values(const Tensor& t) {
  if (t.dtype() == DType::f64) return t.to_vector<double>();
  const std::vector<float> f = t.to(Device::cpu()).to_vector<float>();
  return std::vector<double>(f.begin(), f.end());
}

// Every |a - e| <= atol + rtol * |e|; reports the first failures with their index.
inline void check_close(const std::vector<double>& actual, const std::vector<double>& expected,
                        double rtol, double atol, const std::string& what) {
  REQUIRE_MESSAGE(actual.size() == expected.size(),
                  what << ": " << actual.size() << " values, expected " << expected.size());
  int reported = 0;
  size_t bad = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double err = std::fabs(actual[i] - expected[i]);
    if (!(err <= atol + rtol * std::fabs(expected[i]))) {
      ++bad;
      if (reported++ < 5)
        FAIL_CHECK(what << "[" << i << "] = " << actual[i] << ", expected " << expected[i]
                        << " (error " << err << ")");
    }
  }
  CHECK_MESSAGE(bad == 0, what << ": " << bad << " of " << actual.size() << " values off");
}

inline void check_close(const Tensor& actual, const nlohmann::json& expected, double rtol,
                        double atol, const std::string& what) {
  REQUIRE(actual.defined());
  CHECK_MESSAGE(actual.shape().dims() == expected.at("shape").get<std::vector<int64_t>>(),
                what << ": shape " << actual.shape().str());
  check_close(values(actual), expected.at("data").get<std::vector<double>>(), rtol, atol, what);
}

// Runs f and checks that it throws nidim::Error whose message contains every fragment.
template <class F>
void check_error(F&& f, const std::vector<std::string>& fragments) {
  bool thrown = false;
  try {
    f();
  } catch (const Error& e) {  // any other exception fails the test as unexpected
    thrown = true;
    const std::string msg = e.what();
    for (const std::string& frag : fragments)
      CHECK_MESSAGE(msg.find(frag) != std::string::npos,
                    "error message '" << msg << "' lacks '" << frag << "'");
  }
  CHECK_MESSAGE(thrown,
                "expected an error mentioning '" << (fragments.empty() ? "" : fragments[0]) << "'");
}

// A named pipe at `path` (mkfifo) that nobody writes to: a reader that opens it waits forever.
// So that a test of code that wrongly opens it fails instead of hanging, a thread opens it for
// writing and closes it again once a reader is there (the reader then sees an empty file), until
// the object is destroyed or `patience` has passed.
class UnwrittenPipe {
 public:
  explicit UnwrittenPipe(const std::string& path,
                         std::chrono::milliseconds patience = std::chrono::seconds(20))
      : m_path(path) {
    ::unlink(path.c_str());
    REQUIRE_MESSAGE(::mkfifo(path.c_str(), 0600) == 0, "mkfifo " << path);
    m_thread = std::thread([this, patience] {
      const auto end = std::chrono::steady_clock::now() + patience;
      while (!m_done && std::chrono::steady_clock::now() < end) {
        const int fd = ::open(m_path.c_str(), O_WRONLY | O_NONBLOCK);  // ENXIO: no reader yet
        if (fd >= 0) ::close(fd);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  ~UnwrittenPipe() {
    m_done = true;
    m_thread.join();
    ::unlink(m_path.c_str());
  }
  UnwrittenPipe(const UnwrittenPipe&) = delete;
  UnwrittenPipe& operator=(const UnwrittenPipe&) = delete;

 private:
  std::string m_path;
  std::atomic<bool> m_done{false};
  std::thread m_thread;
};

// "[[[...0...]]]": a JSON value nested `depth` deep.
inline std::string nested_json_array(int64_t depth) {
  return std::string(static_cast<size_t>(depth), '[') + "0" +
         std::string(static_cast<size_t>(depth), ']');
}

}  // namespace nidim::test
