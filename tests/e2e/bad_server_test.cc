// A server that sends broken instructions: each one gets an Error reply that
// says what was wrong, and the node stays up to answer the next, good one.
#include <gtest/gtest.h>

#include "flwr/proto/fleet.pb.h"
#include "pollen/core/deflate.h"
#include "pollen/core/proto_convert.h"
#include "pollen/core/sha256.h"
#include "pollen/runtime/node.h"
#include "pollen/transport/fleet.h"
#include "scripted_fleet.h"

namespace pollen {
namespace {

namespace fp = flwr::proto;
using testing::ScriptedFleet;

constexpr uint64_t kNode = 0xF00DF00DF00DF00Dull;  // above 2^63, as node ids may be
constexpr uint64_t kRun = 77;

// Echoes the arrays back with one example.
class EchoClient final : public DispatchingClient {
 protected:
  Result<RecordDict> train(const Message& m) override {
    const ArrayRecord* arrays = find_array_record(*m.content, "arrays");
    if (arrays == nullptr) return invalid_argument("no 'arrays' record");
    RecordDict reply;
    reply.set("arrays", *arrays);
    MetricRecord metrics;
    metrics.set("num-examples", int64_t{1});
    reply.set("metrics", metrics);
    return reply;
  }
};

// An EchoClient that remembers the ids of the instructions it handled.
class CountingClient final : public Client {
 public:
  Result<RecordDict> handle(const Message& m) override {
    handled.push_back(m.metadata.message_id);
    return echo_.handle(m);
  }
  std::vector<std::string> handled;

 private:
  EchoClient echo_;
};

// Distinct `seed`s give distinct arrays, so cases share no array objects.
Message instruction(float seed, const std::string& type = "train") {
  const float w[] = {seed, 2, 3};
  ArrayRecord arrays;
  arrays.set("w", *Array::from_elements(DType::kFloat32, {3}, w, sizeof(w)));
  ConfigRecord config;
  config.set("server-round", int64_t{1});
  Message m;
  m.metadata.run_id = kRun;
  m.metadata.src_node_id = kSuperLinkNodeId;
  m.metadata.dst_node_id = kNode;
  m.metadata.message_type = type;
  m.metadata.created_at = unix_now();
  m.content.emplace();
  m.content->set("arrays", arrays);
  m.content->set("config", config);
  return m;
}

// An instruction as the server would list it, plus its objects' bytes.
struct Served {
  fp::PullMessagesResponse envelope;
  ScriptedFleet::Objects objects;
  ObjectTree tree;
};

Served serve(Message m) {
  Served s;
  DeflatedMessage d = deflate_message(m).value();
  for (const auto& [id, object] : d.objects) s.objects[id] = object.bytes();
  m.metadata.message_id = d.message_id;
  *s.envelope.add_messages_list() = to_wire_message(m);
  to_proto(d.tree, s.envelope.add_message_object_trees());
  s.tree = d.tree;
  return s;
}

// An object whose hash is right but whose JSON body is not (so only the
// structure checks can catch it): the tree is rebuilt around it.
Served malformed_array_record(float seed) {
  Served s = serve(instruction(seed));
  auto object = [&](const std::string& content) {
    std::string id = sha256_hex(content);
    s.objects[id] = content;
    return id;
  };
  const ObjectTree& array = s.tree.children[0].children[0].children[0];
  const std::string body = "{\"w\": 12}";  // a number where an id belongs
  const std::string record =
      object(object_head(ObjectType::kArrayRecord, {array.object_id}, body.size()) + body);
  const ObjectTree& config = s.tree.children[0].children[1];
  const std::string dict_body =
      "{\"arrays\": \"" + record + "\", \"config\": \"" + config.object_id + "\"}";
  const std::string dict =
      object(object_head(ObjectType::kRecordDict, {record, config.object_id}, dict_body.size()) +
             dict_body);
  fp::Message body_proto;
  *body_proto.mutable_metadata() = s.envelope.messages_list(0).metadata();
  body_proto.mutable_metadata()->clear_message_id();
  const std::string message_body = serialize_deterministic(body_proto);
  const std::string root =
      object(object_head(ObjectType::kMessage, {dict}, message_body.size()) + message_body);
  ObjectTree tree{root, {ObjectTree{dict, {ObjectTree{record, {array}}, config}}}};
  s.envelope.mutable_messages_list(0)->mutable_metadata()->set_message_id(root);
  s.envelope.clear_message_object_trees();
  to_proto(tree, s.envelope.add_message_object_trees());
  return s;
}

// Serves `served` in order to one node running `client` until it has sent
// `replies` replies; returns the node's status and fills `stats` and the
// fleet's record of the calls.
Status run_against(ScriptedFleet& fleet, Client& client, int64_t replies, NodeStats* stats) {
  const int port = fleet.start();
  FleetOptions options;
  options.superlink = "127.0.0.1:" + std::to_string(port);
  options.insecure = true;
  options.retry.max_retries = 2;
  POLLEN_ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection, connect_fleet(options));
  NodeOptions node;
  node.poll_interval = 0.02;
  node.max_replies = replies;
  node.linger = 0;
  StopFlag stop;
  Status status = run_node(*connection, client, node, stop, stats);
  fleet.stop();
  return status;
}

// The envelopes of `served` in order, and all their objects.
std::pair<std::vector<fp::PullMessagesResponse>, ScriptedFleet::Objects> script(
    const std::vector<Served>& served) {
  std::vector<fp::PullMessagesResponse> envelopes;
  ScriptedFleet::Objects objects;
  for (const Served& s : served) {
    envelopes.push_back(s.envelope);
    objects.insert(s.objects.begin(), s.objects.end());
  }
  return {envelopes, objects};
}

TEST(BadServerTest, EveryBrokenInstructionGetsAnErrorReplyAndTheNodeStaysUp) {
  // (text the error reply must contain, instruction as served)
  std::vector<std::pair<std::string, Served>> cases;
  auto array_of = [](const Served& s) { return s.tree.children[0].children[0].children[0]; };
  cases.push_back({"does not match its id", serve(instruction(1))});
  const std::string chunk_id = array_of(cases.back().second).children[0].object_id;
  cases.back().second.objects[chunk_id] = "ArrayChunk  3" + std::string(1, '\0') + "abc";
  cases.push_back({"is not on the SuperLink", serve(instruction(2))});
  cases.back().second.objects.erase(array_of(cases.back().second).object_id);
  cases.push_back({"'w'", malformed_array_record(3)});
  Served mismatch = serve(instruction(4));
  mismatch.envelope.mutable_message_object_trees(0)->mutable_children(0)->clear_children();
  cases.push_back({"children", mismatch});
  Served wrong_dst = serve(instruction(5));
  wrong_dst.envelope.mutable_messages_list(0)->mutable_metadata()->set_dst_node_id(12345);
  cases.push_back({"12345", wrong_dst});
  cases.push_back({"queries", serve(instruction(6, "query.unknown_action"))});
  cases.push_back({"", serve(instruction(7))});  // a good one last

  std::vector<Served> served;
  for (const auto& [_, s] : cases) served.push_back(s);
  const auto [envelopes, objects] = script(served);
  ScriptedFleet fleet(kNode, envelopes, objects);
  EchoClient client;
  NodeStats stats;
  ASSERT_TRUE(run_against(fleet, client, static_cast<int64_t>(cases.size()), &stats).ok());

  const auto pushes = fleet.pushes();
  ASSERT_EQ(pushes.size(), cases.size());
  for (size_t i = 0; i + 1 < cases.size(); ++i) {
    const fp::Message& reply = pushes[i].messages_list(0);
    ASSERT_TRUE(reply.has_error()) << "case " << i;
    EXPECT_FALSE(reply.has_content());
    EXPECT_EQ(reply.error().code(), kErrorClientAppRaisedException);
    EXPECT_NE(reply.error().reason().find(cases[i].first), std::string::npos)
        << "case " << i << ": " << reply.error().reason();
    EXPECT_EQ(reply.metadata().reply_to_message_id(),
              envelopes[i].messages_list(0).metadata().message_id());
  }
  EXPECT_FALSE(pushes.back().messages_list(0).has_error());
  EXPECT_TRUE(pushes.back().messages_list(0).has_content());
  EXPECT_EQ(stats.error_replies, static_cast<int64_t>(cases.size()) - 1);
  EXPECT_EQ(fleet.unsigned_calls(), 0);
}

// The node's own expiry check: an instruction whose created_at + ttl has
// passed (here one that lived an hour and was created two hours ago) is
// pulled but neither handed to the client nor answered, and the node goes
// on to the next instruction. Times are relative to now, so any date works.
TEST(BadServerTest, AnExpiredInstructionIsSkippedAndTheNextOneServed) {
  Message expired = instruction(1);
  expired.metadata.created_at = unix_now() - 7200;
  expired.metadata.ttl = 3600;
  const auto [envelopes, objects] = script({serve(expired), serve(instruction(2))});
  ScriptedFleet fleet(kNode, envelopes, objects);
  CountingClient client;
  NodeStats stats;
  ASSERT_TRUE(run_against(fleet, client, 1, &stats).ok());

  EXPECT_EQ(stats.instructions, 2);
  EXPECT_EQ(stats.dropped, 1);
  EXPECT_EQ(stats.replies, 1);
  ASSERT_EQ(client.handled.size(), 1u);  // the expired one never reached the client
  EXPECT_EQ(client.handled[0], envelopes[1].messages_list(0).metadata().message_id());
  const auto pushes = fleet.pushes();
  ASSERT_EQ(pushes.size(), 1u);
  EXPECT_EQ(pushes[0].messages_list(0).metadata().reply_to_message_id(), client.handled[0]);
  EXPECT_TRUE(pushes[0].messages_list(0).has_content());
  EXPECT_TRUE(fleet.all_served());
}

}  // namespace
}  // namespace pollen
