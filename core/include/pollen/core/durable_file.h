// Replacing a file so that a crash or power loss at any moment leaves either
// the old file or the new one, whole: what a device that is switched off
// mid-round needs for its saved model and state.
#ifndef POLLEN_CORE_DURABLE_FILE_H_
#define POLLEN_CORE_DURABLE_FILE_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>

#include "pollen/core/status.h"

namespace pollen {

// Writes a temporary file beside `path` (PATH.tmp-<pid>, created with
// `mode`) through `write` (which gets the file descriptor and returns false
// with errno set on failure), fsyncs it, renames it over `path` and fsyncs
// the directory, as LevelDB does for its CURRENT file. On failure the
// temporary file is removed and `path` is left as it was; the error names
// the file and the step.
Status replace_file_durably(const std::string& path, mode_t mode,
                            const std::function<bool(int fd)>& write);

// The same for a file whose content is `data`.
Status write_file_durably(const std::string& path, std::string_view data, mode_t mode);

// A failed system call on `path` (errno `error`) as a Status with the
// matching code: NOT_FOUND, PERMISSION_DENIED, RESOURCE_EXHAUSTED (disk
// full), else INTERNAL; the message names the path and the step.
Status file_error(const std::string& path, const std::string& what, int error);

// Writes all of `data` to `fd`, retrying short writes and EINTR.
bool write_all(int fd, std::string_view data);

}  // namespace pollen

#endif  // POLLEN_CORE_DURABLE_FILE_H_
