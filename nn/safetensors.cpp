// nidim/nn/safetensors.cpp: see safetensors.h.
#include "nn/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"
#include "core/json.h"

namespace nidim {

namespace {

constexpr uint64_t max_header_bytes = 100u << 20;  // the reference implementation's limit

const char* safetensors_dtype(DType t) {
  switch (t) {
    case DType::f32:
      return "F32";
    case DType::f64:
      return "F64";
    case DType::i32:
      return "I32";
    case DType::i64:
      return "I64";
    case DType::u8:
      return "U8";
  }
  return "?";
}

bool parse_dtype(const std::string& s, DType& out) {
  static const std::map<std::string, DType> names = {{"F32", DType::f32},
                                                     {"F64", DType::f64},
                                                     {"I32", DType::i32},
                                                     {"I64", DType::i64},
                                                     {"U8", DType::u8}};
  auto it = names.find(s);
  if (it == names.end()) return false;
  out = it->second;
  return true;
}

}  // namespace

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const Metadata& metadata) {
  // Data in order of element size, largest first (stable otherwise): every tensor then starts at
  // a multiple of its element size, as readers that view one buffer (torch.frombuffer) need; the
  // format allows no padding between tensors.
  nlohmann::json header = nlohmann::json::object();
  for (const auto& [name, t] : tensors) {
    NIDIM_CHECK(t.defined(), "{}: tensor '{}' is undefined", path, name);
    NIDIM_CHECK(name != "__metadata__" && !name.empty(), "{}: invalid tensor name '{}'", path,
                name);
    NIDIM_CHECK(!header.contains(name), "{}: tensor name '{}' appears twice", path, name);
    header[name] = nullptr;
  }
  NamedTensors ordered = tensors;
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
    return dtype_size(a.second.dtype()) > dtype_size(b.second.dtype());
  });
  uint64_t offset = 0;
  for (const auto& [name, t] : ordered) {
    header[name] = {{"dtype", safetensors_dtype(t.dtype())},
                    {"shape", t.shape().dims()},
                    {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  write_file_atomic(path, [&](std::ostream& out) {
    uint64_t n = text.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& [name, t] : ordered) {
      const Tensor host = t.device().is_cpu() ? t : t.to(Device::cpu());
      out.write(static_cast<const char*>(host.raw()), static_cast<std::streamsize>(host.nbytes()));
    }
  });
}

NamedTensors load_safetensors(const std::string& path, Metadata* metadata) {
  const std::vector<uint8_t> bytes = read_file(path);
  NIDIM_CHECK(bytes.size() >= 8,
              "{}: not a safetensors file: {} bytes, shorter than the 8-byte "
              "header length",
              path, bytes.size());
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(bytes[static_cast<size_t>(i)]) << (8 * i);
  NIDIM_CHECK(n <= max_header_bytes,
              "{}: header length {} exceeds the 100 MiB limit (corrupt file?)", path, n);
  NIDIM_CHECK(n <= bytes.size() - 8,
              "{}: header length {} runs past the end of the file ({} bytes)", path, n,
              bytes.size());
  const char* text = reinterpret_cast<const char*>(bytes.data()) + 8;
  const nlohmann::json header = parse_json(text, text + n, path + ": header");
  NIDIM_CHECK(header.is_object(), "{}: header is not a JSON object", path);
  const uint8_t* data = bytes.data() + 8 + n;
  const uint64_t data_bytes = bytes.size() - 8 - n;

  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      NIDIM_CHECK(v.is_object(), "{}: __metadata__ must be an object of strings", path);
      for (auto m = v.begin(); m != v.end(); ++m) {
        NIDIM_CHECK(m.value().is_string(), "{}: __metadata__ value '{}' is not a string", path,
                    m.key());
        if (metadata) (*metadata)[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    NIDIM_CHECK(
        v.is_object() && v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"),
        "{}: tensor '{}' needs dtype, shape and data_offsets", path, name);
    NIDIM_CHECK(v["dtype"].is_string(), "{}: tensor '{}' has a non-string dtype", path, name);
    Entry e;
    e.name = name;
    const std::string dt = v["dtype"].get<std::string>();
    NIDIM_CHECK(parse_dtype(dt, e.dtype),
                "{}: tensor '{}' has dtype {}, nidim reads F32, F64, I32, I64 and U8", path, name,
                dt);
    NIDIM_CHECK(v["shape"].is_array(), "{}: tensor '{}': shape is not an array", path, name);
    NIDIM_CHECK(v["shape"].size() <= static_cast<size_t>(max_dims),
                "{}: tensor '{}' has {} dimensions, nidim tensors have at most {}", path, name,
                v["shape"].size(), max_dims);
    // Every partial product within int64, as Shape needs: [2^32, 2^31, 0] has no elements, but
    // its first two dimensions multiply past 2^63.
    uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      NIDIM_CHECK(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() >= 0),
                  "{}: tensor '{}' has an invalid dimension {}", path, name, json_excerpt(d));
      const uint64_t dim = d.get<uint64_t>();
      constexpr uint64_t max_count = std::numeric_limits<int64_t>::max();
      NIDIM_CHECK(dim <= max_count && (dim == 0 || numel <= max_count / dim),
                  "{}: tensor '{}': shape {} overflows int64", path, name,
                  json_excerpt(v["shape"]));
      numel *= dim;
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    const auto& off = v["data_offsets"];
    NIDIM_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() &&
                    off[1].is_number_unsigned(),
                "{}: tensor '{}': data_offsets must be two non-negative integers", path, name);
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    NIDIM_CHECK(
        e.begin <= e.end && e.end <= data_bytes,
        "{}: tensor '{}': data_offsets [{}, {}] outside the {} bytes of data (truncated file?)",
        path, name, e.begin, e.end, data_bytes);
    NIDIM_CHECK(numel <= std::numeric_limits<uint64_t>::max() / dtype_size(e.dtype) &&
                    e.end - e.begin == numel * dtype_size(e.dtype),
                "{}: tensor '{}': {} bytes of data for {} shape {} (expected {})", path, name,
                e.end - e.begin, dt, Shape(e.shape), numel * dtype_size(e.dtype));
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < entries.size(); ++i)
    NIDIM_CHECK(entries[i].begin >= entries[i - 1].end, "{}: tensors '{}' and '{}' overlap", path,
                entries[i - 1].name, entries[i].name);
  NamedTensors out;
  for (const Entry& e : entries)
    out.emplace_back(e.name, Tensor::from_host(data + e.begin, Shape(e.shape), e.dtype));
  return out;
}

void save_module(const std::string& path, const Module& module, const Metadata& metadata) {
  save_safetensors(path, module.state_dict(), metadata);
}

void load_module(const std::string& path, Module& module, bool strict) {
  const NamedTensors state = load_safetensors(path);
  try {
    module.load_state_dict(state, strict);
  } catch (const Error& e) {
    NIDIM_FAIL("{}: {}", path, e.what());
  }
}

}  // namespace nidim
