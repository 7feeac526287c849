// Object framing, deflate/inflate round trips and every kind of bad input a
// server (or the network) could hand us: each gives a clear Status.
#include <functional>

#include <gtest/gtest.h>

#include "pollen/core/deflate.h"
#include "pollen/core/inflate.h"
#include "pollen/core/sha256.h"

namespace pollen {
namespace {

const std::string kId(64, 'a');

std::string object(std::string_view head, std::string_view body) {
  return std::string(head) + std::string(1, '\0') + std::string(body);
}

TEST(ObjectFramingTest, ParsesValidHeads) {
  const std::string content = object("ArrayChunk  3", "abc");
  Result<ObjectView> chunk = parse_object(content);
  ASSERT_TRUE(chunk.ok()) << chunk.status();
  EXPECT_EQ(chunk->type, ObjectType::kArrayChunk);
  EXPECT_TRUE(chunk->children.empty());
  EXPECT_EQ(chunk->body, "abc");

  const std::string two = "RecordDict " + kId + "," + std::string(64, 'b') + " 2";
  const std::string dict_content = object(two, "{}");
  Result<ObjectView> dict = parse_object(dict_content);
  ASSERT_TRUE(dict.ok());
  EXPECT_EQ(dict->children.size(), 2u);
  EXPECT_EQ(object_head(ObjectType::kRecordDict, dict->children, 2), two + std::string(1, '\0'));
}

TEST(ObjectFramingTest, RejectsMalformedObjects) {
  struct Case {
    std::string content;
    std::string message_part;
  };
  const Case cases[] = {
      {"ArrayChunk  3abc", "no NUL"},
      {object("ArrayChunk 3", "abc"), "three space-separated fields"},
      {object("ArrayChunk   3", "abc"), "three space-separated fields"},
      {object("Bogus  3", "abc"), "unknown object type 'Bogus'"},
      {object("ArrayChunk  4", "abc"), "declares a body of 4 bytes but has 3"},
      {object("ArrayChunk  x", "abc"), "not a decimal number"},
      {object("ArrayChunk  -3", "abc"), "not a decimal number"},
      {object("ArrayChunk  ", "abc"), "not a decimal number"},
      {object("ArrayChunk  99999999999999999999999", "abc"), "not a decimal number"},
      {object("Array not-an-id 3", "abc"), "not 64 lowercase hex"},
      {object("Array " + kId + ", 3", "abc"), "not 64 lowercase hex"},
      {object("Array " + std::string(64, 'A') + " 3", "abc"), "not 64 lowercase hex"},
      {"", "no NUL"},
  };
  for (const Case& c : cases) {
    Result<ObjectView> view = parse_object(c.content);
    ASSERT_FALSE(view.ok()) << c.content;
    EXPECT_EQ(view.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(view.status().message().find(c.message_part), std::string::npos)
        << view.status().message();
  }
}

TEST(ObjectStoreTest, VerifiesIdsAndFraming) {
  ObjectStore store;
  const std::string good = object("ArrayChunk  3", "abc");
  const std::string id = sha256_hex(good);
  EXPECT_TRUE(store.put(id, Bytes(good)).ok());
  EXPECT_TRUE(store.contains(id));

  Status mismatch = store.put(std::string(64, '0'), Bytes(good));
  EXPECT_EQ(mismatch.code(), StatusCode::kDataLoss);
  EXPECT_NE(mismatch.message().find("does not match its id"), std::string::npos);
  EXPECT_FALSE(store.put("not-an-id", Bytes(good)).ok());

  const std::string bad = object("Bogus  3", "abc");  // hash matches, framing does not
  EXPECT_FALSE(store.put(sha256_hex(bad), Bytes(bad)).ok());
  EXPECT_EQ(store.size(), 1u);
}

Message sample_message() {
  std::vector<float> w(300);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i) * 0.5f;
  ArrayRecord arrays;
  arrays.set("w", *Array::from_elements(DType::kFloat32, {10, 30}, w.data(), w.size() * 4));
  arrays.set("w_again", *arrays.find("w"));  // shared Array, listed once
  const int64_t steps = 7;
  arrays.set("steps", *Array::from_elements(DType::kInt64, {}, &steps, 8));
  MetricRecord metrics;
  metrics.set("num-examples", int64_t{64});
  metrics.set("acc", std::vector<double>{0.5, 0.75});
  metrics.set("big", uint64_t{1} << 63);
  ConfigRecord config;
  config.set("lr", 0.01);
  config.set("name", std::string("caf\xc3\xa9"));
  config.set("blob", Blob{std::string("\0\1\2", 3)});
  config.set("flags", std::vector<bool>{true, false});
  config.set("names", std::vector<std::string>{"a", "b"});
  Message m;
  m.metadata.run_id = 18446744073709551615ull;  // full uint64 range
  m.metadata.src_node_id = 1;
  m.metadata.dst_node_id = 9223372036854775809ull;
  m.metadata.message_type = "train";
  m.metadata.created_at = 1767225600.5;
  m.content.emplace();
  m.content->set("arrays", arrays);
  m.content->set("metrics", metrics);
  m.content->set("config", config);
  return m;
}

ObjectStore store_of(const DeflatedMessage& d) {
  ObjectStore store;
  for (const auto& [id, object] : d.objects) EXPECT_TRUE(store.put(id, Bytes(object.bytes())).ok());
  return store;
}

TEST(DeflateInflateTest, RoundTripWithSmallChunks) {
  const Message m = sample_message();
  for (size_t chunk : {size_t{7}, size_t{128}, kMaxArrayChunkSize}) {
    Result<DeflatedMessage> d = deflate_message(m, DeflateOptions{chunk});
    ASSERT_TRUE(d.ok()) << d.status();
    ObjectStore store = store_of(*d);
    Result<Message> back = inflate_message(d->tree, store);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->metadata.message_id, d->message_id);
    Metadata expected = m.metadata;
    expected.message_id = d->message_id;
    EXPECT_EQ(back->metadata, expected);
    EXPECT_TRUE(back->content == m.content);
    // Same content gives the same id whatever the chunk size? No: chunking is
    // part of the object, so only the default size matches Flower's ids.
  }
  // The shared Array appears once in the ArrayRecord's children.
  Result<DeflatedMessage> d = deflate_message(m);
  EXPECT_EQ(d->tree.children[0].children[0].children.size(), 2u);
}

TEST(DeflateInflateTest, MessageMustHaveContentXorError) {
  Message neither;
  neither.metadata.message_type = "train";
  EXPECT_EQ(deflate_message(neither).status().code(), StatusCode::kInvalidArgument);
  Message both = sample_message();
  both.error = Error{2, "x"};
  EXPECT_FALSE(deflate_message(both).ok());
}

TEST(DeflateInflateTest, RejectsInvalidUtf8Keys) {
  ArrayRecord arrays;
  arrays.set("bad\xff", Array{});
  DeflatedObjects out;
  Result<ObjectTree> tree = deflate_array_record(arrays, &out);
  ASSERT_FALSE(tree.ok());
  EXPECT_NE(tree.status().message().find("UTF-8"), std::string::npos);
}

TEST(DeflateInflateTest, MissingObjectsAndTreeMismatch) {
  Result<DeflatedMessage> d = deflate_message(sample_message(), DeflateOptions{100});
  ASSERT_TRUE(d.ok());
  ObjectStore store = store_of(*d);

  // Any missing object is NOT_FOUND naming it.
  for (const std::string& id : post_order_ids(d->tree)) {
    ObjectStore partial = store_of(*d);
    partial.erase(id);
    Result<Message> m = inflate_message(d->tree, partial);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
    EXPECT_NE(m.status().message().find(id), std::string::npos);
  }
  // A tree whose children disagree with the heads.
  ObjectTree wrong = d->tree;
  wrong.children[0].children.pop_back();
  EXPECT_EQ(inflate_message(wrong, store).status().code(), StatusCode::kDataLoss);
  ObjectTree swapped = d->tree;
  std::swap(swapped.children[0].children[0], swapped.children[0].children[1]);
  EXPECT_FALSE(inflate_message(swapped, store).ok());
  // A tree rooted at something that is not a Message.
  EXPECT_FALSE(inflate_message(d->tree.children[0], store).ok());
}

// Builds an object and adds it to `store`; returns its tree node.
ObjectTree add(ObjectStore* store, ObjectType type, std::vector<ObjectTree> children,
               const std::string& body) {
  std::vector<std::string> ids;
  for (const auto& c : children) ids.push_back(c.object_id);
  const std::string content = object_head(type, ids, body.size()) + body;
  const std::string id = sha256_hex(content);
  EXPECT_TRUE(store->put(id, Bytes(content)).ok());
  return ObjectTree{id, std::move(children)};
}

TEST(DeflateInflateTest, BadJsonBodies) {
  ObjectStore store;
  ObjectTree chunk = add(&store, ObjectType::kArrayChunk, {}, "xyz");
  const std::string bodies[] = {
      "not json",
      "[1, 2]",
      R"({"dtype": 5, "shape": [3], "stype": "numpy.ndarray", "arraychunk_ids": [0]})",
      R"({"dtype": "uint8", "shape": "3", "stype": "numpy.ndarray", "arraychunk_ids": [0]})",
      R"({"dtype": "uint8", "shape": [3], "stype": "numpy.ndarray", "arraychunk_ids": [1]})",
      R"({"dtype": "uint8", "shape": [3], "stype": "numpy.ndarray", "arraychunk_ids": [-1]})",
      R"({"dtype": "uint8", "shape": [3], "stype": "numpy.ndarray", "arraychunk_ids": []})",
      R"({"dtype": "uint8", "shape": [1e3], "stype": "numpy.ndarray", "arraychunk_ids": [0]})",
      R"({"dtype": "uint8", "shape": [18446744073709551615], "stype": "x", "arraychunk_ids": [0]})",
      R"({"dtype": "uint8", "shape": [3], "arraychunk_ids": [0]})",
  };
  for (const std::string& body : bodies) {
    ObjectTree array = add(&store, ObjectType::kArray, {chunk}, body);
    Result<Array> result = inflate_array(array, store);
    ASSERT_FALSE(result.ok()) << body;
    EXPECT_EQ(result.status().code(), StatusCode::kDataLoss) << body;
  }
  // Records that name children they do not have, or do not name all of them.
  ObjectTree good_array = add(&store, ObjectType::kArray, {chunk},
                              R"({"dtype": "uint8", "shape": [3], "stype": "numpy.ndarray", )"
                              R"("arraychunk_ids": [0, 0]})");
  ASSERT_TRUE(inflate_array(good_array, store).ok());
  EXPECT_EQ(inflate_array(good_array, store)->data.view(), "xyzxyz");
  const std::string id = good_array.object_id;
  const std::string record_bodies[] = {"{}", R"({"a": ")" + kId + R"("})", R"({"a": 1})",
                                       R"({"a": ")" + id + R"(", "b": ")" + kId + R"("})"};
  for (const std::string& body : record_bodies) {
    ObjectTree record = add(&store, ObjectType::kArrayRecord, {good_array}, body);
    EXPECT_EQ(inflate_array_record(record, store).status().code(), StatusCode::kDataLoss) << body;
  }
  // A chunk where an Array must be.
  ObjectTree record =
      add(&store, ObjectType::kArrayRecord, {chunk}, R"({"a": ")" + chunk.object_id + R"("})");
  EXPECT_FALSE(inflate_array_record(record, store).ok());
}

TEST(DeflateInflateTest, ArraySizeLimitBeforeAllocation) {
  ObjectStore store;
  ObjectTree chunk = add(&store, ObjectType::kArrayChunk, {}, std::string(1000, 'x'));
  std::string ids = "[0";
  for (int i = 0; i < 999; ++i) ids += ", 0";
  ObjectTree array = add(&store, ObjectType::kArray, {chunk},
                         R"({"dtype": "uint8", "shape": [], "stype": "numpy.ndarray", )"
                         R"("arraychunk_ids": )" +
                             ids + "]}");
  Result<Array> limited = inflate_array(array, store, InflateOptions{100000});
  EXPECT_EQ(limited.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(inflate_array(array, store).ok());
}

// Corrupting any byte of any object never crashes: either the id check, the
// framing check or inflation reports it.
TEST(DeflateInflateTest, CorruptedObjectsNeverCrash) {
  Result<DeflatedMessage> d = deflate_message(sample_message(), DeflateOptions{256});
  ASSERT_TRUE(d.ok());
  for (const auto& [id, object] : d->objects) {
    const std::string bytes = object.bytes();
    for (size_t i = 0; i < bytes.size(); i += 1 + bytes.size() / 97) {
      for (char flip : {'\0', ' ', ',', '9', '\xff'}) {
        std::string corrupt = bytes;
        corrupt[i] = flip;
        if (corrupt == bytes) continue;
        const std::string corrupt_id = sha256_hex(corrupt);
        ObjectStore store = store_of(*d);
        store.erase(id);
        // Stored under its own (new) id it may pass the hash check; the tree
        // still points at the old id, so inflation must fail cleanly.
        store.put(corrupt_id, Bytes(corrupt)).ignore();
        EXPECT_FALSE(store.put(id, Bytes(corrupt)).ok());
        EXPECT_FALSE(inflate_message(d->tree, store).ok());
        ObjectTree retargeted = d->tree;
        // Rewire the tree to the corrupt object where the original was.
        std::function<void(ObjectTree*)> rewire = [&](ObjectTree* t) {
          if (t->object_id == id) t->object_id = corrupt_id;
          for (auto& c : t->children) rewire(&c);
        };
        rewire(&retargeted);
        inflate_message(retargeted, store).status().ignore();  // must not crash
      }
    }
  }
}

TEST(MessageTest, MessageTypeRules) {
  for (const char* ok : {"train", "evaluate", "query", "system", "train.custom", "query.a_1"}) {
    EXPECT_TRUE(validate_message_type(ok).ok()) << ok;
  }
  for (const char* bad : {"", "fit", "train.", "train.1x", "train.a.b", "Train", "train.a-b"}) {
    EXPECT_FALSE(validate_message_type(bad).ok()) << bad;
  }
}

TEST(MessageTest, ReplyMetadataFollowsFlower) {
  Metadata ins;
  ins.run_id = 42;
  ins.message_id = kId;
  ins.src_node_id = kSuperLinkNodeId;
  ins.dst_node_id = 77;
  ins.group_id = "3";
  ins.message_type = "evaluate";
  ins.ttl = 43200;
  ins.created_at = 1767225600.0;
  Metadata reply = make_reply_metadata(ins, 77, 1767225605.5);
  EXPECT_EQ(reply.run_id, 42u);
  EXPECT_EQ(reply.src_node_id, 77u);
  EXPECT_EQ(reply.dst_node_id, kSuperLinkNodeId);
  EXPECT_EQ(reply.reply_to_message_id, kId);
  EXPECT_EQ(reply.group_id, "3");
  EXPECT_EQ(reply.message_type, "evaluate");
  EXPECT_DOUBLE_EQ(reply.ttl, 43194.5);
  EXPECT_TRUE(reply.message_id.empty());
}

}  // namespace
}  // namespace pollen
