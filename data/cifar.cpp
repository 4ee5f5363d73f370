// nidim/data/cifar.cpp: see cifar.h.
#include "data/cifar.h"

#include <algorithm>

#include "core/error.h"
#include "core/io.h"

namespace nidim {

namespace {

// label_bytes = 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine).
void parse_records(const uint8_t* bytes, size_t size, const std::string& name, int label_bytes,
                   CifarRecords& out) {
  const size_t record = static_cast<size_t>(label_bytes) + cifar_image_bytes;
  const char* kind = label_bytes == 1 ? "CIFAR-10" : "CIFAR-100";
  NIDIM_CHECK(size > 0, "{}: empty file (expected {}-byte {} records)", name, record, kind);
  NIDIM_CHECK(size % record == 0,
              "{}: {} bytes is not a whole number of {}-byte {} records ({} whole, {} bytes left "
              "over: truncated or not a {} file)",
              name, size, record, kind, size / record, size % record, kind);
  const int64_t n = static_cast<int64_t>(size / record);
  // Check every label before touching `out`, so a bad file leaves it as it was.
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* r = bytes + static_cast<size_t>(i) * record;
    if (label_bytes == 1) {
      NIDIM_CHECK(r[0] < 10, "{}: record {}: label {} outside the CIFAR-10 classes 0..9", name, i,
                  r[0]);
    } else {
      NIDIM_CHECK(r[0] < 20,
                  "{}: record {}: coarse label {} outside the CIFAR-100 superclasses 0..19", name,
                  i, r[0]);
      NIDIM_CHECK(r[1] < 100, "{}: record {}: fine label {} outside the CIFAR-100 classes 0..99",
                  name, i, r[1]);
    }
  }
  const size_t base = static_cast<size_t>(out.count);
  out.images.resize((base + n) * cifar_image_bytes);
  out.labels.resize(base + n);
  if (label_bytes == 2) out.coarse_labels.resize(base + n);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* r = bytes + static_cast<size_t>(i) * record;
    out.labels[base + i] = r[label_bytes - 1];
    if (label_bytes == 2) out.coarse_labels[base + i] = r[0];
    std::copy(r + label_bytes, r + record, out.images.begin() + (base + i) * cifar_image_bytes);
  }
  out.count += n;
}

}  // namespace

void parse_cifar10(const uint8_t* bytes, size_t size, const std::string& name, CifarRecords& out) {
  NIDIM_CHECK(out.coarse_labels.empty(), "{}: appending CIFAR-10 records to CIFAR-100 ones", name);
  parse_records(bytes, size, name, 1, out);
}

void parse_cifar100(const uint8_t* bytes, size_t size, const std::string& name, CifarRecords& out) {
  NIDIM_CHECK(out.count == 0 || !out.coarse_labels.empty(),
              "{}: appending CIFAR-100 records to CIFAR-10 ones", name);
  parse_records(bytes, size, name, 2, out);
}

void read_cifar10_file(const std::string& path, CifarRecords& out) {
  const std::vector<uint8_t> bytes = read_file(path);
  parse_cifar10(bytes.data(), bytes.size(), path, out);
}

void read_cifar100_file(const std::string& path, CifarRecords& out) {
  const std::vector<uint8_t> bytes = read_file(path);
  parse_cifar100(bytes.data(), bytes.size(), path, out);
}

}  // namespace nidim
