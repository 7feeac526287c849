// The object trees of a real SuperLink session (two Python SuperNodes, 2
// FedAvg rounds) and of the error probe: every instruction and every reply
// inflates into records, obeys Flower's reply rules, and re-deflates to the
// very same objects and ids.
#include <cmath>
#include <map>

#include <gtest/gtest.h>

#include "flwr/proto/fleet.pb.h"
#include "pollen/core/deflate.h"
#include "pollen/core/inflate.h"
#include "pollen/core/proto_convert.h"
#include "support/transcript.h"

namespace pollen {
namespace {

using testing::load_transcript;
using testing::method_name;
using testing::TranscriptCall;

// One message seen on the wire with the tree it travelled with.
struct WireMessage {
  int seq = 0;
  std::string node;
  flwr::proto::Message proto;
  flwr::proto::ObjectTree tree;
};

struct Session {
  ObjectStore store;
  std::vector<WireMessage> instructions;
  std::vector<WireMessage> replies;
  std::map<std::string, bool> first_chunk;  // chunk id -> starts an Array
};

Session read_session(const char* file) {
  Session s;
  for (const TranscriptCall& call : load_transcript(file)) {
    if (!call.response) continue;  // failed calls carry nothing to check here
    const std::string method = method_name(call);
    if (method == "PullObject") {
      flwr::proto::PullObjectRequest req;
      flwr::proto::PullObjectResponse resp;
      EXPECT_TRUE(req.ParseFromString(call.request) && resp.ParseFromString(*call.response));
      if (!resp.object_found() || !resp.object_available()) continue;
      Status st = s.store.put(req.object_id(), Bytes(resp.object_content()));
      EXPECT_TRUE(st.ok()) << file << " seq " << call.seq << ": " << st;
    } else if (method == "PushObject") {
      flwr::proto::PushObjectRequest req;
      flwr::proto::PushObjectResponse resp;
      EXPECT_TRUE(req.ParseFromString(call.request) && resp.ParseFromString(*call.response));
      if (!resp.stored()) continue;  // the probe's deliberately bad pushes
      Status st = s.store.put(req.object_id(), Bytes(req.object_content()));
      EXPECT_TRUE(st.ok()) << file << " seq " << call.seq << ": " << st;
    } else if (method == "PullMessages") {
      flwr::proto::PullMessagesResponse resp;
      EXPECT_TRUE(resp.ParseFromString(*call.response));
      for (int i = 0; i < resp.messages_list_size(); ++i) {
        s.instructions.push_back(
            {call.seq, call.node, resp.messages_list(i), resp.message_object_trees(i)});
      }
    } else if (method == "PushMessages") {
      flwr::proto::PushMessagesRequest req;
      flwr::proto::PushMessagesResponse resp;
      EXPECT_TRUE(req.ParseFromString(call.request) && resp.ParseFromString(*call.response));
      if (resp.results().count("None")) continue;  // rejected by the SuperLink
      s.replies.push_back({call.seq, call.node, req.messages_list(0), req.message_object_trees(0)});
    }
  }
  return s;
}

// Inflates `wire`, checks its metadata, re-deflates it and compares every
// object with the recorded bytes. Returns the inflated message.
Message check_round_trip(const Session& s, const WireMessage& wire) {
  SCOPED_TRACE("seq " + std::to_string(wire.seq));
  Result<ObjectTree> tree = from_proto(wire.tree);
  EXPECT_TRUE(tree.ok()) << tree.status();
  if (!tree.ok()) return {};
  Result<Message> message = inflate_message(*tree, s.store);
  EXPECT_TRUE(message.ok()) << message.status();
  if (!message.ok()) return {};
  EXPECT_EQ(message->metadata.message_id, wire.proto.metadata().message_id());
  EXPECT_EQ(message->metadata, from_proto(wire.proto.metadata()));
  // Only an empty content placeholder travels in the protobuf.
  EXPECT_EQ(wire.proto.has_content(), message->has_content());
  EXPECT_EQ(wire.proto.content().items_size(), 0);

  Result<DeflatedMessage> again = deflate_message(*message);
  EXPECT_TRUE(again.ok()) << again.status();
  if (!again.ok()) return *message;
  EXPECT_EQ(again->message_id, tree->object_id);
  EXPECT_TRUE(again->tree == *tree);
  for (const auto& [id, object] : again->objects) {
    const Bytes* recorded = s.store.find(id);
    EXPECT_NE(recorded, nullptr) << id;
    if (recorded) {
      EXPECT_EQ(object.bytes(), recorded->view()) << id;
    }
  }
  EXPECT_EQ(to_wire_message(*message).SerializeAsString(), wire.proto.SerializeAsString());
  return *message;
}

TEST(TranscriptObjectsTest, FedAvgInstructionsInflateAndReDeflate) {
  Session s = read_session("fedavg_2rounds_2nodes.jsonl.gz");
  // 2 nodes x 2 rounds x (train + evaluate).
  ASSERT_EQ(s.instructions.size(), 8u);
  int train = 0;
  for (const WireMessage& wire : s.instructions) {
    Message m = check_round_trip(s, wire);
    if (!m.content) continue;
    const ArrayRecord* arrays = find_array_record(*m.content, "arrays");
    ASSERT_NE(arrays, nullptr);
    EXPECT_EQ(arrays->size(), 9u);
    EXPECT_NE(arrays->find("emb.\xc3\xa9t\xc3\xa9"), nullptr);  // "emb.été"
    for (const auto& [name, array] : *arrays) {
      Result<NpyArray> npy = array.to_npy();
      EXPECT_TRUE(npy.ok()) << name << ": " << npy.status();
    }
    const ConfigRecord* config = find_config_record(*m.content, "config");
    ASSERT_NE(config, nullptr);
    ASSERT_NE(config->find("server-round"), nullptr);
    if (m.metadata.message_type == "train" && ++train <= 2) {
      // Round 1: fc1.weight is ((i % 251) - 125) / 128 in 2 chunks.
      Result<NpyArray> w = arrays->find("fc1.weight")->to_npy();
      ASSERT_TRUE(w.ok());
      EXPECT_EQ(w->shape, (std::vector<int64_t>{2000, 1000}));
      const float* v = reinterpret_cast<const float*>(w->data.data());
      for (size_t i = 0; i < 2000000; i += 997) {
        ASSERT_EQ(v[i], static_cast<float>(static_cast<int>(i % 251) - 125) / 128.0f) << i;
      }
      EXPECT_EQ(std::get<uint64_t>(*config->find("big-uint")), (uint64_t{1} << 63) + 5);
    }
  }
}

TEST(TranscriptObjectsTest, FedAvgRepliesFollowFlowerRules) {
  Session s = read_session("fedavg_2rounds_2nodes.jsonl.gz");
  ASSERT_EQ(s.replies.size(), 8u);
  std::map<std::string, Metadata> instructions;
  for (const WireMessage& w : s.instructions) {
    instructions[w.proto.metadata().message_id()] = from_proto(w.proto.metadata());
  }
  for (const WireMessage& wire : s.replies) {
    Message reply = check_round_trip(s, wire);
    auto it = instructions.find(reply.metadata.reply_to_message_id);
    ASSERT_NE(it, instructions.end());
    const Metadata& ins = it->second;
    EXPECT_EQ(reply.metadata.dst_node_id, kSuperLinkNodeId);
    EXPECT_EQ(reply.metadata.src_node_id, ins.dst_node_id);
    EXPECT_EQ(reply.metadata.run_id, ins.run_id);
    EXPECT_EQ(reply.metadata.message_type, ins.message_type);
    // Our reply metadata for the same instruction and time is identical.
    Metadata ours = make_reply_metadata(ins, ins.dst_node_id, reply.metadata.created_at);
    ours.message_id = reply.metadata.message_id;
    EXPECT_EQ(ours, reply.metadata);
    ASSERT_TRUE(reply.content.has_value());
    const MetricRecord* metrics = find_metric_record(*reply.content, "metrics");
    ASSERT_NE(metrics, nullptr);
    EXPECT_NE(metrics->find("num-examples"), nullptr);
  }
}

TEST(TranscriptObjectsTest, FirstChunkOfEveryArrayIsANpyFile) {
  Session s = read_session("fedavg_2rounds_2nodes.jsonl.gz");
  int arrays = 0;
  for (const WireMessage& wire : s.instructions) {
    Result<ObjectTree> tree = from_proto(wire.tree);
    ASSERT_TRUE(tree.ok());
    for (const ObjectTree& record : tree->children[0].children) {
      for (const ObjectTree& array : record.children) {
        for (size_t i = 0; i < array.children.size(); ++i) {
          const Bytes* chunk = s.store.find(array.children[i].object_id);
          ASSERT_NE(chunk, nullptr);
          Result<ObjectView> view = parse_object(chunk->view());
          ASSERT_TRUE(view.ok());
          EXPECT_EQ(view->body.substr(0, 6) == "\x93NUMPY", i == 0);
        }
        ++arrays;
      }
    }
  }
  EXPECT_EQ(arrays, 8 * 9);
}

TEST(TranscriptObjectsTest, ErrorProbeMessagesIncludingErrorReply) {
  Session s = read_session("errors_probe.jsonl.gz");
  ASSERT_FALSE(s.instructions.empty());
  for (const WireMessage& wire : s.instructions) check_round_trip(s, wire);
  int errors = 0;
  for (const WireMessage& wire : s.replies) {
    Message reply = check_round_trip(s, wire);
    if (reply.error) {
      ++errors;
      EXPECT_EQ(reply.error->code, kErrorClientAppRaisedException);
      EXPECT_FALSE(wire.proto.has_content());
    }
  }
  EXPECT_EQ(errors, 1);
}

}  // namespace
}  // namespace pollen
