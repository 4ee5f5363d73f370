// nidim/core/io.h: whole-file reads and atomic writes, shared by every file format.
//
// write_file_atomic writes to "<path>.tmp.<pid>" in the same folder, flushes it to disk and
// renames it over `path`, so a reader (or a run killed mid-write) sees either the old file or
// the new one, never a torn one. Errors name the path and the system's reason.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace nidim {

std::vector<uint8_t> read_file(const std::string& path);
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);
void write_file_atomic(const std::string& path, const std::string& contents);
bool file_exists(const std::string& path);

}  // namespace nidim
