#include "pollen/models/model.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "model_helpers.h"
#include "support/test_data.h"

namespace pollen {
namespace {

// The models come from export_models.py (built into $POLLEN_TEST_DATA):
// cnn (Conv/BatchNorm/Linear), dtypes (a buffer of every .npy dtype),
// bfloat16 (a bfloat16 weight), frozen (a requires_grad=False layer).

using testing::contains;

using testing::load;
using testing::state_of;

template <typename T>
Array array_of(DType dtype, const std::vector<int64_t>& shape, const std::vector<T>& values) {
  Result<Array> array =
      Array::from_elements(dtype, shape, values.data(), values.size() * sizeof(T));
  EXPECT_TRUE(array.ok()) << array.status();
  return array.ok() ? std::move(array).value() : Array();
}

template <typename T>
std::vector<T> values_of(const Array& array) {
  Result<NpyArray> npy = array.to_npy();
  EXPECT_TRUE(npy.ok()) << npy.status();
  if (!npy.ok()) return {};
  EXPECT_EQ(dtype_itemsize(npy->dtype), sizeof(T));
  std::vector<T> values(npy->data.size() / sizeof(T));
  if (!values.empty()) std::memcpy(values.data(), npy->data.data(), npy->data.size());
  return values;
}

// float16 bit patterns of small whole numbers and halves, for exact checks.
uint16_t half_bits(float value) {
  if (value == 0.0f) return 0;
  const bool negative = value < 0;
  value = std::fabs(value);
  int exponent = 0;
  const float mantissa = std::frexp(value, &exponent);  // value = m * 2^e, m in [0.5, 1)
  const auto bits = static_cast<uint16_t>((exponent - 1 + 15) << 10) |
                    static_cast<uint16_t>(std::lround((mantissa * 2 - 1) * 1024));
  return static_cast<uint16_t>(bits | (negative ? 0x8000 : 0));
}

// An ArrayRecord keyed "0".."n-1" holding `record`'s arrays in order.
ArrayRecord positional(const ArrayRecord& record, bool legacy = false) {
  ArrayRecord out;
  size_t i = 0;
  for (const auto& item : record) {
    Array array = item.second;
    if (legacy) {  // what Flower's legacy strategies send
      array.dtype.clear();
      array.shape.clear();
    }
    out.set(std::to_string(i++), array);
  }
  return out;
}

// A .npy file with any descr, e.g. '<U3' (unicode strings).
Array raw_npy(const std::string& descr, const std::string& shape, size_t data_bytes) {
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string npy = std::string("\x93NUMPY\x01\x00", 8);
  npy += static_cast<char>(header.size() & 0xff);
  npy += static_cast<char>(header.size() >> 8);
  npy += header + std::string(data_bytes, 'a');
  Array array;
  array.dtype = "str";
  array.data = Bytes(std::move(npy));
  return array;
}

TEST(ModelLoad, OnCpu) {
  std::unique_ptr<Model> model = load("cnn");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->device_name(), "cpu");
}

TEST(ModelLoad, AutoPicksCudaOnlyWhenAvailable) {
  std::unique_ptr<Model> model = load("cnn", "auto");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->device_name(), cuda_available() ? "cuda:0" : "cpu");
}

TEST(ModelLoad, UnavailableCudaDeviceIsAClearError) {
  // Without a GPU "cuda" itself is unavailable; with one, a device index
  // past the last GPU is.
  const std::string device = cuda_available() ? "cuda:99" : "cuda";
  ModelOptions options;
  options.device = device;
  Result<std::unique_ptr<Model>> model = Model::load(testing::data_path("cnn.pt"), options);
  ASSERT_FALSE(model.ok());
  EXPECT_TRUE(contains(model.status().message(), "device '" + device + "'"));
  if (!cuda_available()) {
    EXPECT_EQ(model.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_TRUE(contains(model.status().message(), "CUDA is not available"));
  }
}

TEST(ModelLoad, BadDeviceStringsAndThreads) {
  for (const std::string device : {"", "gpu", "CPU", "cuda:", "cuda:x", "cuda:-1", "cuda:0x",
                                   "cpu:0", " cuda", "cuda:123456"}) {
    ModelOptions options;
    options.device = device;
    Result<std::unique_ptr<Model>> model = Model::load(testing::data_path("cnn.pt"), options);
    ASSERT_FALSE(model.ok()) << device;
    EXPECT_EQ(model.status().code(), StatusCode::kInvalidArgument) << model.status();
    EXPECT_TRUE(contains(model.status().message(), "device '" + device + "'"));
  }
  ModelOptions options;
  options.device = "cpu";
  options.threads = -1;
  EXPECT_FALSE(Model::load(testing::data_path("cnn.pt"), options).ok());
  options.threads = 100000;
  Result<std::unique_ptr<Model>> many = Model::load(testing::data_path("cnn.pt"), options);
  ASSERT_FALSE(many.ok());
  EXPECT_TRUE(contains(many.status().message(), "threads 100000: this machine has"))
      << many.status();
  options.threads = 1;
  EXPECT_TRUE(Model::load(testing::data_path("cnn.pt"), options).ok());
}

TEST(ModelLoad, FileErrors) {
  const std::string missing = testing::data_path("no-such-model.pt");
  Result<std::unique_ptr<Model>> model = Model::load(missing, {});
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(contains(model.status().message(), missing));

  for (const std::string name : {"notscript", "noparams", "allfrozen"}) {
    const std::string path = testing::data_path(name + ".pt");
    model = Model::load(path, {});
    ASSERT_FALSE(model.ok()) << name;
    EXPECT_EQ(model.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(model.status().message(), "model file '" + path + "'"));
  }
  EXPECT_TRUE(contains(Model::load(testing::data_path("allfrozen.pt"), {}).status().message(),
                       "requires_grad"));
}

TEST(ModelLoad, TrainableParameters) {
  std::unique_ptr<Model> model = load("frozen");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->trainable_names(), (std::vector<std::string>{"head.weight", "head.bias"}));
  EXPECT_EQ(model->num_trainable_parameters(), 8u * 3u + 3u);
  // A prefix selection counts only what it trains, among the trainable ones.
  EXPECT_EQ(model->num_trainable_parameters({"head.bias"}), 3u);
  EXPECT_EQ(model->num_trainable_parameters({"body."}), 0u);  // frozen in the file
  // Frozen weights are still part of the state Flower exchanges.
  EXPECT_EQ(state_of(*model).size(), 4u);
}

TEST(ModelArrays, StateDictRoundTripsThroughLoadArrays) {
  for (const std::string name : {"cnn", "dtypes", "frozen"}) {
    SCOPED_TRACE(name);
    std::unique_ptr<Model> model = load(name);
    ASSERT_NE(model, nullptr);
    const ArrayRecord before = state_of(*model);
    ASSERT_TRUE(model->load_arrays(before).ok());
    EXPECT_EQ(state_of(*model), before);
  }
}

TEST(ModelArrays, MapsByNameInAnyOrder) {
  std::unique_ptr<Model> model = load("cnn");
  ASSERT_NE(model, nullptr);
  const ArrayRecord before = state_of(*model);
  ArrayRecord reversed;
  for (auto it = before.items().rbegin(); it != before.items().rend(); ++it) {
    reversed.set(it->first, it->second);
  }
  const std::vector<float> bias = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  reversed.set("classifier.bias", array_of(DType::kFloat32, {10}, bias));
  ASSERT_TRUE(model->load_arrays(reversed).ok());

  const ArrayRecord after = state_of(*model);
  EXPECT_EQ(values_of<float>(*after.find("classifier.bias")), bias);
  for (const auto& item : before) {
    if (item.first != "classifier.bias") {
      EXPECT_EQ(*after.find(item.first), item.second);
    }
  }
}

TEST(ModelArrays, MapsFlowerListKeysByStateDictPosition) {
  std::unique_ptr<Model> model = load("cnn");
  ASSERT_NE(model, nullptr);
  ArrayRecord expected = state_of(*model);
  ASSERT_EQ(expected.items()[0].first, "temperature");
  expected.set("temperature", array_of(DType::kFloat32, {1}, std::vector<float>{2.5f}));
  for (const bool legacy : {false, true}) {
    ASSERT_TRUE(model->load_arrays(positional(expected, legacy)).ok());
    EXPECT_EQ(state_of(*model), expected);
  }
}

// Loads `received` into `model_name`, expects an error naming each of
// `parts`, and checks that the model did not change.
void expect_refused(const std::string& model_name, const ArrayRecord& received,
                    const std::vector<std::string>& parts) {
  std::unique_ptr<Model> model = load(model_name);
  ASSERT_NE(model, nullptr);
  const ArrayRecord before = state_of(*model);
  const Status status = model->load_arrays(received);
  ASSERT_FALSE(status.ok());
  for (const std::string& part : parts) EXPECT_TRUE(contains(status.message(), part));
  EXPECT_FALSE(contains(status.message(), "Exception raised from"));
  EXPECT_EQ(state_of(*model), before);
}

// The model's state with its first array zeroed (so a partial load would
// show) and `key` set to `array`.
ArrayRecord changed(const std::string& model_name, const std::string& key, Array array) {
  std::unique_ptr<Model> model = load(model_name);
  ArrayRecord record = model ? state_of(*model) : ArrayRecord();
  record.set("weight", array_of(DType::kFloat32, {3, 2}, std::vector<float>(6, 0.0f)));
  record.set(key, std::move(array));
  return record;
}

TEST(ModelArrays, RefusesMissingAndExtraKeys) {
  std::unique_ptr<Model> model = load("dtypes");
  ASSERT_NE(model, nullptr);
  ArrayRecord record = state_of(*model);
  record.set("weight", array_of(DType::kFloat32, {3, 2}, std::vector<float>(6, 0.0f)));

  ArrayRecord missing = record;
  missing.erase("u8");
  expect_refused("dtypes", missing, {"missing key(s) 'u8'"});

  ArrayRecord extra = record;
  extra.set("bogus", array_of(DType::kFloat32, {1}, std::vector<float>{1}));
  expect_refused("dtypes", extra, {"unknown key(s) 'bogus'"});

  ArrayRecord short_list = positional(record);
  short_list.erase(std::to_string(record.size() - 1));
  expect_refused("dtypes", short_list,
                 {"missing key(s) '" + std::to_string(record.size() - 1) + "' ('empty')"});

  ArrayRecord shuffled;
  shuffled.set("1", record.items()[1].second);
  shuffled.set("0", record.items()[0].second);
  expect_refused("dtypes", shuffled, {"key '1' is at position 0"});
}

TEST(ModelArrays, RefusesShapeMismatch) {
  expect_refused(
      "dtypes",
      changed("dtypes", "u8", array_of(DType::kUInt8, {1, 3}, std::vector<uint8_t>{1, 2, 3})),
      {"array 'u8'", "shape (1, 3)", "model's (3,)"});
  // By position the message names the state_dict entry too.
  std::unique_ptr<Model> model = load("dtypes");
  ASSERT_NE(model, nullptr);
  ArrayRecord list = positional(state_of(*model));
  list.set("1", array_of(DType::kFloat16, {3, 2}, std::vector<uint16_t>(6, 0)));
  expect_refused("dtypes", list, {"array '1' ('f16')", "shape (3, 2)", "model's (2, 3)"});
}

TEST(ModelArrays, RefusesNonNumericAndComplexArrays) {
  expect_refused("dtypes", changed("dtypes", "f64", raw_npy("<U3", "(3,)", 36)), {"array 'f64'"});
  expect_refused(
      "dtypes",
      changed("dtypes", "f64", array_of(DType::kComplex128, {3}, std::vector<double>(6, 1.0))),
      {"array 'f64'", "complex"});
  Array wrong_stype = array_of(DType::kFloat64, {3}, std::vector<double>(3, 1.0));
  wrong_stype.stype = "torch.Tensor";
  expect_refused("dtypes", changed("dtypes", "f64", wrong_stype), {"array 'f64'"});
}

TEST(ModelArrays, RefusesValuesAnIntegerBufferCannotHold) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  expect_refused("dtypes",
                 changed("dtypes", "i64", array_of(DType::kFloat64, {}, std::vector<double>{nan})),
                 {"array 'i64'", "nan", "not finite"});
  expect_refused("dtypes",
                 changed("dtypes", "flags",
                         array_of(DType::kFloat64, {2, 2}, std::vector<double>{1, 0, inf, 1})),
                 {"array 'flags'", "inf", "not finite"});
  expect_refused(
      "dtypes",
      changed("dtypes", "u8", array_of(DType::kFloat64, {3}, std::vector<double>{0, 255.4, 255.6})),
      {"array 'u8'", "256", "out of range", "uint8"});
  expect_refused(
      "dtypes",
      changed("dtypes", "i8", array_of(DType::kInt64, {3}, std::vector<int64_t>{0, -129, 1})),
      {"array 'i8'", "-129", "out of range"});
  expect_refused(
      "dtypes",
      changed("dtypes", "i64", array_of(DType::kFloat64, {}, std::vector<double>{9.3e18})),
      {"array 'i64'", "out of range"});
  expect_refused(
      "dtypes",
      changed("dtypes", "f16",
              array_of(DType::kFloat64, {2, 3}, std::vector<double>{1, 2, 3, 4, 5, 1e6})),
      {"array 'f16'", "overflows", "float16"});
}

// An int64 array for a float32 weight would truncate every value (to 0 for
// most weights) and reply a lost model as a success; NaN or Inf is a
// diverged aggregate. Both are refused naming the array.
TEST(ModelArrays, RefusesIntegerArraysForFloatTensorsAndNonFiniteValues) {
  expect_refused(
      "dtypes",
      changed("dtypes", "weight", array_of(DType::kInt64, {3, 2}, std::vector<int64_t>(6, 0))),
      {"array 'weight'", "dtype int64 cannot carry", "float32", "floating-point"});
  expect_refused(
      "dtypes",
      changed("dtypes", "f64", array_of(DType::kBool, {3}, std::vector<uint8_t>{1, 0, 1})),
      {"array 'f64'", "dtype bool cannot carry", "float64"});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  expect_refused(
      "dtypes",
      changed("dtypes", "weight",
              array_of(DType::kFloat32, {3, 2}, std::vector<float>{1, 2, -inf, 4, inf, 6})),
      {"array 'weight'", "value -inf is not finite (2 of 6 values)"});
  expect_refused(
      "dtypes",
      changed("dtypes", "f64", array_of(DType::kFloat64, {3}, std::vector<double>{nan, 1, 2})),
      {"array 'f64'", "value nan is not finite"});
}

TEST(ModelArrays, AcceptsFedAvgFloat64ForIntegerAndBoolBuffers) {
  std::unique_ptr<Model> model = load("dtypes");
  ASSERT_NE(model, nullptr);
  ArrayRecord received = state_of(*model);
  received.set("i64", array_of(DType::kFloat64, {}, std::vector<double>{99.99999999}));
  received.set("u8", array_of(DType::kFloat64, {3}, std::vector<double>{0.2, 2.5, 254.6}));
  received.set("i32", array_of(DType::kFloat64, {1, 2}, std::vector<double>{-3.5, 1e9}));
  received.set("flags", array_of(DType::kFloat64, {2, 2}, std::vector<double>{0.7, 0.4, -2, 0}));
  ASSERT_TRUE(model->load_arrays(received).ok());

  const ArrayRecord state = state_of(*model);
  EXPECT_EQ(state.find("i64")->dtype, "int64");
  EXPECT_EQ(values_of<int64_t>(*state.find("i64")), std::vector<int64_t>{100});
  // Ties go to the even neighbour, as numpy.rint and torch.round do.
  EXPECT_EQ(values_of<uint8_t>(*state.find("u8")), (std::vector<uint8_t>{0, 2, 255}));
  EXPECT_EQ(values_of<int32_t>(*state.find("i32")), (std::vector<int32_t>{-4, 1000000000}));
  EXPECT_EQ(values_of<uint8_t>(*state.find("flags")), (std::vector<uint8_t>{1, 0, 1, 0}));
}

TEST(ModelArrays, ReplyKeepsKeysOrderAndReceivedDtypes) {
  std::unique_ptr<Model> model = load("dtypes");
  ASSERT_NE(model, nullptr);
  const ArrayRecord state = state_of(*model);
  ArrayRecord received;
  received.set("u8", array_of(DType::kFloat64, {3}, std::vector<double>{7, 8, 9}));
  received.set("i64", array_of(DType::kFloat64, {}, std::vector<double>{42}));
  received.set("flags", array_of(DType::kFloat64, {2, 2}, std::vector<double>{1, 1, 0, 0}));
  for (const auto& item : state) {
    if (!received.contains(item.first)) received.set(item.first, item.second);
  }
  ASSERT_TRUE(model->load_arrays(received).ok());
  Result<ArrayRecord> reply = model->reply_arrays(received);
  ASSERT_TRUE(reply.ok()) << reply.status();

  ASSERT_EQ(reply->size(), received.size());
  for (size_t i = 0; i < received.size(); ++i) {
    const auto& [key, sent] = received.items()[i];
    const auto& [reply_key, answer] = reply->items()[i];
    EXPECT_EQ(reply_key, key);
    EXPECT_EQ(answer.dtype, sent.dtype) << key;
    EXPECT_EQ(answer.shape, sent.shape) << key;
  }
  EXPECT_EQ(values_of<double>(*reply->find("u8")), (std::vector<double>{7, 8, 9}));
  EXPECT_EQ(values_of<double>(*reply->find("i64")), std::vector<double>{42});
  EXPECT_EQ(values_of<double>(*reply->find("flags")), (std::vector<double>{1, 1, 0, 0}));
  // Arrays received in the tensor's own dtype go back bit for bit.
  EXPECT_EQ(*reply->find("f16"), *state.find("f16"));
  EXPECT_EQ(reply->find("f16")->dtype, "float16");
  EXPECT_EQ(*reply->find("strided"), *state.find("strided"));
}

TEST(ModelArrays, ReplyConvertsToNarrowerReceivedDtypes) {
  std::unique_ptr<Model> model = load("dtypes");
  ASSERT_NE(model, nullptr);
  ArrayRecord received = state_of(*model);
  // The server holds "weight" as float16: the reply must be float16 too.
  const std::vector<float> weights = {0.5f, -1.5f, 2, 0, 3.25f, -8};
  received.set("weight", array_of(DType::kFloat32, {3, 2}, weights));
  ASSERT_TRUE(model->load_arrays(received).ok());
  std::vector<uint16_t> halves;
  for (float w : weights) halves.push_back(half_bits(w));
  received.set("weight", array_of(DType::kFloat16, {3, 2}, halves));
  Result<ArrayRecord> reply = model->reply_arrays(received);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->find("weight")->dtype, "float16");
  EXPECT_EQ(values_of<uint16_t>(*reply->find("weight")), halves);
  received.set("i64", array_of(DType::kInt32, {}, std::vector<int32_t>{0}));
  // -(2^62) does not fit the int32 the server sent: refused, key named.
  reply = model->reply_arrays(received);
  ASSERT_FALSE(reply.ok());
  EXPECT_TRUE(contains(reply.status().message(), "array 'i64'"));
  EXPECT_TRUE(contains(reply.status().message(), "out of range"));
}

TEST(ModelArrays, LegacyReplyKeepsTheLegacyForm) {
  std::unique_ptr<Model> model = load("cnn");
  ASSERT_NE(model, nullptr);
  const ArrayRecord state = state_of(*model);
  const ArrayRecord received = positional(state, /*legacy=*/true);
  ASSERT_TRUE(model->load_arrays(received).ok());
  Result<ArrayRecord> reply = model->reply_arrays(received);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, received);
}

TEST(ModelArrays, Bfloat16ParameterTakesFloat32AndRepliesInIt) {
  std::unique_ptr<Model> model = load("bfloat16");
  ASSERT_NE(model, nullptr);
  // bfloat16 has no .npy form, so its state_dict stays refused...
  EXPECT_EQ(model->state_dict().status().code(), StatusCode::kUnimplemented);
  // ...but the server's float32 copy loads into it. These values are exact
  // in bfloat16 (8 significant bits).
  const std::vector<float> weight = {0.5f, -1.25f, 3.0f, 0.0078125f};
  ArrayRecord received;
  received.set("linear.weight", array_of(DType::kFloat32, {2, 2}, weight));
  received.set("linear.bias", array_of(DType::kFloat32, {2}, std::vector<float>{1, -1}));
  ASSERT_TRUE(model->load_arrays(received).ok());
  Result<ArrayRecord> reply = model->reply_arrays(received);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, received);
  // float64 loads and answers too.
  received.set("linear.weight", array_of(DType::kFloat64, {2, 2}, std::vector<double>{1, 2, 3, 4}));
  ASSERT_TRUE(model->load_arrays(received).ok());
  reply = model->reply_arrays(received);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(values_of<double>(*reply->find("linear.weight")), (std::vector<double>{1, 2, 3, 4}));
}

}  // namespace
}  // namespace pollen
