// nidim/tests/data/helpers.h: scratch folders, byte builders and error matchers shared by the
// data suites. Tests make every file they read (IDX, CIFAR, .npy) in a scratch folder under the
// system's temp directory, removed when the suite exits.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "core/error.h"
#include "core/io.h"

namespace nidim_test {

// A per-process scratch folder, created on first use and removed at exit.
inline const std::string& scratch_dir() {
  struct Dir {
    std::string path;
    Dir() {
      path = (std::filesystem::temp_directory_path() /
              ("nidim_test_data_" + std::to_string(::getpid())))
                 .string();
      std::filesystem::create_directories(path);
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static Dir dir;
  return dir.path;
}

inline std::string scratch(const std::string& name) {
  return scratch_dir() + "/" + name;
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  nidim::write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

inline void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}

// Runs `fn`, which must throw nidim::Error; returns its message ("" and a failed check if it
// did not throw).
template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const nidim::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL_CHECK("threw a non-nidim exception: " << e.what());
    return e.what();
  }
  FAIL_CHECK("expected a nidim::Error");
  return "";
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Error messages are one line: no newline anywhere.
inline bool one_line(const std::string& text) {
  return text.find('\n') == std::string::npos;
}

}  // namespace nidim_test

#include <zlib.h>

namespace nidim_test {

// gzip-compresses `bytes` with zlib's deflate (gzip wrapper), the test's own encoder.
inline std::vector<uint8_t> gzip_bytes(const std::vector<uint8_t>& bytes, int level = 6) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::vector<uint8_t> out(deflateBound(&zs, static_cast<uLong>(bytes.size())) + 64);
  zs.next_in = const_cast<Bytef*>(bytes.data());
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// An IDX image file: magic 2051, sizes n, rows, cols, then pixel(i, r, c) for each.
template <class Pixel>
std::vector<uint8_t> idx_images_bytes(uint32_t n, uint32_t rows, uint32_t cols, Pixel pixel,
                                      uint32_t magic = 2051) {
  std::vector<uint8_t> b;
  put_be32(b, magic);
  put_be32(b, n);
  put_be32(b, rows);
  put_be32(b, cols);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t r = 0; r < rows; ++r)
      for (uint32_t c = 0; c < cols; ++c) b.push_back(static_cast<uint8_t>(pixel(i, r, c)));
  return b;
}

inline std::vector<uint8_t> idx_labels_bytes(const std::vector<uint8_t>& labels,
                                             uint32_t magic = 2049) {
  std::vector<uint8_t> b;
  put_be32(b, magic);
  put_be32(b, static_cast<uint32_t>(labels.size()));
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

}  // namespace nidim_test
