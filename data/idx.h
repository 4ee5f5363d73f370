// nidim/data/idx.h: the IDX files of MNIST and Fashion-MNIST, plain or gzipped, and a gunzip.
//
// IDX layout (LeCun's MNIST page): a 4-byte big-endian magic 0x00 0x00 <type> <ndim>, then ndim
// big-endian uint32 sizes, then the elements. Images are magic 2051 (0x0803: uint8, 3 dims
// N×H×W), labels 2049 (0x0801: uint8, 1 dim N). Only these two kinds are read.
//
// Gzip is recognized by its magic bytes (1f 8b), not by the file name, and inflated with zlib
// (concatenated gzip members are accepted, as gunzip does). The readers check the magic, that
// every dimension is positive, and that the file holds exactly the announced bytes; each failure
// is a one-line nidim::Error naming the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nidim {

struct IdxImages {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // [count, rows, cols], row-major
};

IdxImages read_idx_images(const std::string& path);
std::vector<uint8_t> read_idx_labels(const std::string& path);  // [count]

// The same from bytes already in memory (decompressed); `name` is used in error messages.
IdxImages parse_idx_images(const uint8_t* bytes, size_t size, const std::string& name);
std::vector<uint8_t> parse_idx_labels(const uint8_t* bytes, size_t size, const std::string& name);

// Inflates a gzip stream; throws naming `name` when it is corrupt, truncated, or inflates to
// more than `max_bytes`.
std::vector<uint8_t> gunzip(const uint8_t* bytes, size_t size, const std::string& name,
                            size_t max_bytes = size_t(1) << 32);
// The file's bytes, inflated when they start with the gzip magic.
std::vector<uint8_t> read_file_maybe_gzip(const std::string& path);

}  // namespace nidim
