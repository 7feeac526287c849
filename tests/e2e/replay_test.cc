// Replays the real SuperLink's answers to Python SuperNode A (recorded in
// fedavg_2rounds_2nodes) to a Pollen node, and checks Pollen's requests
// against the ones Python sent, call by call and message by message.
//
// The recording's instructions were created on the day it was made, with
// Flower's 12 h lifetime: served as recorded, they expire and the node
// rightly skips them. So the replay moves every instruction's created_at
// onto the test's own clock (as old, relative to the session's first call,
// as it was when recorded) and deflates it again; only the Message objects
// and ids change, the content and its object ids stay the recorded ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "flwr/proto/fleet.pb.h"
#include "pollen/core/deflate.h"
#include "pollen/core/inflate.h"
#include "pollen/core/proto_convert.h"
#include "pollen/core/sha256.h"
#include "pollen/core/signing.h"
#include "pollen/runtime/node.h"
#include "pollen/transport/fleet.h"
#include "scripted_fleet.h"
#include "support/transcript.h"

namespace pollen {
namespace {

namespace fp = flwr::proto;
using testing::TranscriptCall;

// What node A was told and what it answered.
struct Recording {
  uint64_t node_id = 0;
  std::vector<std::string> methods;  // A's calls, in order
  std::vector<fp::PullMessagesResponse> instructions;
  std::map<std::string, fp::PushMessagesRequest> replies;   // by reply_to id
  std::map<std::string, fp::PushMessagesResponse> answers;  // by reply_to id
  ObjectStore objects;                                      // everything pulled or pushed
  double started_at = 0;  // Unix time of A's first call (its signed timestamp)
};

// The Unix time a recorded call was signed at.
double signed_at(const TranscriptCall& call) {
  for (const auto& [key, value] : call.request_metadata) {
    if (key != kTimestampMetadata) continue;
    Result<std::chrono::system_clock::time_point> t = parse_flwr_timestamp(value);
    if (!t.ok()) break;
    return std::chrono::duration<double>(t->time_since_epoch()).count();
  }
  ADD_FAILURE() << "call " << call.seq << " has no readable " << kTimestampMetadata;
  return 0;
}

Recording load_recording() {
  Recording r;
  for (const TranscriptCall& call : testing::load_transcript("fedavg_2rounds_2nodes.jsonl.gz")) {
    const std::string method = testing::method_name(call);
    if (method == "PullObject") {
      fp::PullObjectRequest req;
      fp::PullObjectResponse resp;
      req.ParseFromString(call.request);
      resp.ParseFromString(*call.response);
      r.objects.put(req.object_id(), Bytes(resp.object_content())).ignore();
    } else if (method == "PushObject") {
      fp::PushObjectRequest req;
      req.ParseFromString(call.request);
      r.objects.put(req.object_id(), Bytes(req.object_content())).ignore();
    }
    if (call.node != "A") continue;
    if (r.methods.empty()) r.started_at = signed_at(call);
    r.methods.push_back(method);
    if (method == "ActivateNode") {
      fp::ActivateNodeResponse resp;
      resp.ParseFromString(*call.response);
      r.node_id = resp.node_id();
    } else if (method == "PullMessages") {
      fp::PullMessagesResponse resp;
      resp.ParseFromString(*call.response);
      if (resp.messages_list_size() > 0) r.instructions.push_back(resp);
    } else if (method == "PushMessages") {
      fp::PushMessagesRequest req;
      fp::PushMessagesResponse resp;
      req.ParseFromString(call.request);
      resp.ParseFromString(*call.response);
      const std::string& reply_to = req.messages_list(0).metadata().reply_to_message_id();
      r.replies[reply_to] = req;
      r.answers[reply_to] = resp;
    }
  }
  return r;
}

// The recorded instructions moved `shift` seconds later, as the SuperLink
// would serve them: envelopes, every object by id, and the recorded id of
// each new Message id.
struct Rebased {
  std::vector<fp::PullMessagesResponse> instructions;
  testing::ScriptedFleet::Objects objects;
  std::map<std::string, std::string> recorded_id;
};

Result<Rebased> rebase(const Recording& rec, double shift) {
  Rebased out;
  for (const fp::PullMessagesResponse& recorded : rec.instructions) {
    POLLEN_ASSIGN_OR_RETURN(ObjectTree tree, from_proto(recorded.message_object_trees(0)));
    if (tree.children.size() != 1) return invalid_argument("instruction without content");
    Message m;
    m.metadata = from_proto(recorded.messages_list(0).metadata());
    m.metadata.created_at += shift;
    m.metadata.message_id.clear();
    POLLEN_ASSIGN_OR_RETURN(m.content, inflate_record_dict(tree.children[0], rec.objects));
    POLLEN_ASSIGN_OR_RETURN(DeflatedMessage d, deflate_message(m));
    if (d.tree.children.at(0).object_id != tree.children[0].object_id) {
      return internal_error("re-deflated content differs from the recorded one");
    }
    for (const auto& [id, object] : d.objects) out.objects[id] = object.bytes();
    m.metadata.message_id = d.message_id;
    fp::PullMessagesResponse envelope;
    *envelope.add_messages_list() = to_wire_message(m);
    to_proto(d.tree, envelope.add_message_object_trees());
    out.instructions.push_back(std::move(envelope));
    out.recorded_id[d.message_id] = recorded.messages_list(0).metadata().message_id();
  }
  return out;
}

// Answers each instruction with exactly what Python node A answered.
class ReplayClient final : public Client {
 public:
  ReplayClient(const Recording& r, const std::map<std::string, std::string>& recorded_id)
      : rec_(r), recorded_id_(recorded_id) {}
  Result<RecordDict> handle(const Message& instruction) override {
    auto id = recorded_id_.find(instruction.metadata.message_id);
    if (id == recorded_id_.end()) return not_found("not a replayed instruction");
    auto it = rec_.replies.find(id->second);
    if (it == rec_.replies.end()) return not_found("no recorded reply");
    POLLEN_ASSIGN_OR_RETURN(ObjectTree tree, from_proto(it->second.message_object_trees(0)));
    return inflate_record_dict(tree.children.at(0), rec_.objects);
  }

 private:
  const Recording& rec_;
  const std::map<std::string, std::string>& recorded_id_;
};

// Drops heartbeats (their timing is random) and the FAB calls a native node
// does not need, and folds repeated polls into one. Python polls until it is
// killed; Pollen, told how many replies to send, stops after the last one:
// the polls right before DeactivateNode are dropped too.
std::vector<std::string> normalize(const std::vector<std::string>& methods) {
  std::vector<std::string> out;
  for (const std::string& m : methods) {
    if (m == "SendNodeHeartbeat" || m == "GetRun" || m == "GetFab") continue;
    if (m == "PullMessages" && !out.empty() && out.back() == m) continue;
    if (m == "DeactivateNode" && !out.empty() && out.back() == "PullMessages") out.pop_back();
    out.push_back(m);
  }
  return out;
}

// The names of the fields set in `m`, recursively (the message's shape).
void shape_of(const google::protobuf::Message& m, const std::string& prefix,
              std::vector<std::string>* out) {
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  m.GetReflection()->ListFields(m, &fields);
  for (const auto* f : fields) {
    out->push_back(prefix + f->name());
    if (f->type() != google::protobuf::FieldDescriptor::TYPE_MESSAGE || f->is_repeated()) continue;
    shape_of(m.GetReflection()->GetMessage(m, f), prefix + f->name() + ".", out);
  }
}

TEST(ReplayTest, PollenSpeaksLikeThePythonSuperNode) {
  Recording rec = load_recording();
  ASSERT_EQ(rec.instructions.size(), 4u);
  ASSERT_EQ(rec.replies.size(), 4u);

  // Served as fresh as it was when recorded, whatever today's date.
  const double shift = unix_now() - rec.started_at;
  Result<Rebased> rebased = rebase(rec, shift);
  ASSERT_TRUE(rebased.ok()) << rebased.status();
  const std::map<std::string, std::string>& recorded_id = rebased->recorded_id;
  // Python's reply to the instruction `m` answers.
  auto python_reply = [&](const fp::Metadata& m) -> const fp::PushMessagesRequest& {
    return rec.replies.at(recorded_id.at(m.reply_to_message_id()));
  };

  // The SuperLink asks for what it asked A for: the same content ids (A's
  // Message id stands for ours, which differs only in created_at).
  auto plan = [&](const fp::PushMessagesRequest& req) {
    const fp::Metadata& m = req.messages_list(0).metadata();
    std::vector<std::string> ids;
    auto instruction = recorded_id.find(m.reply_to_message_id());
    if (instruction == recorded_id.end()) return ids;
    auto answer = rec.answers.find(instruction->second);
    if (answer == rec.answers.end()) return ids;
    const std::string& py_id = python_reply(m).messages_list(0).metadata().message_id();
    for (const std::string& id : answer->second.objects_to_push()) {
      ids.push_back(id == py_id ? m.message_id() : id);
    }
    return ids;
  };
  testing::ScriptedFleet service(rec.node_id, rebased->instructions, rebased->objects, plan);
  const int port = service.start();
  ASSERT_GT(port, 0);

  FleetOptions options;
  options.superlink = "127.0.0.1:" + std::to_string(port);
  options.insecure = true;
  Result<std::unique_ptr<Connection>> connection = connect_fleet(options);
  ASSERT_TRUE(connection.ok()) << connection.status();
  ReplayClient client(rec, recorded_id);
  NodeOptions node;
  node.poll_interval = 0.05;
  node.max_replies = 4;
  node.linger = 0;
  StopFlag stop;
  NodeStats stats;
  Status status = run_node(**connection, client, node, stop, &stats);
  service.stop();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(stats.replies, 4);
  EXPECT_EQ(stats.error_replies, 0);
  EXPECT_EQ(service.unsigned_calls(), 0);
  EXPECT_TRUE(service.all_served());

  // The same calls in the same order as Python's SuperNode.
  std::vector<std::string> ours = service.methods();
  EXPECT_EQ(normalize(ours), normalize(rec.methods));
  EXPECT_GE(std::count(ours.begin(), ours.end(), "SendNodeHeartbeat"), 1);

  // Each reply: the same message shape, metadata, content objects and tree.
  for (const fp::PushMessagesRequest& push : service.pushes()) {
    const fp::Metadata& m = push.messages_list(0).metadata();
    const fp::PushMessagesRequest& py = python_reply(m);
    const fp::Metadata& pm = py.messages_list(0).metadata();
    // Every object the SuperLink asked for arrived intact.
    for (const std::string& id : plan(push)) EXPECT_EQ(service.pushed_objects().count(id), 1u);
    std::vector<std::string> our_shape, py_shape;
    shape_of(push, "", &our_shape);
    shape_of(py, "", &py_shape);
    EXPECT_EQ(our_shape, py_shape);
    EXPECT_EQ(m.run_id(), pm.run_id());
    EXPECT_EQ(m.src_node_id(), pm.src_node_id());
    EXPECT_EQ(m.dst_node_id(), pm.dst_node_id());
    EXPECT_EQ(m.group_id(), pm.group_id());
    EXPECT_EQ(m.message_type(), pm.message_type());
    // ttl: the instruction's remaining lifetime, as Python computes it
    // (created_at + ttl = the instruction's expiry, moved by `shift`).
    EXPECT_NEAR(m.ttl() + m.created_at(), pm.ttl() + pm.created_at() + shift, 1e-5);
    EXPECT_TRUE(push.messages_list(0).has_content());
    EXPECT_EQ(push.message_object_trees(0).object_id(), m.message_id());
    // Identical content, so the RecordDict subtree has the very same ids.
    EXPECT_EQ(push.message_object_trees(0).children(0).SerializeAsString(),
              py.message_object_trees(0).children(0).SerializeAsString());
    EXPECT_EQ(push.clientapp_runtime_list_size(), 1);
  }
}

}  // namespace
}  // namespace pollen
