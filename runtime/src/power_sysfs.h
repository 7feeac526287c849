// Small readers for sysfs and procfs files, for power.h's sources and
// sensors. Each read opens the file afresh: sysfs attributes produce their
// value at open time, and a reopened file also notices a device going away.
#ifndef POLLEN_RUNTIME_SRC_POWER_SYSFS_H_
#define POLLEN_RUNTIME_SRC_POWER_SYSFS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "pollen/core/status.h"

namespace pollen::sysfs {

// `root` joined with an absolute-looking `path` ("/" + "sys/x" or "sys/x").
std::string under(const std::string& root, const std::string& path);

// The whole file, trailing whitespace removed. NOT_FOUND, PERMISSION_DENIED
// or UNAVAILABLE with the path and the system's reason.
Result<std::string> read_text(const std::string& path);
// The file as one decimal integer (sysfs values fit in int64).
Result<int64_t> read_int(const std::string& path);

bool exists(const std::string& path);

// Full paths of the entries of `dir` whose names start with `prefix`,
// sorted; empty when `dir` cannot be listed.
std::vector<std::string> list(const std::string& dir, const std::string& prefix = "");

// The last component of `path`.
std::string base_name(const std::string& path);

}  // namespace pollen::sysfs

#endif  // POLLEN_RUNTIME_SRC_POWER_SYSFS_H_
