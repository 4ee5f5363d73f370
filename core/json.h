// nidim/core/json.h: JSON read from files, parsed with a bounded depth and read through checked
// getters, so that a hostile or damaged file gives one line naming where it went wrong.
//
// Every JSON that comes from a file (config.json, log.jsonl lines, state.json, a safetensors
// header and its metadata) is parsed by parse_json. It refuses nesting deeper than
// max_json_depth: nlohmann parses without recursion, but dumping, copying and comparing a value
// recurse once per level, and a file nested 100 000 deep overflows the stack there.
//
// The getters replace `j.at(key)` and its implicit conversions, which truncate 3.7 to 3, turn
// 1e300 into an out-of-range (undefined) integer cast, and throw nlohmann's "type must be string,
// but is number" without the file or key. Each takes `where` (a file, or "file:line") and throws
// "<where>: \"key\" must be an integer, got 3.7". Values in messages are json_excerpt's short
// prefix, never a whole dump.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nidim {

// Deeper than any file nidim writes (config.json's ssl.augment_spec is 4 levels).
constexpr int max_json_depth = 64;

// Parses [begin, end) as one JSON document; throws "<where>: not valid JSON: ..." or
// "<where>: JSON nested deeper than 64 levels".
nlohmann::json parse_json(const char* begin, const char* end, const std::string& where);
nlohmann::json parse_json(const std::string& text, const std::string& where);
// read_file (a regular file only) and parse_json.
nlohmann::json read_json_file(const std::string& path);

// The value as compact JSON, cut to `max_chars` with "..." after: for error messages.
std::string json_excerpt(const nlohmann::json& value, size_t max_chars = 40);

// Required keys of the object `j`: missing, of another type or out of range, they throw naming
// `where`, the key and the value. An integer is a JSON integer (not 3.7 nor 1e300) in [lo, hi].
int64_t json_int(const nlohmann::json& j, const std::string& key, const std::string& where,
                 int64_t lo = std::numeric_limits<int64_t>::min(),
                 int64_t hi = std::numeric_limits<int64_t>::max());
uint64_t json_uint(const nlohmann::json& j, const std::string& key, const std::string& where);
double json_double(const nlohmann::json& j, const std::string& key, const std::string& where);
std::string json_string(const nlohmann::json& j, const std::string& key, const std::string& where);
bool json_bool(const nlohmann::json& j, const std::string& key, const std::string& where);
// An object (a block such as config.json's "ssl").
const nlohmann::json& json_object(const nlohmann::json& j, const std::string& key,
                                  const std::string& where);
std::vector<int64_t> json_int_array(const nlohmann::json& j, const std::string& key,
                                    const std::string& where);
std::vector<double> json_double_array(const nlohmann::json& j, const std::string& key,
                                      const std::string& where);

// Optional keys: `fallback` when the key is missing (or null for json_double_or: a number that
// was not applicable), the same checks when it is there.
int64_t json_int_or(const nlohmann::json& j, const std::string& key, const std::string& where,
                    int64_t fallback);
double json_double_or(const nlohmann::json& j, const std::string& key, const std::string& where,
                      double fallback);
std::string json_string_or(const nlohmann::json& j, const std::string& key,
                           const std::string& where, const std::string& fallback);
bool json_bool_or(const nlohmann::json& j, const std::string& key, const std::string& where,
                  bool fallback);

}  // namespace nidim
