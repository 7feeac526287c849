// A fake sysfs/procfs tree in a temporary directory, for power.h's tests.
#ifndef POLLEN_TESTS_RUNTIME_FAKE_SYSFS_H_
#define POLLEN_TESTS_RUNTIME_FAKE_SYSFS_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace pollen::testing {

class FakeSysfs {
 public:
  // A fresh, empty tree named after `name`.
  explicit FakeSysfs(const std::string& name) : root_(::testing::TempDir() + "/sysfs-" + name) {
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }

  const std::string& root() const { return root_; }
  std::string path(const std::string& rel) const { return root_ + "/" + rel; }

  // Writes `rel` (parents created) with `text` and a newline, as sysfs does.
  void write(const std::string& rel, const std::string& text) const {
    const std::filesystem::path file = path(rel);
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::trunc) << text << "\n";
  }
  void write(const std::string& rel, long long value) const { write(rel, std::to_string(value)); }

  // A directory where a file is expected: opening works, reading fails
  // (EISDIR), even for root, like a sysfs attribute of a disabled channel.
  void unreadable(const std::string& rel) const {
    std::filesystem::remove_all(path(rel));
    std::filesystem::create_directories(path(rel));
  }

  void remove(const std::string& rel) const { std::filesystem::remove_all(path(rel)); }

 private:
  std::string root_;
};

}  // namespace pollen::testing

#endif  // POLLEN_TESTS_RUNTIME_FAKE_SYSFS_H_
