// nidim/core/io.h: whole-file reads and atomic writes, shared by every file format.
//
// write_file_atomic writes to "<path>.tmp.<pid>" in the same folder, flushes it to disk (fsync)
// and renames it over `path`, so a reader (or a run killed mid-write) sees either the old file or
// the new one, never a torn one; then it fsyncs the folder, so that the rename itself survives a
// power loss once the call has returned. Errors name the path and the system's reason.
//
// A run directory that one process works in: claim_new_directory makes a fresh one without a
// race between processes, DirectoryLock keeps a second process out while the first works in it
// (directory_in_use asks without taking it), and remove_stale_temporaries clears what a killed
// writer left (call it under the lock).
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace nidim {

std::vector<uint8_t> read_file(const std::string& path);
// read_file's checks, then the file's lines without their '\n' (a last line without one too).
std::vector<std::string> read_lines(const std::string& path);
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);
void write_file_atomic(const std::string& path, const std::string& contents);
bool file_exists(const std::string& path);

// Creates dir and any missing parents (mkdir -p); a file in the way is named.
void make_directories(const std::string& dir);

// Creates `base` (its missing parents too), or if it exists already the first of base-2, base-3,
// ... that does not; mkdir(2) decides, so two processes never get the same one. Returns it.
std::string claim_new_directory(const std::string& base);

// An exclusive lock on `dir` (flock on dir/.lock), held until destruction; the system drops it
// when the process dies. Throws "<dir>: in use by another process" if another holds it.
class DirectoryLock {
 public:
  DirectoryLock() = default;
  explicit DirectoryLock(const std::string& dir);
  ~DirectoryLock();
  DirectoryLock(DirectoryLock&& other) noexcept;
  DirectoryLock& operator=(DirectoryLock&& other) noexcept;
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int m_fd = -1;
};

// Whether another open file (another process, or another DirectoryLock here) holds dir/.lock.
bool directory_in_use(const std::string& dir);

// Deletes the files in `dir` (not below) named like write_file_atomic's temporaries,
// "<name>.tmp.<pid>", whose writing process no longer runs (killed mid-write); returns how many.
int64_t remove_stale_temporaries(const std::string& dir);

// Makes `path` a second name (hard link) of the file `existing`, replacing what was at `path` in
// one step (a link at "<path>.tmp.<pid>", then a rename). Returns false, changing nothing, when
// the file system cannot link; throws naming the path on other errors.
bool replace_with_link(const std::string& existing, const std::string& path);

// N when `name` is `prefix` followed by the decimal digits of N (at most 18, no leading zero),
// else -1: the numbered entries of a folder ("epoch_12", not "epoch_012").
int64_t numbered_name(const std::string& name, const std::string& prefix);

}  // namespace nidim
