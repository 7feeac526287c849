// One node through a whole exchange, in the order the Python SuperNode
// makes its calls (fixtures/fedavg_2rounds_2nodes): register, activate,
// heartbeat, pull a multi-chunk instruction, confirm, reply, push the
// objects asked for, deactivate, unregister; the driver receives exactly
// the Message the node sent.
#include <gtest/gtest.h>

#include <numeric>

#include "fleet_test_client.h"
#include "pollen/core/deflate.h"
#include "pollen/core/inflate.h"
#include "pollen/core/proto_convert.h"
#include "test_util.h"

namespace pollen::testing {
namespace {

TEST(HappyPathTest, InstructionAndReplyRoundTrip) {
  std::unique_ptr<SuperLinkLite> link = start_link();
  ASSERT_NE(link, nullptr);
  FleetTestClient client(link->address());
  ASSERT_TRUE(client.register_node().ok());
  ASSERT_TRUE(client.activate(30).ok());
  bool success = false;
  ASSERT_TRUE(client.heartbeat(30, &success).ok());
  ASSERT_TRUE(success);
  const uint64_t node = client.node_id();

  // 1.5 M float32 = 6 MB of .npy: two ArrayChunks of at most 5 MiB.
  std::vector<float> weights(1'500'000);
  std::iota(weights.begin(), weights.end(), 0.0f);
  ArrayRecord arrays;
  arrays.set("fc1.weight", float_array(weights, {1500, 1000}));
  arrays.set("fc1.bias", float_array({0.5f, -0.5f}, {2}));
  ConfigRecord config;
  config.set("server-round", int64_t{1});
  RecordDict content;
  content.set("arrays", arrays);
  content.set("config", config);
  const uint64_t run_id = link->create_run();
  Result<std::string> instruction_id = link->push_instruction(run_id, node, "train", content);
  ASSERT_TRUE(instruction_id.ok()) << instruction_id.status();

  fp::PullMessagesResponse pulled;
  ASSERT_TRUE(client.pull_messages(&pulled).ok());
  ASSERT_EQ(pulled.messages_list_size(), 1);
  const ObjectTree tree = from_proto(pulled.message_object_trees(0)).value();
  const ObjectTree& array_node = tree.children.at(0).children.at(0).children.at(0);
  EXPECT_EQ(array_node.children.size(), 2u);  // the two chunks of fc1.weight
  ObjectStore objects;
  Result<Message> instruction =
      client.fetch(pulled.messages_list(0), pulled.message_object_trees(0), &objects);
  ASSERT_TRUE(instruction.ok()) << instruction.status();
  EXPECT_EQ(instruction->metadata.message_id, *instruction_id);
  EXPECT_EQ(instruction->metadata.dst_node_id, node);
  EXPECT_EQ(instruction->content, content);
  ASSERT_TRUE(client.confirm(run_id, *instruction_id).ok());

  Message reply;
  reply.metadata = make_reply_metadata(instruction->metadata, node, unix_now());
  MetricRecord metrics;
  metrics.set("num-examples", int64_t{500});
  metrics.set("train_loss", 0.25);
  RecordDict reply_content;
  reply_content.set("arrays", arrays);
  reply_content.set("metrics", metrics);
  reply.content = reply_content;
  Result<fp::PushMessagesResponse> pushed = client.send_reply(&reply);
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  EXPECT_EQ(pushed->reconnect().reconnect(), 5u);
  ASSERT_EQ(pushed->results_size(), 1);
  EXPECT_EQ(pushed->results().at(reply.metadata.message_id), 0u);
  // The confirm freed the instruction's objects, so every object is wanted.
  const DeflatedMessage deflated = deflate_message(reply).value();
  EXPECT_EQ(static_cast<size_t>(pushed->objects_to_push_size()), deflated.objects.size());

  std::map<std::string, Message> replies = link->wait_for_replies(
      {*instruction_id}, std::chrono::seconds(60), std::chrono::milliseconds(10));
  ASSERT_EQ(replies.count(*instruction_id), 1u);
  const Message& received = replies.at(*instruction_id);
  EXPECT_EQ(received.metadata, reply.metadata);
  EXPECT_EQ(received.content, reply.content);
  EXPECT_FALSE(received.has_error());

  ASSERT_TRUE(client.deactivate().ok());
  ASSERT_TRUE(client.unregister().ok());

  // The recorded session, call by call.
  const size_t pulls = post_order_ids(tree).size();
  std::vector<std::string> expected = {"RegisterNode", "ActivateNode", "SendNodeHeartbeat",
                                       "PullMessages"};
  expected.insert(expected.end(), pulls, "PullObject");
  expected.push_back("ConfirmMessageReceived");
  expected.push_back("PushMessages");
  expected.insert(expected.end(), deflated.objects.size(), "PushObject");
  expected.push_back("DeactivateNode");
  expected.push_back("UnregisterNode");
  std::vector<std::string> methods;
  for (const CallRecord& call : link->call_log()) {
    methods.push_back(call.method);
    EXPECT_EQ(call.code, StatusCode::kOk) << call.method << ": " << call.details;
    EXPECT_EQ(call.node_id, node) << call.method;
  }
  EXPECT_EQ(methods, expected);
}

}  // namespace
}  // namespace pollen::testing
