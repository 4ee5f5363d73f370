// nidim/data/idx.cpp: see idx.h.
#include "data/idx.h"

#include <zlib.h>

#include <algorithm>

#include "core/error.h"
#include "core/io.h"

namespace nidim {

namespace {

constexpr uint32_t idx_images_magic = 2051;
constexpr uint32_t idx_labels_magic = 2049;

uint32_t read_be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

// Checks the magic and returns the header's sizes; `ndim` sizes follow the magic.
std::vector<int64_t> read_idx_header(const uint8_t* bytes, size_t size, const std::string& name,
                                     uint32_t magic, int ndim, const char* kind) {
  const size_t header = 4 + 4 * static_cast<size_t>(ndim);
  NIDIM_CHECK(size >= 4, "{}: truncated IDX file: {} bytes, not even a magic number", name, size);
  const uint32_t got = read_be32(bytes);
  NIDIM_CHECK(got == magic, "{}: magic number {}, expected {} ({})", name, got, magic, kind);
  NIDIM_CHECK(size >= header, "{}: truncated IDX file: {} bytes, the header needs {}", name, size,
              header);
  std::vector<int64_t> dims(static_cast<size_t>(ndim));
  for (int i = 0; i < ndim; ++i) dims[i] = read_be32(bytes + 4 + 4 * i);
  return dims;
}

}  // namespace

IdxImages parse_idx_images(const uint8_t* bytes, size_t size, const std::string& name) {
  const std::vector<int64_t> d =
      read_idx_header(bytes, size, name, idx_images_magic, 3, "an IDX image file");
  IdxImages out;
  out.count = d[0];
  out.rows = d[1];
  out.cols = d[2];
  NIDIM_CHECK(out.rows > 0 && out.cols > 0, "{}: images of {}x{} pixels", name, out.rows, out.cols);
  // Each size is below 2^32, so count * rows * cols could overflow int64: compare by division.
  const size_t have = size - 16;
  const size_t per_image = static_cast<size_t>(out.rows) * static_cast<size_t>(out.cols);
  const size_t room = have / per_image;
  NIDIM_CHECK(static_cast<size_t>(out.count) <= room,
              "{}: truncated: the header announces {} images of {}x{}, the file holds {} bytes of "
              "pixels ({} whole images)",
              name, out.count, out.rows, out.cols, have, room);
  const size_t want = static_cast<size_t>(out.count) * per_image;
  NIDIM_CHECK(have == want, "{}: {} unexpected bytes after {} images of {}x{}", name, have - want,
              out.count, out.rows, out.cols);
  out.pixels.assign(bytes + 16, bytes + 16 + want);
  return out;
}

std::vector<uint8_t> parse_idx_labels(const uint8_t* bytes, size_t size, const std::string& name) {
  const std::vector<int64_t> d =
      read_idx_header(bytes, size, name, idx_labels_magic, 1, "an IDX label file");
  const size_t have = size - 8;
  const size_t want = static_cast<size_t>(d[0]);
  NIDIM_CHECK(have >= want, "{}: truncated: the header announces {} labels, the file holds {}",
              name, want, have);
  NIDIM_CHECK(have == want, "{}: {} unexpected bytes after {} labels", name, have - want, want);
  return std::vector<uint8_t>(bytes + 8, bytes + 8 + want);
}

std::vector<uint8_t> gunzip(const uint8_t* bytes, size_t size, const std::string& name,
                            size_t max_bytes) {
  std::vector<uint8_t> out;
  // The last 4 bytes of a gzip member hold the inflated size mod 2^32: a hint for the first
  // allocation only, never trusted for bounds.
  if (size >= 4) {
    const size_t hint = bytes[size - 4] | bytes[size - 3] << 8 | bytes[size - 2] << 16 |
                        static_cast<size_t>(bytes[size - 1]) << 24;
    out.reserve(std::min({hint, max_bytes, size * 64 + 1024}));
  }
  z_stream zs{};
  NIDIM_CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, "{}: zlib inflateInit failed", name);
  struct Guard {
    z_stream* zs;
    ~Guard() { inflateEnd(zs); }
  } guard{&zs};

  size_t in_pos = 0, out_len = 0;
  for (;;) {
    if (out_len == out.size()) {
      NIDIM_CHECK(out.size() < max_bytes, "{}: inflates to more than {} bytes", name, max_bytes);
      out.resize(std::min(max_bytes, std::max<size_t>(out.size() * 2, out.capacity()) + 65536));
    }
    // zlib counts in uInt: feed at most 1 GiB per call.
    const size_t in_chunk = std::min<size_t>(size - in_pos, size_t(1) << 30);
    const size_t out_chunk = std::min<size_t>(out.size() - out_len, size_t(1) << 30);
    zs.next_in = const_cast<Bytef*>(bytes + in_pos);
    zs.avail_in = static_cast<uInt>(in_chunk);
    zs.next_out = out.data() + out_len;
    zs.avail_out = static_cast<uInt>(out_chunk);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    in_pos += in_chunk - zs.avail_in;
    out_len += out_chunk - zs.avail_out;
    if (rc == Z_STREAM_END) {
      // Another gzip member may follow (as `cat a.gz b.gz` makes); trailing zeros are padding.
      size_t rest = in_pos;
      while (rest < size && bytes[rest] == 0) ++rest;
      if (rest == size) break;
      NIDIM_CHECK(size - in_pos >= 2 && bytes[in_pos] == 0x1f && bytes[in_pos + 1] == 0x8b,
                  "{}: {} bytes of garbage after the gzip data", name, size - in_pos);
      NIDIM_CHECK(inflateReset(&zs) == Z_OK, "{}: zlib inflateReset failed", name);
      continue;
    }
    if (rc == Z_BUF_ERROR && in_pos == size) {
      NIDIM_FAIL("{}: truncated gzip data (ends after {} compressed bytes)", name, size);
    }
    NIDIM_CHECK(rc == Z_OK || rc == Z_BUF_ERROR, "{}: corrupt gzip data: {}", name,
                zs.msg ? zs.msg : "zlib error " + std::to_string(rc));
  }
  out.resize(out_len);
  out.shrink_to_fit();
  return out;
}

std::vector<uint8_t> read_file_maybe_gzip(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b)
    return gunzip(bytes.data(), bytes.size(), path);
  return bytes;
}

IdxImages read_idx_images(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_maybe_gzip(path);
  return parse_idx_images(bytes.data(), bytes.size(), path);
}

std::vector<uint8_t> read_idx_labels(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_maybe_gzip(path);
  return parse_idx_labels(bytes.data(), bytes.size(), path);
}

}  // namespace nidim
