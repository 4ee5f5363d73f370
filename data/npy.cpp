// nidim/data/npy.cpp: see npy.h.
//
// The header parser accepts the subset of Python literal syntax that numpy writes (and that
// older numpy versions wrote, e.g. Python 2's "3L" integers): a dict with the keys 'descr',
// 'fortran_order' and 'shape' in any order, quoted strings, True/False, and a tuple of
// non-negative integers. Every read is bounds-checked against the header's own length.
#include "data/npy.h"

#include <algorithm>
#include <cstring>

#include "core/io.h"

namespace nidim {

namespace {

constexpr char npy_magic[] = "\x93NUMPY";
constexpr size_t npy_magic_len = 6;
// Largest element count or dimension we accept: keeps numel * 8 bytes inside int64_t.
constexpr int64_t npy_max_count = int64_t(1) << 58;

// descr string <-> DType. numpy writes '|u1' for bytes; '<u1' and '=' (native, little-endian on
// every machine nidim runs on) are accepted too.
bool descr_to_dtype(const std::string& descr, DType* out) {
  if (descr.size() != 3) return false;
  const char order = descr[0];
  const std::string kind = descr.substr(1);
  if (kind == "u1") {
    if (order != '|' && order != '<' && order != '=') return false;
    *out = DType::u8;
    return true;
  }
  if (order != '<' && order != '=') return false;
  if (kind == "f4")
    *out = DType::f32;
  else if (kind == "f8")
    *out = DType::f64;
  else if (kind == "i4")
    *out = DType::i32;
  else if (kind == "i8")
    *out = DType::i64;
  else
    return false;
  return true;
}

const char* dtype_descr(DType t) {
  switch (t) {
    case DType::f32:
      return "<f4";
    case DType::f64:
      return "<f8";
    case DType::i32:
      return "<i4";
    case DType::i64:
      return "<i8";
    case DType::u8:
      return "|u1";
  }
  return "?";
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) s += ",";
  return s + ")";
}

// A cursor over the header dict; every failure names the file.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& name) : m_text(text), m_name(name) {}

  void parse(std::string* descr, bool* fortran, std::vector<int64_t>* shape) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    skip_space();
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') {
        ++m_pos;
        break;
      }
      const std::string key = parse_string();
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (peek() != '\'' && peek() != '"')
          fail("'descr' is not a simple type string (structured dtypes are not supported)");
        *descr = parse_string();
        have_descr = true;
      } else if (key == "fortran_order") {
        *fortran = parse_bool();
        have_fortran = true;
      } else if (key == "shape") {
        *shape = parse_tuple();
        have_shape = true;
      } else {
        fail(fmt::format("unexpected key '{}'", key));
      }
      skip_space();
      if (peek() == ',') {
        ++m_pos;
        continue;
      }
      skip_space();
      expect('}');
      break;
    }
    skip_space();
    if (m_pos != m_text.size()) fail("text after the closing '}'");
    if (!have_descr || !have_fortran || !have_shape)
      fail("missing one of the keys 'descr', 'fortran_order', 'shape'");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    NIDIM_FAIL("{}: bad .npy header ({}) at byte {} of: {}", m_name, what, m_pos, printable());
  }
  std::string printable() const {
    std::string s;
    for (char c : m_text.substr(0, 200)) s += (c >= 32 && c < 127) ? c : '?';
    return s;
  }
  char peek() const { return m_pos < m_text.size() ? m_text[m_pos] : '\0'; }
  void skip_space() {
    while (m_pos < m_text.size() &&
           (m_text[m_pos] == ' ' || m_text[m_pos] == '\n' || m_text[m_pos] == '\t'))
      ++m_pos;
  }
  void expect(char c) {
    if (peek() != c) fail(fmt::format("expected '{}'", c));
    ++m_pos;
  }
  std::string parse_string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    ++m_pos;
    const size_t begin = m_pos;
    while (m_pos < m_text.size() && m_text[m_pos] != quote) {
      if (m_text[m_pos] == '\\') fail("escapes in strings are not supported");
      ++m_pos;
    }
    if (m_pos >= m_text.size()) fail("unterminated string");
    std::string s = m_text.substr(begin, m_pos - begin);
    ++m_pos;
    return s;
  }
  bool parse_bool() {
    if (m_text.compare(m_pos, 4, "True") == 0) {
      m_pos += 4;
      return true;
    }
    if (m_text.compare(m_pos, 5, "False") == 0) {
      m_pos += 5;
      return false;
    }
    fail("expected True or False");
  }
  int64_t parse_int() {
    if (!(peek() >= '0' && peek() <= '9')) fail("expected a non-negative integer");
    int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      v = v * 10 + (peek() - '0');
      if (v > npy_max_count) fail("dimension too large");
      ++m_pos;
    }
    if (peek() == 'L') ++m_pos;  // Python 2 long
    return v;
  }
  std::vector<int64_t> parse_tuple() {
    std::vector<int64_t> dims;
    expect('(');
    for (;;) {
      skip_space();
      if (peek() == ')') {
        ++m_pos;
        return dims;
      }
      dims.push_back(parse_int());
      if (dims.size() > 32) fail("more than 32 dimensions");
      skip_space();
      if (peek() == ',') {
        ++m_pos;
        continue;
      }
      skip_space();
      expect(')');
      return dims;
    }
  }

  const std::string& m_text;
  const std::string& m_name;
  size_t m_pos = 0;
};

uint32_t read_le(const uint8_t* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

int64_t checked_numel(const std::vector<int64_t>& shape, const std::string& name) {
  int64_t n = 1;
  for (int64_t d : shape) {
    NIDIM_CHECK(d >= 0, "{}: negative dimension {} in shape {}", name, d, shape_text(shape));
    NIDIM_CHECK(d == 0 || n <= npy_max_count / d, "{}: shape {} has too many elements", name,
                shape_text(shape));
    n *= d;
  }
  return n;
}

}  // namespace

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

NpyArray parse_npy(const uint8_t* bytes, size_t size, const std::string& name) {
  NIDIM_CHECK(size >= npy_magic_len + 2 && std::memcmp(bytes, npy_magic, npy_magic_len) == 0,
              "{}: not a .npy file (no \\x93NUMPY magic at the start)", name);
  const int major = bytes[6], minor = bytes[7];
  NIDIM_CHECK((major == 1 || major == 2 || major == 3) && minor == 0,
              "{}: .npy format version {}.{} is not supported (1.0, 2.0 and 3.0 are)", name, major,
              minor);
  const size_t len_bytes = major == 1 ? 2 : 4;
  const size_t prefix = npy_magic_len + 2 + len_bytes;
  NIDIM_CHECK(size >= prefix,
              "{}: truncated .npy file ({} bytes, the header length alone needs {})", name, size,
              prefix);
  const size_t header_len = read_le(bytes + npy_magic_len + 2, static_cast<int>(len_bytes));
  NIDIM_CHECK(header_len <= size - prefix,
              "{}: truncated .npy file: header of {} bytes announced, {} bytes follow", name,
              header_len, size - prefix);
  const std::string header(reinterpret_cast<const char*>(bytes + prefix), header_len);

  std::string descr;
  bool fortran = false;
  NpyArray a;
  HeaderParser(header, name).parse(&descr, &fortran, &a.shape);
  if (!descr_to_dtype(descr, &a.dtype)) {
    const bool big = !descr.empty() && descr[0] == '>';
    NIDIM_FAIL("{}: unsupported dtype '{}'{} (nidim reads float32, float64, int32, int64, uint8)",
               name, descr, big ? " (big-endian)" : "");
  }
  // With at most one dimension above 1 the two orders are the same bytes (column-major writers
  // such as Julia's label vectors and N x 1 arrays say Fortran).
  const int64_t long_dims =
      std::count_if(a.shape.begin(), a.shape.end(), [](int64_t n) { return n > 1; });
  NIDIM_CHECK(!fortran || long_dims <= 1,
              "{}: Fortran-order arrays are not supported (save with C order: "
              "np.ascontiguousarray)",
              name);
  const int64_t n = checked_numel(a.shape, name);
  const size_t data_bytes = static_cast<size_t>(n) * dtype_size(a.dtype);
  const size_t have = size - prefix - header_len;
  NIDIM_CHECK(have >= data_bytes,
              "{}: truncated .npy file: shape {} of {} needs {} data bytes, the file has {}", name,
              shape_text(a.shape), dtype_name(a.dtype), data_bytes, have);
  NIDIM_CHECK(have == data_bytes, "{}: {} unexpected bytes after the data of shape {} of {}", name,
              have - data_bytes, shape_text(a.shape), dtype_name(a.dtype));
  const uint8_t* data = bytes + prefix + header_len;
  a.data.assign(data, data + data_bytes);
  return a;
}

NpyArray read_npy(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  return parse_npy(bytes.data(), bytes.size(), path);
}

std::string npy_header(DType dtype, const std::vector<int64_t>& shape, int major) {
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
                                 dtype_descr(dtype), shape_text(shape));
  // Pad with spaces so that magic + version + length + dict + '\n' is a multiple of 64.
  auto total = [&](size_t len_bytes) {
    const size_t raw = npy_magic_len + 2 + len_bytes + dict.size() + 1;
    return (raw + 63) / 64 * 64;
  };
  if (major == 0) major = total(2) - npy_magic_len - 4 <= 65535 ? 1 : 2;
  NIDIM_CHECK(major == 1 || major == 2, "npy_header: version {}.0 cannot be written", major);
  const size_t len_bytes = major == 1 ? 2 : 4;
  const size_t header_len = total(len_bytes) - npy_magic_len - 2 - len_bytes;
  NIDIM_CHECK(major == 2 || header_len <= 65535,
              "npy_header: {} header bytes do not fit version 1.0", header_len);
  dict.append(header_len - dict.size() - 1, ' ');
  dict += '\n';
  std::string out(npy_magic, npy_magic_len);
  out += static_cast<char>(major);
  out += '\0';
  for (size_t i = 0; i < len_bytes; ++i) out += static_cast<char>((header_len >> (8 * i)) & 0xff);
  return out + dict;
}

void write_npy(const std::string& path, const void* data, DType dtype,
               const std::vector<int64_t>& shape) {
  const int64_t n = checked_numel(shape, path);
  const std::string header = npy_header(dtype, shape);
  const size_t bytes = static_cast<size_t>(n) * dtype_size(dtype);
  NIDIM_CHECK(data != nullptr || bytes == 0, "{}: write_npy given no data for shape {}", path,
              shape_text(shape));
  write_file_atomic(path, [&](std::ostream& out) {
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    if (bytes) out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  });
}

void write_npy(const std::string& path, const Tensor& t) {
  NIDIM_CHECK(t.defined(), "{}: write_npy of an undefined tensor", path);
  NIDIM_CHECK(t.device().is_cpu(), "{}: write_npy needs a CPU tensor, got {} (call .to(cpu))", path,
              t.str());
  write_npy(path, t.raw(), t.dtype(), t.shape().dims());
}

Tensor npy_to_tensor(const NpyArray& a) {
  NIDIM_CHECK(a.shape.size() <= static_cast<size_t>(max_dims),
              "npy_to_tensor: shape {} has {} dimensions, tensors have at most {}",
              shape_text(a.shape), a.shape.size(), max_dims);
  NIDIM_CHECK(a.data.size() == static_cast<size_t>(a.numel()) * dtype_size(a.dtype),
              "npy_to_tensor: {} data bytes for shape {} of {}", a.data.size(), shape_text(a.shape),
              dtype_name(a.dtype));
  return Tensor::from_host(a.data.data(), Shape(a.shape), a.dtype);
}

}  // namespace nidim
