#include "power_sysfs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace pollen::sysfs {

namespace fs = std::filesystem;

std::string under(const std::string& root, const std::string& path) {
  std::string rel = path;
  while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
  if (root.empty()) return "/" + rel;
  return root.back() == '/' ? root + rel : root + "/" + rel;
}

Result<std::string> read_text(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const std::string why = path + ": " + std::strerror(err);
    if (err == ENOENT || err == ENOTDIR) return not_found(why);
    if (err == EACCES || err == EPERM) return Status(StatusCode::kPermissionDenied, why);
    return unavailable(why);
  }
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      // Attributes of a disabled channel fail here (ENODATA), not at open.
      const std::string why = path + ": " + std::strerror(errno);
      close(fd);
      return unavailable(why);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    // Sysfs attributes are at most a page; /proc/stat's first line is all we
    // need, and reading a large machine's whole file every sample is waste.
    if (text.size() >= 1 << 16) break;
  }
  close(fd);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

Result<int64_t> read_int(const std::string& path) {
  POLLEN_ASSIGN_OR_RETURN(std::string text, read_text(path));
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || errno != 0 || end == nullptr || *end != '\0') {
    return data_loss(path + ": expected an integer, read '" + text.substr(0, 40) + "'");
  }
  return static_cast<int64_t>(value);
}

bool exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

std::vector<std::string> list(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, prefix.size(), prefix) == 0) out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string base_name(const std::string& path) { return fs::path(path).filename().string(); }

}  // namespace pollen::sysfs
