// Reproduces every vector of vectors.json (made by Flower 1.28's own code)
// bit for bit: object bytes, object ids, the tree and the PushMessages bytes.
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include "pollen/core/deflate.h"
#include "pollen/core/proto_convert.h"
#include "pollen/core/sha256.h"
#include "support/test_data.h"

namespace pollen {
namespace {

using testing::hex_decode;
using testing::hex_encode;

class VectorsTest : public ::testing::Test {
 protected:
  void SetUp() override { vectors_ = testing::load_json("vectors.json"); }

  Array array_2x2() {
    const float values[] = {1, 2, 3, 4};
    Result<Array> array = Array::from_elements(DType::kFloat32, {2, 2}, values, sizeof(values));
    EXPECT_TRUE(array.ok()) << array.status();
    return *array;
  }
  MetricRecord metrics() {
    MetricRecord m;
    m.set("num-examples", int64_t{10});
    m.set("train_loss", 0.5);
    return m;
  }
  Metadata metadata() {
    Metadata m;
    m.run_id = 1234;
    m.src_node_id = 5678;
    m.dst_node_id = 1;
    for (int i = 0; i < 32; ++i) m.reply_to_message_id += "ab";
    m.ttl = 3600.0;
    m.message_type = "train";
    m.created_at = 1767225600.25;
    return m;
  }
  Message train_reply() {
    ArrayRecord arrays;
    arrays.set("0", array_2x2());
    Message message;
    message.metadata = metadata();
    message.content.emplace();
    message.content->set("arrays", std::move(arrays));
    message.content->set("metrics", metrics());
    return message;
  }

  // The object `tree` points at must equal vector `name` byte for byte.
  void expect_object(const DeflatedObjects& objects, const ObjectTree& tree,
                     const std::string& name) {
    const auto& v = vectors_.at(name);
    EXPECT_EQ(tree.object_id, v.at("object_id").get<std::string>()) << name;
    const DeflatedObject* object = objects.find(tree.object_id);
    ASSERT_NE(object, nullptr) << name;
    EXPECT_EQ(hex_encode(object->bytes()), v.at("hex").get<std::string>()) << name;
    EXPECT_EQ(object->size(), v.at("len").get<size_t>()) << name;
    EXPECT_EQ(sha256_hex(object->bytes()), tree.object_id) << name;
  }

  nlohmann::ordered_json vectors_;
};

TEST_F(VectorsTest, NpyBytes) {
  const auto& v = vectors_.at("npy_float32_2x2");
  Array array = array_2x2();
  EXPECT_EQ(hex_encode(array.data.view()), v.at("hex").get<std::string>());
  EXPECT_EQ(array.dtype, v.at("dtype").get<std::string>());
  EXPECT_EQ(array.shape, v.at("shape").get<std::vector<int64_t>>());
  EXPECT_EQ(array.stype, v.at("stype").get<std::string>());
}

TEST_F(VectorsTest, ArrayAndChunk) {
  DeflatedObjects objects;
  Result<ObjectTree> tree = deflate_array(array_2x2(), &objects);
  ASSERT_TRUE(tree.ok()) << tree.status();
  expect_object(objects, *tree, "Array_float32_2x2");
  ASSERT_EQ(tree->children.size(), 1u);
  expect_object(objects, tree->children[0], "ArrayChunk_of_float32_2x2");
}

TEST_F(VectorsTest, Records) {
  DeflatedObjects objects;
  ArrayRecord arrays;
  arrays.set("0", array_2x2());
  Result<ObjectTree> array_tree = deflate_array_record(arrays, &objects);
  ASSERT_TRUE(array_tree.ok());
  expect_object(objects, *array_tree, "ArrayRecord");
  expect_object(objects, deflate_metric_record(metrics(), &objects), "MetricRecord");

  ConfigRecord config;
  config.set("server-round", int64_t{1});
  config.set("lr", 0.01);
  config.set("name", std::string("x"));
  config.set("flag", true);
  expect_object(objects, deflate_config_record(config, &objects), "ConfigRecord");

  Result<ObjectTree> dict = deflate_record_dict(*train_reply().content, &objects);
  ASSERT_TRUE(dict.ok());
  expect_object(objects, *dict, "RecordDict");
}

TEST_F(VectorsTest, TrainReplyMessageTreeAndWireBytes) {
  Message reply = train_reply();
  Result<DeflatedMessage> d = deflate_message(reply);
  ASSERT_TRUE(d.ok()) << d.status();
  expect_object(d->objects, d->tree, "Message_reply_train");

  flwr::proto::ObjectTree expected_tree;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      vectors_.at("Message_reply_train").at("object_tree").get<std::string>(), &expected_tree));
  flwr::proto::ObjectTree tree;
  to_proto(d->tree, &tree);
  EXPECT_EQ(tree.SerializeAsString(), expected_tree.SerializeAsString());
  EXPECT_EQ(
      post_order_ids(d->tree),
      vectors_.at("Message_reply_train").at("post_order_ids").get<std::vector<std::string>>());

  reply.metadata.message_id = d->message_id;
  EXPECT_EQ(hex_encode(to_wire_message(reply).SerializeAsString()),
            vectors_.at("PushMessages_messages_list0_hex").get<std::string>());
}

TEST_F(VectorsTest, ErrorReplyMessageAndWireBytes) {
  Message reply;
  reply.metadata = metadata();
  reply.error = Error{kErrorClientAppRaisedException, "boom"};
  Result<DeflatedMessage> d = deflate_message(reply);
  ASSERT_TRUE(d.ok()) << d.status();
  expect_object(d->objects, d->tree, "Message_reply_error");
  EXPECT_TRUE(d->tree.children.empty());
  reply.metadata.message_id = d->message_id;
  EXPECT_EQ(hex_encode(to_wire_message(reply).SerializeAsString()),
            vectors_.at("PushMessages_error_messages_list0_hex").get<std::string>());
}

TEST_F(VectorsTest, TwelveMiBArraySplitsIntoThreeChunks) {
  const auto& v = vectors_.at("big_zeros_array");
  std::vector<float> zeros(3145728, 0.0f);
  Result<Array> array =
      Array::from_elements(DType::kFloat32, {3145728}, zeros.data(), zeros.size() * 4);
  ASSERT_TRUE(array.ok());
  EXPECT_EQ(array->data.size(), v.at("data_len").get<size_t>());
  DeflatedObjects objects;
  Result<ObjectTree> tree = deflate_array(*array, &objects);
  ASSERT_TRUE(tree.ok());
  std::vector<std::string> children;
  for (const ObjectTree& c : tree->children) children.push_back(c.object_id);
  EXPECT_EQ(children, v.at("unique_children").get<std::vector<std::string>>());
  const DeflatedObject* object = objects.find(tree->object_id);
  ASSERT_NE(object, nullptr);
  EXPECT_EQ(object->head(), v.at("head").get<std::string>() + std::string(1, '\0'));
  EXPECT_EQ(object->body().view(), v.at("body").get<std::string>());
  // Chunks are slices of the array's own buffer: no copy was made.
  const DeflatedObject* first = objects.find(children[0]);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->body().data(), array->data.data());
}

TEST_F(VectorsTest, NpyHeadersForEveryDtype) {
  const std::pair<const char*, DType> dtypes[] = {
      {"float32", DType::kFloat32}, {"float64", DType::kFloat64}, {"int64", DType::kInt64},
      {"int32", DType::kInt32},     {"uint8", DType::kUInt8},     {"bool", DType::kBool},
      {"float16", DType::kFloat16}};
  for (const auto& [name, dtype] : dtypes) {
    const auto& v = vectors_.at("npy_headers").at(name);
    Result<std::string> header = npy_header(dtype, {2, 3});
    ASSERT_TRUE(header.ok()) << name;
    EXPECT_EQ(hex_encode(header->substr(0, 10)), v.at("prefix_hex").get<std::string>()) << name;
    EXPECT_EQ(header->substr(10), v.at("header").get<std::string>()) << name;
    EXPECT_EQ(header->size(), v.at("total_header_bytes").get<size_t>()) << name;
  }
  Result<std::string> scalar = npy_header(DType::kFloat32, {});
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(scalar->substr(10),
            vectors_.at("npy_headers").at("scalar_float32").at("header").get<std::string>());
}

}  // namespace
}  // namespace pollen
