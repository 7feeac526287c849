// Every object of flower_objects.json (built by Flower's own record classes)
// is reproduced bit for bit, and every one of them inflates back.
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "pollen/core/deflate.h"
#include "pollen/core/inflate.h"
#include "pollen/core/proto_convert.h"
#include "pollen/core/sha256.h"
#include "support/test_data.h"

namespace pollen {
namespace {

using Json = nlohmann::ordered_json;
using testing::base64_decode;

class FlowerObjectsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    objects_ = testing::load_json("flower_objects.json");
    for (const Json& entry : objects_.at("arrays")) {
      Result<Array> array =
          Array::from_npy(Bytes(base64_decode(entry.at("data_b64").get<std::string>())));
      ASSERT_TRUE(array.ok()) << array.status();
      arrays_by_id_[entry.at("array").at("object_id").get<std::string>()] = *array;
    }
  }

  // Deflates the ArrayRecord described by `object` from the known arrays.
  void expect_array_record_reproduced(const Json& object) {
    const std::string bytes = base64_decode(object.at("object_b64").get<std::string>());
    Result<ObjectView> view = parse_object(bytes);
    ASSERT_TRUE(view.ok()) << view.status();
    ArrayRecord record;
    const Json body = Json::parse(view->body);
    for (const auto& [key, id] : body.items()) {
      auto it = arrays_by_id_.find(id.get<std::string>());
      ASSERT_NE(it, arrays_by_id_.end()) << key;
      record.set(key, it->second);
    }
    DeflatedObjects out;
    Result<ObjectTree> tree = deflate_array_record(record, &out);
    ASSERT_TRUE(tree.ok()) << tree.status();
    EXPECT_EQ(tree->object_id, object.at("object_id").get<std::string>());
    ASSERT_NE(out.find(tree->object_id), nullptr);
    EXPECT_EQ(out.find(tree->object_id)->bytes(), bytes);
  }

  Json objects_;
  std::map<std::string, Array> arrays_by_id_;
};

TEST_F(FlowerObjectsTest, ArraysAndChunksBitForBit) {
  ASSERT_EQ(objects_.at("arrays").size(), 10u);
  for (const Json& entry : objects_.at("arrays")) {
    const std::string name = entry.at("name").get<std::string>();
    const std::string data = base64_decode(entry.at("data_b64").get<std::string>());
    EXPECT_EQ(sha256_hex(data), entry.at("data_sha256").get<std::string>()) << name;
    Result<Array> array = Array::from_npy(Bytes(data));
    ASSERT_TRUE(array.ok()) << name << ": " << array.status();
    EXPECT_EQ(array->dtype, entry.at("dtype").get<std::string>()) << name;
    EXPECT_EQ(array->shape, entry.at("shape").get<std::vector<int64_t>>()) << name;

    DeflatedObjects out;
    Result<ObjectTree> tree = deflate_array(*array, &out);
    ASSERT_TRUE(tree.ok()) << name;
    const Json& expected = entry.at("array");
    EXPECT_EQ(tree->object_id, expected.at("object_id").get<std::string>()) << name;
    EXPECT_EQ(out.find(tree->object_id)->bytes(),
              base64_decode(expected.at("object_b64").get<std::string>()))
        << name;
    ASSERT_EQ(tree->children.size(), entry.at("unique_chunks").size()) << name;
    for (size_t i = 0; i < tree->children.size(); ++i) {
      const Json& chunk = entry.at("unique_chunks")[i];
      EXPECT_EQ(tree->children[i].object_id, chunk.at("object_id").get<std::string>()) << name;
      EXPECT_EQ(out.find(tree->children[i].object_id)->bytes(),
                base64_decode(chunk.at("object_b64").get<std::string>()))
          << name;
    }
  }
}

TEST_F(FlowerObjectsTest, ArraysInflateFromFlowerBytes) {
  for (const Json& entry : objects_.at("arrays")) {
    const std::string name = entry.at("name").get<std::string>();
    ObjectStore store;
    const Json& array = entry.at("array");
    ASSERT_TRUE(store
                    .put(array.at("object_id").get<std::string>(),
                         Bytes(base64_decode(array.at("object_b64").get<std::string>())))
                    .ok());
    ObjectTree tree{array.at("object_id").get<std::string>(), {}};
    for (const Json& chunk : entry.at("unique_chunks")) {
      const std::string id = chunk.at("object_id").get<std::string>();
      ASSERT_TRUE(
          store.put(id, Bytes(base64_decode(chunk.at("object_b64").get<std::string>()))).ok());
      tree.children.push_back({id, {}});
    }
    Result<Array> back = inflate_array(tree, store);
    ASSERT_TRUE(back.ok()) << name << ": " << back.status();
    EXPECT_EQ(back->data.view(), base64_decode(entry.at("data_b64").get<std::string>())) << name;
    EXPECT_EQ(back->dtype, entry.at("dtype").get<std::string>()) << name;
    EXPECT_EQ(back->stype, "numpy.ndarray");
  }
}

// ArrayRecord(state_dict): keys are the state_dict names in order, and a
// tensor's Array is the same object as the ndarray's (stype numpy.ndarray).
TEST_F(FlowerObjectsTest, TorchStateDictRecord) {
  const Json& sd = objects_.at("torch_like").at("ArrayRecord(state_dict)");
  const std::string bytes = base64_decode(sd.at("object").at("object_b64").get<std::string>());
  EXPECT_EQ(sha256_hex(bytes), sd.at("object").at("object_id").get<std::string>());
  Result<ObjectView> view = parse_object(bytes);
  ASSERT_TRUE(view.ok()) << view.status();
  const Json body = Json::parse(view->body);
  std::vector<std::string> keys;
  for (const auto& item : body.items()) keys.push_back(item.key());
  EXPECT_EQ(keys, sd.at("keys").get<std::vector<std::string>>());
  const std::string weight_id = body.at("conv.weight").get<std::string>();
  EXPECT_EQ(weight_id,
            objects_.at("torch_like").at("Array(tensor)").at("object_id").get<std::string>());
  ASSERT_NE(arrays_by_id_.find(weight_id), arrays_by_id_.end());
  EXPECT_EQ(arrays_by_id_[weight_id].dtype, "float32");
}

TEST_F(FlowerObjectsTest, ArrayRecordsListDuplicatesNonAsciiEmpty) {
  ASSERT_EQ(objects_.at("array_records").size(), 4u);
  for (const Json& entry : objects_.at("array_records")) {
    SCOPED_TRACE(entry.at("name").get<std::string>());
    expect_array_record_reproduced(entry.at("object"));
  }
}

TEST_F(FlowerObjectsTest, MultiChunkArrays) {
  for (const Json& entry : objects_.at("multi_chunk_arrays")) {
    const std::string name = entry.at("name").get<std::string>();
    const auto shape = entry.at("shape").get<std::vector<int64_t>>();
    std::vector<float> values(static_cast<size_t>(shape[0]) * (shape.size() > 1 ? shape[1] : 1));
    if (name == "fc1.weight") {  // ((arange % 251) - 125) / 128, as float32
      for (size_t i = 0; i < values.size(); ++i) {
        values[i] = static_cast<float>(static_cast<int>(i % 251) - 125) / 128.0f;
      }
    }
    Result<Array> array =
        Array::from_elements(DType::kFloat32, shape, values.data(), values.size() * sizeof(float));
    ASSERT_TRUE(array.ok());
    EXPECT_EQ(sha256_hex(array->data.view()), entry.at("data_sha256").get<std::string>()) << name;
    DeflatedObjects out;
    Result<ObjectTree> tree = deflate_array(*array, &out);
    ASSERT_TRUE(tree.ok());
    const Json& expected = entry.at("array");
    EXPECT_EQ(tree->object_id, expected.at("object_id").get<std::string>()) << name;
    EXPECT_EQ(out.find(tree->object_id)->body().view(),
              expected.at("body_text").get<std::string>());
    ASSERT_EQ(tree->children.size(), entry.at("unique_chunks").size());
    for (size_t i = 0; i < tree->children.size(); ++i) {
      const Json& chunk = entry.at("unique_chunks")[i];
      const DeflatedObject* object = out.find(tree->children[i].object_id);
      EXPECT_EQ(tree->children[i].object_id, chunk.at("object_id").get<std::string>());
      EXPECT_EQ(object->head(), chunk.at("head").get<std::string>() + std::string(1, '\0'));
      EXPECT_EQ(sha256_hex(object->body().view()), chunk.at("body_sha256").get<std::string>());
    }
  }
}

// MetricRecord and ConfigRecord bodies parse into records that re-encode to
// the same bytes; the ArrayRecord and RecordDict of the recorded run parse.
TEST_F(FlowerObjectsTest, RecordsRoundTrip) {
  for (const Json& entry : objects_.at("records")) {
    const std::string name = entry.at("name").get<std::string>();
    const Json& object = entry.at("object");
    const std::string bytes = base64_decode(object.at("object_b64").get<std::string>());
    EXPECT_EQ(sha256_hex(bytes), object.at("object_id").get<std::string>()) << name;
    Result<ObjectView> view = parse_object(bytes);
    ASSERT_TRUE(view.ok()) << name << ": " << view.status();
    DeflatedObjects out;
    if (view->type == ObjectType::kMetricRecord) {
      flwr::proto::MetricRecord proto;
      ASSERT_TRUE(proto.ParseFromArray(view->body.data(), static_cast<int>(view->body.size())));
      Result<MetricRecord> record = from_proto(proto);
      ASSERT_TRUE(record.ok());
      EXPECT_EQ(deflate_metric_record(*record, &out).object_id,
                object.at("object_id").get<std::string>());
      ASSERT_NE(record->find("class-acc"), nullptr);
    } else if (view->type == ObjectType::kConfigRecord) {
      flwr::proto::ConfigRecord proto;
      ASSERT_TRUE(proto.ParseFromArray(view->body.data(), static_cast<int>(view->body.size())));
      Result<ConfigRecord> record = from_proto(proto);
      ASSERT_TRUE(record.ok());
      EXPECT_EQ(deflate_config_record(*record, &out).object_id,
                object.at("object_id").get<std::string>());
      const ConfigValue* big = record->find("big-uint");
      ASSERT_NE(big, nullptr);
      EXPECT_EQ(std::get<uint64_t>(*big), (uint64_t{1} << 63) + 5);
    } else {
      // ArrayRecord / RecordDict: a JSON map onto exactly the head's children.
      const Json body = Json::parse(view->body);
      ASSERT_TRUE(body.is_object()) << name;
      std::set<std::string> ids;
      for (const auto& item : body.items()) ids.insert(item.value().get<std::string>());
      EXPECT_EQ(ids, std::set<std::string>(view->children.begin(), view->children.end()));
    }
  }
}

}  // namespace
}  // namespace pollen
