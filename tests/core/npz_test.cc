// .npz files against numpy's own: the files make_npz.py writes at build time
// (np.savez, np.savez_compressed), numpy reading what write_npz writes, and
// damaged or hostile archives.
#include "pollen/core/npz.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_data.h"

namespace pollen {
namespace {

using testing::contains;

std::string npz_path(const std::string& name) {
  return std::string(POLLEN_NPZ_TEST_DIR) + "/" + name;
}

// A scratch directory of this test process, removed at the end.
class NpzTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("pollen-npz-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string scratch(const std::string& name) const { return (dir_ / name).string(); }

  std::string write_bytes(const std::string& name, const std::string& bytes) const {
    const std::string path = scratch(name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  std::filesystem::path dir_;
};

// (key, .npy bytes) in the order numpy wrote them.
std::vector<std::pair<std::string, std::string>> expected_arrays() {
  std::ifstream in(npz_path("npz.expected.json"));
  const nlohmann::json json = nlohmann::json::parse(in);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& item : json) {
    out.emplace_back(item["key"].get<std::string>(),
                     testing::hex_decode(item["npy_hex"].get<std::string>()));
  }
  return out;
}

void expect_numpy_arrays(const ArrayRecord& arrays) {
  const auto expected = expected_arrays();
  ASSERT_EQ(arrays.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& [key, array] = arrays.items()[i];
    EXPECT_EQ(key, expected[i].first);
    EXPECT_EQ(array.data.view(), expected[i].second) << key;
  }
  EXPECT_EQ(arrays.find("fc.weight")->dtype, "float32");
  EXPECT_EQ(arrays.find("fc.weight")->shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(arrays.find("half")->dtype, "float16");
  EXPECT_EQ(arrays.find("flags")->dtype, "bool");
  EXPECT_EQ(arrays.find("scalar")->dtype, "float64");
  EXPECT_TRUE(arrays.find("scalar")->shape.empty());
  EXPECT_EQ(arrays.find("empty")->shape, (std::vector<int64_t>{0, 4}));
}

TEST_F(NpzTest, ReadsNumpySavez) {
  Result<ArrayRecord> arrays = read_npz(npz_path("savez.npz"));
  ASSERT_TRUE(arrays.ok()) << arrays.status();
  expect_numpy_arrays(*arrays);
}

TEST_F(NpzTest, ReadsNumpySavezCompressed) {
  Result<ArrayRecord> arrays = read_npz(npz_path("savez_compressed.npz"));
  ASSERT_TRUE(arrays.ok()) << arrays.status();
  expect_numpy_arrays(*arrays);
}

TEST_F(NpzTest, RoundTripKeepsBytesAndOrder) {
  Result<ArrayRecord> original = read_npz(npz_path("savez_compressed.npz"));
  ASSERT_TRUE(original.ok()) << original.status();
  const std::string path = scratch("round.npz");
  ASSERT_TRUE(write_npz(path, *original).ok());
  Result<ArrayRecord> again = read_npz(path);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *original);
  // The same arrays always give the same file.
  const std::string first = testing::read_file(path);
  ASSERT_TRUE(write_npz(path, *again).ok());
  EXPECT_EQ(testing::read_file(path), first);
  // Nothing but the file itself is left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1);
}

TEST_F(NpzTest, NumpyLoadsWhatWeWrite) {
  Result<ArrayRecord> arrays = read_npz(npz_path("savez.npz"));
  ASSERT_TRUE(arrays.ok()) << arrays.status();
  const std::string path = scratch("ours.npz");
  ASSERT_TRUE(write_npz(path, *arrays).ok());
  const std::string command = std::string(POLLEN_NPZ_CHECK_COMMAND) + " '" + path + "'";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << command;
}

TEST_F(NpzTest, EmptyRecordRoundTrips) {
  const std::string path = scratch("empty.npz");
  ASSERT_TRUE(write_npz(path, ArrayRecord()).ok());
  Result<ArrayRecord> arrays = read_npz(path);
  ASSERT_TRUE(arrays.ok()) << arrays.status();
  EXPECT_TRUE(arrays->empty());
}

TEST_F(NpzTest, WriteRefusesBadKeysAndArrays) {
  const Array good = *Array::from_elements(DType::kUInt8, {2}, "ab", 2);
  Array not_npy = good;
  not_npy.data = Bytes::copy_of("not a .npy file");
  struct Case {
    std::string key;
    Array array;
    const char* why;
  };
  for (const Case& c : {Case{"a/b", good, "'/'"}, Case{std::string("a\0b", 3), good, "NUL"},
                        Case{"bad", not_npy, "'bad'"}}) {
    ArrayRecord arrays;
    arrays.set(c.key, c.array);
    const std::string path = scratch("bad.npz");
    Status status = write_npz(path, arrays);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << c.why;
    EXPECT_TRUE(contains(status.message(), c.why));
    EXPECT_FALSE(std::filesystem::exists(path));
  }
  ArrayRecord arrays;
  arrays.set("x", good);
  EXPECT_EQ(write_npz(scratch("no/such/dir.npz"), arrays).code(), StatusCode::kNotFound);
}

TEST_F(NpzTest, MissingAndNonZipFiles) {
  Result<ArrayRecord> missing = read_npz(scratch("missing.npz"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(contains(missing.status().message(), "missing.npz"));

  for (const std::string& bytes : {std::string(), std::string("PK"), std::string(100, 'x'),
                                   std::string("\x93NUMPY\x01\x00", 8)}) {
    const std::string path = write_bytes("junk.npz", bytes);
    Result<ArrayRecord> arrays = read_npz(path);
    EXPECT_EQ(arrays.status().code(), StatusCode::kInvalidArgument) << bytes.size();
    EXPECT_TRUE(contains(arrays.status().message(), path));
  }
  EXPECT_TRUE(contains(read_npz(write_bytes("e.npz", "")).status().message(), "empty"));
  EXPECT_EQ(read_npz(dir_.string()).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(NpzTest, TruncatedFileNamesTheProblem) {
  const std::string bytes = testing::read_file(npz_path("savez.npz"));
  Result<ArrayRecord> arrays = read_npz(write_bytes("cut.npz", bytes.substr(0, bytes.size() / 2)));
  EXPECT_EQ(arrays.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(arrays.status().message(), "truncated"));
}

// Offsets of each member's local header and central directory entry.
std::vector<size_t> find_all(const std::string& bytes, const std::string& signature) {
  std::vector<size_t> out;
  for (size_t at = bytes.find(signature); at != std::string::npos;
       at = bytes.find(signature, at + 1)) {
    out.push_back(at);
  }
  return out;
}

TEST_F(NpzTest, CorruptMembersNameTheMember) {
  const std::string bytes = testing::read_file(npz_path("savez.npz"));
  const std::vector<size_t> local = find_all(bytes, "PK\x03\x04");
  const std::vector<size_t> central = find_all(bytes, "PK\x01\x02");
  ASSERT_EQ(local.size(), central.size());
  ASSERT_GE(local.size(), 4u);
  // The first member is fc.weight.npy: its last byte is element data.
  auto patched = [&](std::vector<std::pair<size_t, char>> changes) {
    std::string copy = bytes;
    for (const auto& [at, value] : changes) copy[at] = value;
    return read_npz(write_bytes("patched.npz", copy)).status();
  };
  struct Case {
    std::vector<std::pair<size_t, char>> changes;
    const char* why;
  };
  const size_t data_end = local[1] - 1;
  const Case cases[] = {
      {{{data_end, static_cast<char>(bytes[data_end] ^ 0x40)}}, "CRC-32 mismatch"},
      {{{local[0] + 14, static_cast<char>(bytes[local[0] + 14] ^ 1)},
        {central[0] + 16, static_cast<char>(bytes[central[0] + 16] ^ 1)}},
       "CRC-32 mismatch"},
      {{{central[0] + 16, static_cast<char>(bytes[central[0] + 16] ^ 1)}}, "disagrees"},
      {{{local[0] + 6, 1}, {central[0] + 8, 1}}, "encrypted"},
      {{{local[0] + 8, 12}, {central[0] + 10, 12}}, "compression method 12"},
      {{{central[0] + 46 + 10, 'X'}}, "'fc.weight.Xpy': is not a .npy file"},
      // Member 3, "i64.npy", renamed to member 2's name, "f64.npy".
      {{{central[3] + 46, 'f'}}, "'f64.npy': appears twice"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.why);
    Status status = patched(c.changes);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(status.message(), c.why));
    EXPECT_TRUE(contains(status.message(), "patched.npz"));
  }
}

TEST_F(NpzTest, MemberThatIsNotNpy) {
  Status status = read_npz(npz_path("bad_npy.npz")).status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(status.message(), "bad_npy.npz: member 'x.npy': "));
}

// Every prefix and every single-byte change of real archives: an error or
// a result, never a crash or a huge allocation (the sanitizer build checks).
TEST_F(NpzTest, HostileBytesNeverCrash) {
  for (const char* name : {"model.npz", "savez_compressed.npz"}) {
    const std::string bytes = testing::read_file(npz_path(name));
    size_t failures = 0;
    for (size_t n = 0; n < bytes.size(); n += (n < 600 ? 1 : 37)) {
      failures += !read_npz(write_bytes("cut.npz", bytes.substr(0, n))).ok();
    }
    for (size_t at = 0; at < bytes.size(); at += (at < 600 ? 1 : 7)) {
      for (char mask : {'\x01', '\x80', '\xff'}) {
        std::string copy = bytes;
        copy[at] = static_cast<char>(copy[at] ^ mask);
        failures += !read_npz(write_bytes("flip.npz", copy)).ok();
      }
    }
    EXPECT_GT(failures, 0u) << name;
  }
}

}  // namespace
}  // namespace pollen
