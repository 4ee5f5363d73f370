// nidim/core/io.cpp: see io.h.
#include "core/io.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace nidim {

namespace {

// The name this process writes `path` under before renaming it into place: "<path>.tmp.<pid>",
// which remove_stale_temporaries recognizes once the process is gone.
std::string temporary_name(const std::string& path) {
  return path + ".tmp." + std::to_string(::getpid());
}

}  // namespace

std::vector<uint8_t> read_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    NIDIM_CHECK(!S_ISDIR(st.st_mode), "{}: is a directory, expected a file", path);
    // Opening a pipe would wait for a writer, and its size is unknown.
    NIDIM_CHECK(S_ISREG(st.st_mode),
                "{}: is not a regular file (a pipe or a device); save the data to a file first",
                path);
  }
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  NIDIM_CHECK(in, "{}: cannot open: {}", path, std::strerror(errno));
  const std::streamsize size = in.tellg();
  NIDIM_CHECK(size >= 0, "{}: cannot read its size", path);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  NIDIM_CHECK(in.read(reinterpret_cast<char*>(bytes.data()), size),
              "{}: read failed after {} of {} bytes", path, in.gcount(), size);
  return bytes;
}

std::vector<std::string> read_lines(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < bytes.size()) {
    size_t end = begin;
    while (end < bytes.size() && bytes[end] != '\n') ++end;
    lines.emplace_back(reinterpret_cast<const char*>(bytes.data()) + begin, end - begin);
    begin = end + 1;
  }
  return lines;
}

namespace {

// fsync(2) of a file or folder that exists; throws naming it. Without it, a power loss after the
// call returns may still lose what was written (the data, or the rename in the folder).
void sync_to_disk(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_WRONLY) | O_CLOEXEC);
  if (fd < 0 && directory && errno == EACCES) return;  // a folder we may write in but not list
  NIDIM_CHECK(fd >= 0, "{}: cannot open to flush it to disk: {}", path, std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // A folder on a file system that cannot sync one (EINVAL) has nothing more to flush.
  NIDIM_CHECK(rc == 0 || (directory && err == EINVAL), "{}: cannot flush to disk: {}", path,
              std::strerror(err));
}

std::string parent_directory(const std::string& path) {
  const std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

}  // namespace

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const std::string tmp = temporary_name(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    NIDIM_CHECK(out, "{}: cannot create: {}", tmp, std::strerror(errno));
    try {
      write(out);
    } catch (...) {
      out.close();
      std::remove(tmp.c_str());
      throw;
    }
    out.flush();
    if (!out) {
      out.close();
      std::remove(tmp.c_str());
      NIDIM_FAIL("{}: write failed: {}", tmp, std::strerror(errno));
    }
  }
  // The data on the disk before the rename makes it visible, so that a power loss leaves the old
  // file or the whole new one; then the folder, so that the rename is on the disk too.
  try {
    sync_to_disk(tmp, false);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    NIDIM_FAIL("{}: cannot rename the finished file into place: {}", path, std::strerror(err));
  }
  sync_to_disk(parent_directory(path), true);
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  write_file_atomic(path, [&](std::ostream& out) {
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  });
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

void make_directories(const std::string& dir) {
  std::error_code ec;
  for (std::filesystem::path p = dir; !p.empty(); p = p.parent_path()) {
    NIDIM_CHECK(!std::filesystem::exists(p, ec) || std::filesystem::is_directory(p, ec),
                "{}: exists and is not a directory{}", p.string(),
                p.string() == dir ? "" : " (needed for " + dir + ")");
    if (p == p.parent_path()) break;
  }
  // The folders to make, so that their parents' new entries can be flushed to the disk too: a
  // file synced into a folder that a power loss then takes away would be lost with it.
  std::vector<std::string> missing;
  for (std::filesystem::path p = dir; !p.empty() && !std::filesystem::exists(p, ec);
       p = p.parent_path()) {
    missing.push_back(p.string());
    if (p == p.parent_path()) break;
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) NIDIM_FAIL("{}: cannot create the directory: {}", dir, ec.message());
  for (const std::string& made : missing) sync_to_disk(parent_directory(made), true);
}

std::string claim_new_directory(const std::string& base) {
  NIDIM_CHECK(!base.empty(), "claim_new_directory: empty name");
  const std::filesystem::path parent = std::filesystem::path(base).parent_path();
  if (!parent.empty()) make_directories(parent.string());
  for (int i = 1; i < 100000; ++i) {
    const std::string name = i == 1 ? base : base + "-" + std::to_string(i);
    if (::mkdir(name.c_str(), 0777) == 0) {
      sync_to_disk(parent_directory(name), true);
      return name;
    }
    if (errno != EEXIST)
      NIDIM_FAIL("{}: cannot create the directory: {}", name, std::strerror(errno));
  }
  NIDIM_FAIL("{}: 100000 directories of that name exist already", base);
}

DirectoryLock::DirectoryLock(const std::string& dir) {
  const std::string file = dir + "/.lock";
  m_fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  NIDIM_CHECK(m_fd >= 0, "{}: cannot create: {}", file, std::strerror(errno));
  if (::flock(m_fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(m_fd);
    m_fd = -1;
    NIDIM_CHECK(err != EWOULDBLOCK, "{}: in use by another process (it holds {})", dir, file);
    NIDIM_FAIL("{}: cannot lock: {}", file, std::strerror(err));
  }
}

bool directory_in_use(const std::string& dir) {
  const int fd = ::open((dir + "/.lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // drops the shared lock if it was taken
  return held;
}

DirectoryLock::~DirectoryLock() {
  if (m_fd >= 0) ::close(m_fd);  // closing drops the lock
}

DirectoryLock::DirectoryLock(DirectoryLock&& other) noexcept : m_fd(other.m_fd) {
  other.m_fd = -1;
}

DirectoryLock& DirectoryLock::operator=(DirectoryLock&& other) noexcept {
  if (this != &other) {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = other.m_fd;
    other.m_fd = -1;
  }
  return *this;
}

int64_t remove_stale_temporaries(const std::string& dir) {
  std::error_code ec;
  int64_t removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    const std::string name = entry.path().filename().string();
    const size_t at = name.rfind(".tmp.");
    if (at == std::string::npos || at == 0 || at + 5 == name.size() || name.size() - at - 5 > 9 ||
        name.find_first_not_of("0123456789", at + 5) != std::string::npos)
      continue;
    // Only a dead writer's: another program (eval_dm writing its report here) may be mid-write.
    const pid_t writer = static_cast<pid_t>(std::stol(name.substr(at + 5)));
    if (writer > 0 && (::kill(writer, 0) == 0 || errno == EPERM)) continue;
    if (std::filesystem::remove(entry.path(), ec)) removed += 1;
  }
  return removed;
}

bool replace_with_link(const std::string& existing, const std::string& path) {
  const std::string tmp = temporary_name(path);
  std::remove(tmp.c_str());
  if (::link(existing.c_str(), tmp.c_str()) != 0) {
    const int err = errno;
    if (err == EPERM || err == EXDEV || err == EOPNOTSUPP || err == EMLINK) return false;
    NIDIM_FAIL("{}: cannot link it to {}: {}", path, existing, std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    NIDIM_FAIL("{}: cannot rename the link into place: {}", path, std::strerror(err));
  }
  sync_to_disk(parent_directory(path), true);
  return true;
}

int64_t numbered_name(const std::string& name, const std::string& prefix) {
  if (name.size() <= prefix.size() || name.size() > prefix.size() + 18 ||
      name.compare(0, prefix.size(), prefix) != 0)
    return -1;
  const std::string digits = name.substr(prefix.size());
  if (digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  if (digits.size() > 1 && digits[0] == '0') return -1;  // one name per number
  return std::stoll(digits);
}

}  // namespace nidim
