#include "pollen/core/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pollen {

namespace {

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

Status file_error(const std::string& path, const std::string& what, int error) {
  std::string message = path + ": " + what + ": " + std::strerror(error);
  switch (error) {
    case ENOENT:
      return not_found(std::move(message));
    case EACCES:
    case EPERM:
    case EROFS:
      return Status(StatusCode::kPermissionDenied, std::move(message));
    case ENOSPC:
      return Status(StatusCode::kResourceExhausted, std::move(message));
    default:
      return internal_error(std::move(message));
  }
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) errno = EIO;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

Status replace_file_durably(const std::string& path, mode_t mode,
                            const std::function<bool(int fd)>& write) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return file_error(tmp, "cannot create", errno);
  // open() applies the umask; the mode asked for is what the file gets.
  bool ok = ::fchmod(fd, mode) == 0 && write(fd);
  // The data must be on disk before the rename makes it the file at `path`.
  ok = ok && ::fsync(fd) == 0;
  const int error = errno;
  if (::close(fd) != 0 || !ok) {
    const int close_error = ok ? errno : error;
    ::unlink(tmp.c_str());
    return file_error(tmp, "cannot write", close_error);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int rename_error = errno;
    ::unlink(tmp.c_str());
    return file_error(path, "cannot replace with " + tmp, rename_error);
  }
  // And the rename itself must be on disk before anyone relies on it.
  const std::string dir = directory_of(path);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return file_error(dir, "cannot open the directory to sync it", errno);
  const bool synced = ::fsync(dir_fd) == 0;
  const int sync_error = errno;
  ::close(dir_fd);
  if (!synced) return file_error(dir, "cannot sync the directory", sync_error);
  return Status::Ok();
}

Status write_file_durably(const std::string& path, std::string_view data, mode_t mode) {
  return replace_file_durably(path, mode, [data](int fd) { return write_all(fd, data); });
}

}  // namespace pollen
