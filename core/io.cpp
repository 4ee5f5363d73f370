// nidim/core/io.cpp: see io.h.
#include "core/io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "core/error.h"

namespace nidim {

std::vector<uint8_t> read_file(const std::string& path) {
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

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
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
  // Flush the data to the disk before the rename makes it visible.
  const int fd = ::open(tmp.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    NIDIM_FAIL("{}: cannot rename the finished file into place: {}", path, std::strerror(err));
  }
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

}  // namespace nidim
