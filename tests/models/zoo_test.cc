// The models zoo (models/zoo/export_zoo.py, exported into $POLLEN_TEST_DATA
// by the build): each TorchScript file loads, its state_dict is exactly the
// .npz a ServerApp starts from, and the digits models learn.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model_helpers.h"
#include "pollen/core/npz.h"
#include "pollen/models/dataset.h"
#include "pollen/models/model.h"
#include "pollen/models/trainer.h"
#include "support/test_data.h"

namespace pollen {
namespace {

using testing::load;
using testing::state_of;

ArrayRecord npz_of(const std::string& name) {
  Result<ArrayRecord> record = read_npz(testing::data_path(name + ".npz"));
  EXPECT_TRUE(record.ok()) << record.status();
  return record.ok() ? std::move(record).value() : ArrayRecord();
}

std::vector<std::string> keys_of(const ArrayRecord& record) {
  std::vector<std::string> keys;
  for (const auto& item : record) keys.push_back(item.first);
  return keys;
}

// Same keys in the same order, and per key the same dtype, shape and .npy
// bytes; one failure per differing key, so a mismatch names the tensor.
void expect_same_arrays(const ArrayRecord& actual, const ArrayRecord& expected) {
  ASSERT_EQ(keys_of(actual), keys_of(expected));
  for (const auto& [key, array] : expected) {
    const Array& ours = *actual.find(key);
    EXPECT_EQ(ours.dtype, array.dtype) << key;
    EXPECT_EQ(ours.shape, array.shape) << key;
    EXPECT_TRUE(ours.data == array.data) << key << ": the .npy bytes differ";
  }
}

// Samples held in memory, all of one shape, with class labels.
class Samples : public Dataset {
 public:
  explicit Samples(std::vector<Sample> samples) : samples_(std::move(samples)) {}
  size_t size() const override { return samples_.size(); }
  Result<Sample> get(size_t index) const override {
    if (index >= samples_.size()) return out_of_range("no sample " + std::to_string(index));
    return samples_[index];
  }
  bool labels_are_classes() const override { return true; }

 private:
  std::vector<Sample> samples_;
};

// `n` samples of `shape` with uniform pixel values 0..16 and labels 0..9.
Samples noise(size_t n, const std::vector<int64_t>& shape) {
  int64_t elements = 1;
  for (int64_t d : shape) elements *= d;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> pixel(0.0f, 16.0f);
  std::vector<Sample> samples;
  for (size_t i = 0; i < n; ++i) {
    Sample s{std::vector<float>(elements), shape, {static_cast<float>(i % 10)}, {}};
    for (float& v : s.x) v = pixel(rng);
    samples.push_back(std::move(s));
  }
  return Samples(std::move(samples));
}

// Digit-like 8x8 images: each of the ten classes is a fixed random pattern of
// whole pixel values 0..16, as in scikit-learn's digits, and every sample is
// its class's pattern plus noise, rounded and clipped to 0..16.
Samples synthetic_digits(size_t n, uint64_t seed, const std::vector<int64_t>& shape = {64}) {
  std::mt19937_64 patterns_rng(11);
  std::uniform_int_distribution<int> level(0, 16);
  std::vector<std::vector<float>> patterns(10, std::vector<float>(64));
  for (auto& pattern : patterns) {
    for (float& v : pattern) v = static_cast<float>(level(patterns_rng));
  }
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> jitter(0.0f, 4.0f);
  std::vector<Sample> samples;
  for (size_t i = 0; i < n; ++i) {
    const int label = static_cast<int>(i % 10);
    Sample s{std::vector<float>(64), shape, {static_cast<float>(label)}, {}};
    for (size_t p = 0; p < 64; ++p) {
      s.x[p] = std::clamp(std::round(patterns[label][p] + jitter(rng)), 0.0f, 16.0f);
    }
    samples.push_back(std::move(s));
  }
  return Samples(std::move(samples));
}

class ZooModel : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooModel, StateDictIsTheNpzByteForByte) {
  auto model = load(GetParam());
  ASSERT_TRUE(model);
  const ArrayRecord npz = npz_of(GetParam());
  ASSERT_FALSE(npz.empty());
  expect_same_arrays(state_of(*model), npz);
}

TEST_P(ZooModel, JsonDescribesTheModel) {
  auto model = load(GetParam());
  ASSERT_TRUE(model);
  const nlohmann::ordered_json info = testing::load_json(GetParam() + ".json");
  EXPECT_EQ(info.at("name"), GetParam());
  EXPECT_EQ(info.at("num_classes"), 10);
  EXPECT_EQ(info.at("state_dict_keys").get<std::vector<std::string>>(), keys_of(state_of(*model)));
  // Every zoo parameter is trainable.
  EXPECT_EQ(info.at("parameters").get<size_t>(), model->num_trainable_parameters());
  EXPECT_EQ(info.at("trainable").get<size_t>(), model->num_trainable_parameters());
}

// One step on two samples moves the weights (BatchNorm's counters included);
// loading the .npz brings every array back to the initial state.
TEST_P(ZooModel, TrainsOnItsInputShapeAndLoadArraysRestoresTheNpz) {
  auto model = load(GetParam());
  ASSERT_TRUE(model);
  const std::vector<int64_t> shape =
      testing::load_json(GetParam() + ".json").at("input_shape").get<std::vector<int64_t>>();
  TrainConfig config;
  config.local_steps = 1;
  config.batch_size = 2;
  config.lr = 0.01;
  Result<TrainResult> result = train(*model, noise(2, shape), config);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->steps, 1);

  const ArrayRecord npz = npz_of(GetParam());
  ASSERT_FALSE(npz.empty());
  const ArrayRecord trained = state_of(*model);
  ASSERT_EQ(keys_of(trained), keys_of(npz));
  for (const auto& [key, array] : npz) {
    EXPECT_FALSE(trained.find(key)->data == array.data) << key << " did not change";
  }
  Status loaded = model->load_arrays(npz);
  ASSERT_TRUE(loaded.ok()) << loaded;
  expect_same_arrays(state_of(*model), npz);
}

INSTANTIATE_TEST_SUITE_P(Zoo, ZooModel, ::testing::Values("mlp", "cnn8", "resnet18s"),
                         [](const auto& info) { return info.param; });

TEST(Zoo, CnnBatchNormCountersStayInt64) {
  const ArrayRecord npz = npz_of("cnn8");
  for (const char* key : {"bn1.num_batches_tracked", "bn2.num_batches_tracked"}) {
    const Array* array = npz.find(key);
    ASSERT_NE(array, nullptr) << key;
    EXPECT_EQ(array->dtype, "int64") << key;
    EXPECT_TRUE(array->shape.empty()) << key;
  }
}

TEST(Zoo, ResnetHasResnet18sParameterCount) {
  auto model = load("resnet18s");
  ASSERT_TRUE(model);
  // torchvision's resnet18 has 11,689,512: the CIFAR stem's 3x3 conv and the
  // 10-class head make the difference.
  EXPECT_EQ(model->num_trainable_parameters(), 11173962u);
}

// The digits models take CSV rows [B, 64] and images [B, 1, 8, 8] alike, and
// learn: SGD as the zoo documents it (lr 0.05, momentum 0.9, batch 32).
class DigitsModel : public ::testing::TestWithParam<std::string> {};

TEST_P(DigitsModel, LossFallsOnDigitLikeData) {
  auto model = load(GetParam());
  ASSERT_TRUE(model);
  const Samples train_data = synthetic_digits(400, /*seed=*/1);
  const Samples test_data = synthetic_digits(200, /*seed=*/2);
  Result<EvalResult> before = evaluate(*model, test_data);
  ASSERT_TRUE(before.ok()) << before.status();

  TrainConfig config;
  config.local_epochs = 3;
  config.batch_size = 32;
  config.lr = 0.05;
  config.momentum = 0.9;
  config.seed = 3;
  Result<TrainResult> result = train(*model, train_data, config);
  ASSERT_TRUE(result.ok()) << result.status();

  Result<EvalResult> after = evaluate(*model, test_data);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_LT(after->loss, before->loss * 0.5);
  ASSERT_TRUE(after->accuracy);
  EXPECT_GT(*after->accuracy, 0.9);
}

TEST_P(DigitsModel, AcceptsImagesAsWellAsRows) {
  auto model = load(GetParam());
  ASSERT_TRUE(model);
  Result<EvalResult> rows = evaluate(*model, synthetic_digits(20, 4));
  Result<EvalResult> images = evaluate(*model, synthetic_digits(20, 4, {1, 8, 8}));
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_TRUE(images.ok()) << images.status();
  EXPECT_EQ(rows->loss, images->loss);
}

INSTANTIATE_TEST_SUITE_P(Zoo, DigitsModel, ::testing::Values("mlp", "cnn8"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace pollen

namespace pollen {
namespace {

// Fine-tuning only the head leaves the whole backbone as it was, BatchNorm
// running statistics and counters included: frozen layers train in eval mode.
TEST(Zoo, HeadOnlyTrainingLeavesTheBackboneBatchNormUntouched) {
  auto model = load("cnn8");
  ASSERT_TRUE(model);
  Result<ArrayRecord> before = model->state_dict();
  ASSERT_TRUE(before.ok());
  TrainConfig config;
  config.lr = 0.05;
  config.trainable_prefixes = {"fc2."};
  Result<TrainResult> result = train(*model, synthetic_digits(64, /*seed=*/5), config);
  ASSERT_TRUE(result.ok()) << result.status();
  Result<ArrayRecord> after = model->state_dict();
  ASSERT_TRUE(after.ok());
  for (const auto& [name, array] : *before) {
    const bool head = name.rfind("fc2.", 0) == 0;
    EXPECT_EQ(*after->find(name) == array, !head) << name;
  }
}

}  // namespace
}  // namespace pollen
