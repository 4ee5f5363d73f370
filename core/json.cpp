// nidim/core/json.cpp: see json.h.
#include "core/json.h"

#include "core/error.h"
#include "core/io.h"

namespace nidim {

using json = nlohmann::json;

json parse_json(const char* begin, const char* end, const std::string& where) {
  // The callback sees each object and array as it opens, at its depth (the document's own: 0);
  // throwing stops the parse before the next level is built.
  const json::parser_callback_t limit = [&where](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= max_json_depth)
      NIDIM_FAIL("{}: JSON nested deeper than {} levels", where, max_json_depth);
    return true;
  };
  try {
    return json::parse(begin, end, limit);
  } catch (const json::exception& e) {
    NIDIM_FAIL("{}: not valid JSON: {}", where, e.what());
  }
}

json parse_json(const std::string& text, const std::string& where) {
  return parse_json(text.data(), text.data() + text.size(), where);
}

json read_json_file(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  const char* begin = reinterpret_cast<const char*>(bytes.data());
  return parse_json(begin, begin + bytes.size(), path);
}

std::string json_excerpt(const json& value, size_t max_chars) {
  std::string s = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > max_chars) s = s.substr(0, max_chars) + "...";
  return s;
}

namespace {

// j[key], which must be there; j must be an object.
const json& field(const json& j, const std::string& key, const std::string& where) {
  NIDIM_CHECK(j.is_object(), "{}: expected a JSON object, got {}", where, json_excerpt(j));
  const auto it = j.find(key);
  NIDIM_CHECK(it != j.end(), "{}: \"{}\" is missing", where, key);
  return *it;
}

[[noreturn]] void wrong_type(const json& v, const std::string& key, const std::string& where,
                             const std::string& kind) {
  NIDIM_FAIL("{}: \"{}\" must be {}, got {}", where, key, kind, json_excerpt(v));
}

int64_t as_int(const json& v, const std::string& key, const std::string& where, int64_t lo,
               int64_t hi) {
  // 3.7, 1e300 and 111111111111111124096 (beyond uint64, so parsed as a double) are not integers.
  if (!v.is_number_integer()) wrong_type(v, key, where, "an integer");
  const bool beyond_int64 =
      v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX);
  const int64_t x = beyond_int64 ? INT64_MAX : v.get<int64_t>();
  if (beyond_int64 || x < lo || x > hi) {
    const bool any =
        lo == std::numeric_limits<int64_t>::min() && hi == std::numeric_limits<int64_t>::max();
    wrong_type(
        v, key, where,
        any ? std::string("a 64-bit integer") : fmt::format("an integer in [{}, {}]", lo, hi));
  }
  return x;
}

double as_double(const json& v, const std::string& key, const std::string& where) {
  if (!v.is_number()) wrong_type(v, key, where, "a number");
  return v.get<double>();
}

}  // namespace

int64_t json_int(const json& j, const std::string& key, const std::string& where, int64_t lo,
                 int64_t hi) {
  return as_int(field(j, key, where), key, where, lo, hi);
}

uint64_t json_uint(const json& j, const std::string& key, const std::string& where) {
  const json& v = field(j, key, where);
  if (!v.is_number_unsigned()) wrong_type(v, key, where, "a non-negative integer");
  return v.get<uint64_t>();
}

double json_double(const json& j, const std::string& key, const std::string& where) {
  return as_double(field(j, key, where), key, where);
}

std::string json_string(const json& j, const std::string& key, const std::string& where) {
  const json& v = field(j, key, where);
  if (!v.is_string()) wrong_type(v, key, where, "a string");
  return v.get<std::string>();
}

bool json_bool(const json& j, const std::string& key, const std::string& where) {
  const json& v = field(j, key, where);
  if (!v.is_boolean()) wrong_type(v, key, where, "true or false");
  return v.get<bool>();
}

const json& json_object(const json& j, const std::string& key, const std::string& where) {
  const json& v = field(j, key, where);
  if (!v.is_object()) wrong_type(v, key, where, "an object");
  return v;
}

std::vector<int64_t> json_int_array(const json& j, const std::string& key,
                                    const std::string& where) {
  const json& v = field(j, key, where);
  if (!v.is_array()) wrong_type(v, key, where, "an array of integers");
  std::vector<int64_t> out;
  for (const json& e : v) {
    if (!e.is_number_integer() || (e.is_number_unsigned() && e.get<uint64_t>() > INT64_MAX))
      wrong_type(v, key, where, "an array of integers");
    out.push_back(e.get<int64_t>());
  }
  return out;
}

std::vector<double> json_double_array(const json& j, const std::string& key,
                                      const std::string& where) {
  const json& v = field(j, key, where);
  if (!v.is_array()) wrong_type(v, key, where, "an array of numbers");
  std::vector<double> out;
  for (const json& e : v) {
    if (!e.is_number()) wrong_type(v, key, where, "an array of numbers");
    out.push_back(e.get<double>());
  }
  return out;
}

int64_t json_int_or(const json& j, const std::string& key, const std::string& where,
                    int64_t fallback) {
  return j.is_object() && !j.contains(key) ? fallback : json_int(j, key, where);
}

double json_double_or(const json& j, const std::string& key, const std::string& where,
                      double fallback) {
  if (j.is_object() && (!j.contains(key) || j[key].is_null())) return fallback;
  return json_double(j, key, where);
}

std::string json_string_or(const json& j, const std::string& key, const std::string& where,
                           const std::string& fallback) {
  return j.is_object() && !j.contains(key) ? fallback : json_string(j, key, where);
}

bool json_bool_or(const json& j, const std::string& key, const std::string& where, bool fallback) {
  return j.is_object() && !j.contains(key) ? fallback : json_bool(j, key, where);
}

}  // namespace nidim
