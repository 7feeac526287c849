#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "pollen/models/dataset.h"
#include "support/test_data.h"

namespace pollen {
namespace {

using nlohmann::ordered_json;

// The files and data.expected.json come from export_data.py (built into the
// directory $POLLEN_TEST_DATA points at).

using testing::contains;

std::unique_ptr<Dataset> open_ok(const std::string& name, const DataOptions& options = {}) {
  Result<std::unique_ptr<Dataset>> dataset = open_dataset(testing::data_path(name), options);
  EXPECT_TRUE(dataset.ok()) << dataset.status();
  return dataset.ok() ? std::move(dataset).value() : nullptr;
}

// All samples' x and y, concatenated.
void flatten(const Dataset& dataset, std::vector<float>* x, std::vector<float>* y) {
  for (size_t i = 0; i < dataset.size(); ++i) {
    Result<Sample> sample = dataset.get(i);
    ASSERT_TRUE(sample.ok()) << sample.status();
    x->insert(x->end(), sample->x.begin(), sample->x.end());
    y->insert(y->end(), sample->y.begin(), sample->y.end());
  }
}

// Compares every element with what PyTorch wrote, exactly: both sides are
// float32 values.
void expect_matches_python(const Dataset& dataset, const std::string& key) {
  const ordered_json expected = testing::load_json("data.expected.json")[key];
  ASSERT_FALSE(expected.is_null()) << key << " missing from data.expected.json";
  ASSERT_EQ(dataset.size(), expected["size"].get<size_t>());
  EXPECT_EQ(dataset.labels_are_classes(), expected["classes"].get<bool>());
  Result<Sample> first = dataset.get(0);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->x_shape, expected["x_shape"].get<std::vector<int64_t>>());
  EXPECT_EQ(first->y_shape, expected["y_shape"].get<std::vector<int64_t>>());
  std::vector<float> x, y;
  flatten(dataset, &x, &y);
  std::vector<float> expected_x, expected_y;
  for (double v : expected["x"]) expected_x.push_back(static_cast<float>(v));
  for (double v : expected["y"]) expected_y.push_back(static_cast<float>(v));
  EXPECT_EQ(x, expected_x);
  EXPECT_EQ(y, expected_y);
}

TEST(DataTensorFile, ImagesReadBackExactly) {
  auto dataset = open_ok("data_images.pt");
  ASSERT_TRUE(dataset);
  expect_matches_python(*dataset, "data_images.pt");
  Result<std::vector<int64_t>> shape = feature_shape(*dataset);
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_EQ(*shape, (std::vector<int64_t>{1, 8, 8}));
}

TEST(DataTensorFile, IntegerFeaturesBecomeFloats) {
  auto dataset = open_ok("data_intx.pt");
  ASSERT_TRUE(dataset);
  expect_matches_python(*dataset, "data_intx.pt");
}

TEST(DataTensorFile, FloatLabelsAreRegression) {
  auto dataset = open_ok("data_regression.pt");
  ASSERT_TRUE(dataset);
  expect_matches_python(*dataset, "data_regression.pt");
}

TEST(DataTensorFile, IndexPastTheEndIsOutOfRange) {
  auto dataset = open_ok("data_images.pt");
  ASSERT_TRUE(dataset);
  Result<Sample> sample = dataset->get(10);
  ASSERT_FALSE(sample.ok());
  EXPECT_EQ(sample.status().code(), StatusCode::kOutOfRange);
}

TEST(DataDirectory, ConcatenatesShardsInNameOrder) {
  // a_first.pt holds images[:6], b_second.pt images[6:]; README.txt is skipped.
  auto dataset = open_ok("data_shards");
  ASSERT_TRUE(dataset);
  expect_matches_python(*dataset, "data_images.pt");
  Result<Sample> past = dataset->get(10);
  EXPECT_EQ(past.status().code(), StatusCode::kOutOfRange);
}

TEST(DataDirectory, ShardsMustAgreeOnFeatureShape) {
  Result<std::unique_ptr<Dataset>> dataset =
      open_dataset(testing::data_path("data_shards_mismatch"));
  ASSERT_FALSE(dataset.ok());
  EXPECT_TRUE(contains(dataset.status().message(), "data_shards_mismatch/b.pt"));
  EXPECT_TRUE(contains(dataset.status().message(), "feature shape [4] differs from [3]"));
}

TEST(DataDirectory, EmptyDirectoryIsAnError) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("pollen_data_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  Result<std::unique_ptr<Dataset>> dataset = open_dataset(dir.string());
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(dataset.ok());
  EXPECT_TRUE(contains(dataset.status().message(), dir.string()));
  EXPECT_TRUE(contains(dataset.status().message(), "no .pt, .pth or .csv files"));
}

// The rows of data_header.csv / data_noheader.csv, label last.
const std::vector<float> kCsvX = {1.5f, 2, -3, 4, 5.25f, 6, 7, 8, 0.9f, 0, 0, 0};
const std::vector<float> kCsvY = {0, 1, 2, 1};

void expect_csv_rows(const Dataset& dataset) {
  ASSERT_EQ(dataset.size(), 4u);
  EXPECT_TRUE(dataset.labels_are_classes());
  Result<Sample> first = dataset.get(0);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->x_shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(first->y_shape, (std::vector<int64_t>{}));
  std::vector<float> x, y;
  flatten(dataset, &x, &y);
  EXPECT_EQ(x, kCsvX);
  EXPECT_EQ(y, kCsvY);
}

TEST(DataCsv, DetectsHeaderLine) {
  auto with_header = open_ok("data_header.csv");
  ASSERT_TRUE(with_header);
  expect_csv_rows(*with_header);
  auto without_header = open_ok("data_noheader.csv");
  ASSERT_TRUE(without_header);
  expect_csv_rows(*without_header);
}

// CSV files a user's tools write: every value checked at load time, naming
// the line and column, and no data row taken for a header.
TEST(DataCsv, ValuesAreCheckedAtLoadTimeNamingLineAndColumn) {
  const std::string dir = ::testing::TempDir() + "/csv-checks";
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name, std::ios::binary) << text;
    return dir + "/" + name;
  };
  struct Case {
    std::string file;
    const char* detail;
  };
  for (const Case& c : {
           Case{write("overflow.csv", "1,2,0\n3,1e39,1\n"),
                "overflow.csv:2:2': cell '1e39' is too large for float32"},
           Case{write("nan_first.csv", "1,nan,0\n3,4,1\n"),
                "nan_first.csv:1': mixes numbers and text"},
           Case{write("huge_label.csv", "1,2,0\n3,4,99999999999999999999\n"),
                "sample 2 has label 1e+20, but class labels must be integers from 0 to 16777216"},
       }) {
    Result<std::unique_ptr<Dataset>> dataset = open_dataset(c.file);
    ASSERT_FALSE(dataset.ok()) << c.file;
    EXPECT_TRUE(contains(dataset.status().message(), c.detail)) << dataset.status();
  }
  // A UTF-8 byte order mark (Excel) before a header-less first row: a row.
  Result<std::unique_ptr<Dataset>> bom = open_dataset(write("bom.csv",
                                                            "\xEF\xBB\xBF"
                                                            "1,2,0\n3,4,1\n"));
  ASSERT_TRUE(bom.ok()) << bom.status();
  EXPECT_EQ((*bom)->size(), 2u);
  Result<std::unique_ptr<Dataset>> bom_header = open_dataset(write("bom_header.csv",
                                                                   "\xEF\xBB\xBF"
                                                                   "a,b,label\n3,4,1\n"));
  ASSERT_TRUE(bom_header.ok()) << bom_header.status();
  EXPECT_EQ((*bom_header)->size(), 1u);
}

TEST(DataCsv, HeaderOptionOverridesDetection) {
  DataOptions present;
  present.csv_header = DataOptions::Header::kPresent;
  auto dataset = open_ok("data_noheader.csv", present);
  ASSERT_TRUE(dataset);
  EXPECT_EQ(dataset->size(), 3u);

  DataOptions absent;
  absent.csv_header = DataOptions::Header::kAbsent;
  Result<std::unique_ptr<Dataset>> bad =
      open_dataset(testing::data_path("data_header.csv"), absent);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(contains(bad.status().message(), "data_header.csv:1:1': cell 'f0'"));
}

// data_named.csv: "temp","yield","humidity" with float yields.
void expect_yield_label(const DataOptions& options) {
  auto dataset = open_ok("data_named.csv", options);
  ASSERT_TRUE(dataset);
  ASSERT_EQ(dataset->size(), 3u);
  EXPECT_FALSE(dataset->labels_are_classes());
  Result<Sample> last = dataset->get(2);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->x, (std::vector<float>{19.25f, 38}));
  EXPECT_EQ(last->y, (std::vector<float>{-2}));
  EXPECT_EQ(last->y_shape, (std::vector<int64_t>{1}));
}

TEST(DataCsv, LabelColumnByNameOrIndex) {
  for (const char* column : {"yield", "1", "-2"}) {
    SCOPED_TRACE(column);
    DataOptions options;
    options.label_column = column;
    expect_yield_label(options);
  }
  DataOptions by_name;
  by_name.label_column = "label";
  auto dataset = open_ok("data_header.csv", by_name);
  ASSERT_TRUE(dataset);
  expect_csv_rows(*dataset);
}

TEST(DataCsv, UnknownLabelColumn) {
  for (const char* column : {"rain", "3", "-4"}) {
    SCOPED_TRACE(column);
    DataOptions options;
    options.label_column = column;
    Result<std::unique_ptr<Dataset>> dataset =
        open_dataset(testing::data_path("data_named.csv"), options);
    ASSERT_FALSE(dataset.ok());
    EXPECT_EQ(dataset.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(dataset.status().message(), "data_named.csv"));
    EXPECT_TRUE(contains(dataset.status().message(), column));
  }
}

TEST(DataCsv, ClassesOptionOverridesLabelKind) {
  DataOptions regression;
  regression.labels_are_classes = false;
  auto dataset = open_ok("data_header.csv", regression);
  ASSERT_TRUE(dataset);
  EXPECT_FALSE(dataset->labels_are_classes());
  EXPECT_EQ(dataset->get(0)->y_shape, (std::vector<int64_t>{1}));

  DataOptions classes;
  classes.label_column = "yield";
  classes.labels_are_classes = true;
  Result<std::unique_ptr<Dataset>> bad =
      open_dataset(testing::data_path("data_named.csv"), classes);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(contains(bad.status().message(), "sample 1 has label 0.75"));
}

struct BadFile {
  const char* name;
  StatusCode code;
  const char* detail;
};

TEST(DataBadFiles, EachGivesStatusNamingTheFile) {
  const BadFile cases[] = {
      {"missing.pt", StatusCode::kNotFound, "no such file"},
      {"missing_dir/", StatusCode::kNotFound, "no such file"},
      {"data.expected.json", StatusCode::kInvalidArgument, "unknown data file type"},
      {"data_ragged.csv", StatusCode::kInvalidArgument,
       "data_ragged.csv:3': 2 cells, but line 1 has 3"},
      {"data_text.csv", StatusCode::kInvalidArgument, "data_text.csv:3:2': cell 'abc'"},
      {"data_header_only.csv", StatusCode::kInvalidArgument, "holds no samples"},
      {"data_empty.csv", StatusCode::kInvalidArgument, "file is empty"},
      {"data_empty.pt", StatusCode::kInvalidArgument, "file is empty"},
      {"data_garbage.pt", StatusCode::kInvalidArgument,
       "cannot read as torch.save({\"x\": X, \"y\": Y})"},
      {"data_list.pt", StatusCode::kInvalidArgument, "not a dict"},
      {"data_x_only.pt", StatusCode::kInvalidArgument, "cannot read as torch.save"},
      {"data_no_y.pt", StatusCode::kInvalidArgument, "no \"y\" tensor"},
      {"data_y_list.pt", StatusCode::kInvalidArgument, "\"y\" is a GenericList, not a tensor"},
      {"data_mismatch.pt", StatusCode::kInvalidArgument, "x has 5 samples but y has 4"},
      {"data_bool.pt", StatusCode::kUnimplemented, "x has dtype Bool"},
      {"data_class_matrix.pt", StatusCode::kInvalidArgument, "label shape [2]"},
      {"data_negative_class.pt", StatusCode::kInvalidArgument, "sample 2 has label -1"},
      {"data_nan.pt", StatusCode::kInvalidArgument,
       "sample 3, feature 2 is nan; every value must be a finite number"},
      {"data_float64_huge.pt", StatusCode::kInvalidArgument,
       "sample 1, feature 1 is inf (too large for float32?)"},
      {"data_huge_class.pt", StatusCode::kInvalidArgument,
       "class labels must be integers from 0 to 16777216"},
  };
  for (const BadFile& bad : cases) {
    SCOPED_TRACE(bad.name);
    const std::string path = testing::data_path(bad.name);
    Result<std::unique_ptr<Dataset>> dataset = open_dataset(path);
    ASSERT_FALSE(dataset.ok());
    EXPECT_EQ(dataset.status().code(), bad.code) << dataset.status();
    EXPECT_TRUE(contains(dataset.status().message(), "'" + path));
    EXPECT_TRUE(contains(dataset.status().message(), bad.detail));
  }
}

// A user-implemented Dataset: sample i has x = {i}, y = {i % 2}.
class CountingDataset : public Dataset {
 public:
  explicit CountingDataset(size_t size) : size_(size) {}
  size_t size() const override { return size_; }
  bool labels_are_classes() const override { return true; }
  Result<Sample> get(size_t index) const override {
    if (index >= size_) return out_of_range("index " + std::to_string(index));
    return Sample{{static_cast<float>(index)}, {1}, {static_cast<float>(index % 2)}, {}};
  }

 private:
  size_t size_;
};

std::vector<float> first_elements(const Dataset& dataset) {
  std::vector<float> x, y;
  flatten(dataset, &x, &y);
  return x;
}

TEST(DataPartition, ContiguousLikeIidPartitioner) {
  const std::vector<std::vector<float>> thirds = {{0, 1, 2, 3}, {4, 5, 6}, {7, 8, 9}};
  for (int64_t id = 0; id < 3; ++id) {
    Result<std::unique_ptr<Dataset>> part = partition(std::make_unique<CountingDataset>(10), id, 3);
    ASSERT_TRUE(part.ok()) << part.status();
    EXPECT_EQ(first_elements(**part), thirds[id]);
    EXPECT_TRUE((*part)->labels_are_classes());
    EXPECT_EQ((*part)->get(thirds[id].size()).status().code(), StatusCode::kOutOfRange);
  }
  const size_t quarters[] = {3, 3, 2, 2};
  for (int64_t id = 0; id < 4; ++id) {
    Result<std::unique_ptr<Dataset>> part = partition(std::make_unique<CountingDataset>(10), id, 4);
    ASSERT_TRUE(part.ok()) << part.status();
    EXPECT_EQ((*part)->size(), quarters[id]);
  }
}

TEST(DataPartition, OfAFile) {
  auto all = open_ok("data_images.pt");
  ASSERT_TRUE(all);
  Result<Sample> fifth = all->get(4);
  ASSERT_TRUE(fifth.ok());
  Result<std::unique_ptr<Dataset>> part = partition(open_ok("data_images.pt"), 1, 3);
  ASSERT_TRUE(part.ok()) << part.status();
  Result<Sample> first = (*part)->get(0);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->x, fifth->x);
  EXPECT_EQ(first->y, fifth->y);
}

TEST(DataPartition, Errors) {
  struct Case {
    int64_t id, count;
    const char* detail;
  };
  for (const Case& c :
       {Case{-1, 3, "partition-id -1 is outside [0, 3)"},
        Case{3, 3, "partition-id 3 is outside [0, 3)"}, Case{0, 0, "num-partitions is 0"},
        Case{10, 11, "partition 10 of 11 over 10 samples is empty"}}) {
    Result<std::unique_ptr<Dataset>> part =
        partition(std::make_unique<CountingDataset>(10), c.id, c.count);
    ASSERT_FALSE(part.ok());
    EXPECT_TRUE(contains(part.status().message(), c.detail));
  }
  EXPECT_FALSE(partition(nullptr, 0, 1).ok());
}

TEST(DataFeatureShape, EmptyDatasetHasNone) {
  EXPECT_EQ(feature_shape(CountingDataset(0)).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(*feature_shape(CountingDataset(2)), (std::vector<int64_t>{1}));
}

}  // namespace
}  // namespace pollen
