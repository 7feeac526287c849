#include "pollen/models/state_dict.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pollen/core/sha256.h"
#include "support/test_data.h"

namespace pollen {
namespace {

using nlohmann::ordered_json;

// The models and expectations come from export_models.py (built into the
// directory $POLLEN_TEST_DATA points at).

using testing::contains;

std::vector<std::string> names_of(const ArrayRecord& record) {
  std::vector<std::string> names;
  for (const auto& item : record) names.push_back(item.first);
  return names;
}

// Checks load_state_dict(<model>.pt) against what PyTorch and numpy made of
// the eager model's state_dict(): names in order, dtypes, shapes and the
// SHA-256 of each .npy file, i.e. the bytes Flower's ArrayRecord carries.
void expect_matches_pytorch(const std::string& model) {
  const ordered_json expected = testing::load_json(model + ".expected.json");
  Result<ArrayRecord> record = load_state_dict(testing::data_path(model + ".pt"));
  ASSERT_TRUE(record.ok()) << record.status();

  std::vector<std::string> expected_names;
  for (const auto& entry : expected["entries"]) expected_names.push_back(entry["name"]);
  ASSERT_EQ(names_of(*record), expected_names);

  for (const auto& entry : expected["entries"]) {
    const std::string name = entry["name"];
    SCOPED_TRACE(model + ": " + name);
    const Array& array = *record->find(name);
    EXPECT_EQ(array.stype, "numpy.ndarray");
    EXPECT_EQ(array.dtype, entry["dtype"].get<std::string>());
    EXPECT_EQ(array.shape, entry["shape"].get<std::vector<int64_t>>());
    EXPECT_EQ(sha256_hex(array.data.view()), entry["npy_sha256"].get<std::string>());
    Result<Array> reparsed = Array::from_npy(array.data);
    ASSERT_TRUE(reparsed.ok()) << reparsed.status();
    EXPECT_EQ(reparsed->dtype, array.dtype);
    EXPECT_EQ(reparsed->shape, array.shape);
  }
}

TEST(LoadStateDict, CnnMatchesPyTorchStateDict) { expect_matches_pytorch("cnn"); }

TEST(LoadStateDict, CnnHasBatchNormBuffersInStateDictOrder) {
  Result<ArrayRecord> record = load_state_dict(testing::data_path("cnn.pt"));
  ASSERT_TRUE(record.ok()) << record.status();
  const std::vector<std::string> names = names_of(*record);
  ASSERT_GE(names.size(), 8u);
  // The top-level parameter, registered last, comes first; a module's
  // buffers follow its parameters; conv 3 has no bias (a None parameter).
  EXPECT_EQ(names[0], "temperature");
  EXPECT_EQ(std::vector<std::string>(names.begin() + 3, names.begin() + 9),
            (std::vector<std::string>{"features.1.weight", "features.1.bias",
                                      "features.1.running_mean", "features.1.running_var",
                                      "features.1.num_batches_tracked", "features.3.weight"}));
  const Array& tracked = *record->find("features.1.num_batches_tracked");
  EXPECT_EQ(tracked.dtype, "int64");
  EXPECT_TRUE(tracked.shape.empty());
}

TEST(LoadStateDict, EverySupportedDtypeMatchesNumpy) { expect_matches_pytorch("dtypes"); }

TEST(LoadStateDict, RefusesBfloat16NamingTheTensor) {
  const std::string path = testing::data_path("bfloat16.pt");
  Result<ArrayRecord> record = load_state_dict(path);
  ASSERT_FALSE(record.ok());
  EXPECT_EQ(record.status().code(), StatusCode::kUnimplemented);
  EXPECT_TRUE(contains(record.status().message(), path));
  EXPECT_TRUE(contains(record.status().message(), "'linear.weight'"));
  EXPECT_TRUE(contains(record.status().message(), "BFloat16"));
}

TEST(LoadStateDict, MissingFile) {
  const std::string path = testing::data_path("no-such-model.pt");
  Result<ArrayRecord> record = load_state_dict(path);
  ASSERT_FALSE(record.ok());
  EXPECT_EQ(record.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(record.status().message(), "model file '" + path + "' not found");
}

TEST(LoadStateDict, TorchSaveOfADictIsNotTorchScript) {
  const std::string path = testing::data_path("notscript.pt");
  Result<ArrayRecord> record = load_state_dict(path);
  ASSERT_FALSE(record.ok());
  EXPECT_EQ(record.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(record.status().message(), "model file '" + path + "'"));
  EXPECT_TRUE(contains(record.status().message(), "not a TorchScript file"));
}

TEST(LoadStateDict, ModelWithoutParameters) {
  const std::string path = testing::data_path("noparams.pt");
  Result<ArrayRecord> record = load_state_dict(path);
  ASSERT_FALSE(record.ok());
  EXPECT_EQ(record.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(record.status().message(), "model file '" + path + "'"));
  EXPECT_TRUE(contains(record.status().message(), "no parameters"));
}

class BadFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("pollen-models-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& bytes) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(BadFiles, EmptyGarbageAndTruncatedFilesAreErrors) {
  const std::string model = testing::read_file(testing::data_path("cnn.pt"));
  const std::vector<std::string> paths = {
      write("empty.pt", ""),
      write("garbage.pt", "this is not a model\n\x01\x02\x03"),
      write("zip-header-only.pt", model.substr(0, 64)),
      write("truncated.pt", model.substr(0, model.size() / 2)),
  };
  for (const std::string& path : paths) {
    Result<ArrayRecord> record = load_state_dict(path);
    ASSERT_FALSE(record.ok()) << path;
    EXPECT_EQ(record.status().code(), StatusCode::kInvalidArgument) << record.status();
    EXPECT_TRUE(contains(record.status().message(), "model file '" + path + "'"));
    // LibTorch's backtraces stay out of the message.
    EXPECT_FALSE(contains(record.status().message(), "Exception raised from"));
  }
}

TEST_F(BadFiles, DirectoryIsNotAModel) {
  Result<ArrayRecord> record = load_state_dict(dir_.string());
  ASSERT_FALSE(record.ok());
  EXPECT_TRUE(contains(record.status().message(), "not a regular file"));
}

}  // namespace
}  // namespace pollen
