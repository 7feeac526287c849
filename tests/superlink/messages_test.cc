// Messages and objects: PullMessages/PullObject/ConfirmMessageReceived,
// PushMessages with Flower's reply validation, PushObject, finished runs,
// expiry and the SuperLink's synthetic error replies (errors_probe seq
// 20-82 and SPEC §4.4).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <thread>

#include "fleet_test_client.h"
#include "pollen/core/deflate.h"
#include "pollen/core/proto_convert.h"
#include "pollen/core/sha256.h"
#include "test_util.h"

namespace pollen::testing {
namespace {

using grpc::StatusCode;

class MessagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    link_ = start_link();
    ASSERT_NE(link_, nullptr);
    client_ = std::make_unique<FleetTestClient>(link_->address());
    ASSERT_TRUE(client_->register_node().ok());
    ASSERT_TRUE(client_->activate(30).ok());
    run_id_ = link_->create_run();
    Result<std::string> id =
        link_->push_instruction(run_id_, client_->node_id(), "train", small_content());
    ASSERT_TRUE(id.ok()) << id.status();
    instruction_id_ = *id;
  }

  // Pulls the instruction and all its objects, then confirms it.
  Message receive() {
    fp::PullMessagesResponse pulled;
    EXPECT_TRUE(client_->pull_messages(&pulled).ok());
    EXPECT_EQ(pulled.messages_list_size(), 1);
    if (pulled.messages_list_size() != 1) return Message();
    ObjectStore objects;
    Result<Message> message =
        client_->fetch(pulled.messages_list(0), pulled.message_object_trees(0), &objects);
    EXPECT_TRUE(message.ok()) << message.status();
    EXPECT_TRUE(client_->confirm(run_id_, instruction_id_).ok());
    return message.ok() ? *message : Message();
  }

  Message reply_to(const Message& instruction) {
    Message reply;
    reply.metadata = make_reply_metadata(instruction.metadata, client_->node_id(), unix_now());
    reply.content = small_content();
    return reply;
  }

  // Pushes `reply` as is (metadata included) with the tree of its objects.
  fp::PushMessagesResponse push(const Message& reply, const ObjectTree& tree) {
    fp::ObjectTree proto_tree;
    to_proto(tree, &proto_tree);
    fp::PushMessagesResponse response;
    grpc::Status status = client_->push_messages(to_wire_message(reply), proto_tree, &response);
    EXPECT_TRUE(status.ok()) << describe(status);
    return response;
  }

  // Deflates `reply`, sets its id and pushes the message (not the objects).
  fp::PushMessagesResponse push_deflated(Message* reply) {
    reply->metadata.message_id.clear();
    DeflatedMessage deflated = deflate_message(*reply).value();
    reply->metadata.message_id = deflated.message_id;
    return push(*reply, deflated.tree);
  }

  std::unique_ptr<SuperLinkLite> link_;
  std::unique_ptr<FleetTestClient> client_;
  uint64_t run_id_ = 0;
  std::string instruction_id_;
};

TEST_F(MessagesTest, PullMessagesDeliversOnceWithMetadataOnly) {
  fp::PullMessagesResponse pulled;
  ASSERT_TRUE(client_->pull_messages(&pulled).ok());
  ASSERT_EQ(pulled.messages_list_size(), 1);
  ASSERT_EQ(pulled.message_object_trees_size(), 1);
  EXPECT_FALSE(pulled.has_reconnect());
  const fp::Message& wire = pulled.messages_list(0);
  EXPECT_EQ(wire.metadata().message_id(), instruction_id_);
  EXPECT_EQ(pulled.message_object_trees(0).object_id(), instruction_id_);
  EXPECT_EQ(wire.metadata().run_id(), run_id_);
  EXPECT_EQ(wire.metadata().src_node_id(), 1u);
  EXPECT_EQ(wire.metadata().dst_node_id(), client_->node_id());
  EXPECT_EQ(wire.metadata().ttl(), 43200.0);
  EXPECT_EQ(wire.metadata().message_type(), "train");
  EXPECT_EQ(wire.metadata().reply_to_message_id(), "");
  EXPECT_TRUE(wire.has_content());  // the empty placeholder
  EXPECT_EQ(wire.content().items_size(), 0);
  EXPECT_FALSE(wire.has_error());

  fp::PullMessagesResponse again;
  ASSERT_TRUE(client_->pull_messages(&again).ok());
  EXPECT_EQ(again.ByteSizeLong(), 0u);  // an empty poll is an empty message
}

TEST_F(MessagesTest, UnknownObjectsAreNotErrors) {
  fp::PullObjectResponse response;
  ASSERT_TRUE(client_->pull_object(run_id_, std::string(64, '0'), &response).ok());
  EXPECT_FALSE(response.object_found());
  EXPECT_FALSE(response.object_available());
  ASSERT_TRUE(client_->pull_object(run_id_, "not-an-id", &response).ok());
  EXPECT_EQ(response.ByteSizeLong(), 0u);
  EXPECT_TRUE(client_->confirm(run_id_, std::string(64, '0')).ok());
}

TEST_F(MessagesTest, ConfirmDeletesTheInstructionObjects) {
  const Message instruction = receive();
  EXPECT_EQ(instruction.content, small_content());
  fp::PullObjectResponse response;
  ASSERT_TRUE(client_->pull_object(run_id_, instruction_id_, &response).ok());
  EXPECT_FALSE(response.object_found());
}

TEST_F(MessagesTest, MalformedPushMessagesFailsTheCall) {
  const Message instruction = receive();
  Message reply = reply_to(instruction);
  DeflatedMessage deflated = deflate_message(reply).value();
  reply.metadata.message_id = deflated.message_id;
  fp::ObjectTree tree;
  to_proto(deflated.tree, &tree);

  fp::Message neither = to_wire_message(reply);
  neither.clear_content();
  fp::PushMessagesResponse response;
  grpc::Status status = client_->push_messages(neither, tree, &response);
  EXPECT_EQ(status.error_code(), StatusCode::UNKNOWN);
  EXPECT_EQ(status.error_message().rfind(
                "Exception calling application: Invalid arguments for Message. Expected one of "
                "the documented signatures:",
                0),
            0u)
      << status.error_message();

  fp::Message bad_type = to_wire_message(reply);
  bad_type.mutable_metadata()->set_message_type("bogus");
  status = client_->push_messages(bad_type, tree, &response);
  EXPECT_EQ(status.error_code(), StatusCode::UNKNOWN);
  EXPECT_EQ(status.error_message().rfind(
                "Exception calling application: Invalid message type: 'bogus'.", 0),
            0u);

  fp::ObjectTree bad_tree = tree;
  bad_tree.add_children()->set_object_id("xyz");
  EXPECT_TRUE(has_status(client_->push_messages(to_wire_message(reply), bad_tree, &response),
                         StatusCode::UNKNOWN,
                         "Exception calling application: Invalid object ID format: xyz"));

  fp::PushMessagesRequest empty;
  empty.mutable_node()->set_node_id(client_->node_id());
  EXPECT_TRUE(has_status(client_->call(&fp::Fleet::Stub::PushMessages, empty, &response),
                         StatusCode::UNKNOWN,
                         "Exception calling application: list index out of range"));
}

TEST_F(MessagesTest, RejectedReplyStillPreregistersItsObjects) {
  const Message instruction = receive();
  Message reply = reply_to(instruction);
  reply.metadata.dst_node_id = 7;
  DeflatedMessage deflated = deflate_message(reply).value();
  reply.metadata.message_id = deflated.message_id;
  // A bogus extra child whose content will hash correctly but is no object.
  const std::string bogus = std::string("Bogus  3") + '\0' + "abc";
  const std::string bogus_id = sha256_hex(bogus);
  ObjectTree tree = deflated.tree;
  tree.children.push_back(ObjectTree{bogus_id, {}});

  fp::PushMessagesResponse response = push(reply, tree);
  EXPECT_EQ(response.reconnect().reconnect(), 5u);
  ASSERT_EQ(response.results_size(), 1);
  EXPECT_EQ(response.results().at("None"), 0u);
  std::vector<std::string> wanted(response.objects_to_push().begin(),
                                  response.objects_to_push().end());
  std::vector<std::string> all = post_order_ids(tree);
  std::sort(wanted.begin(), wanted.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(wanted, all);

  bool stored = true;
  EXPECT_TRUE(has_status(client_->push_object(run_id_, bogus_id, bogus, &stored),
                         StatusCode::FAILED_PRECONDITION,
                         "Object with ID '" + bogus_id +
                             "' has an unexpected structure. Object of type Bogus is not "
                             "supported."));
  // Content of another object: hash mismatch.
  const auto& [some_id, some_object] = *deflated.objects.begin();
  ASSERT_TRUE(client_->push_object(run_id_, bogus_id, some_object.bytes(), &stored).ok());
  EXPECT_FALSE(stored);
  // A valid object that no tree preregistered.
  MetricRecord metrics;
  metrics.set("x", 1.0);
  DeflatedObjects loose;
  deflate_metric_record(metrics, &loose);
  const auto& [loose_id, loose_object] = *loose.begin();
  ASSERT_TRUE(client_->push_object(run_id_, loose_id, loose_object.bytes(), &stored).ok());
  EXPECT_FALSE(stored);
  // The rejected reply's own objects are still wanted and accepted.
  ASSERT_TRUE(client_->push_object(run_id_, some_id, some_object.bytes(), &stored).ok());
  EXPECT_TRUE(stored);
  ASSERT_TRUE(client_->push_object(run_id_, some_id, some_object.bytes(), &stored).ok());
  EXPECT_TRUE(stored);  // a re-push is a no-op
}

TEST_F(MessagesTest, ReplyValidation) {
  const Message instruction = receive();
  auto expect_rejected = [&](Message reply, const char* why) {
    fp::PushMessagesResponse response = push_deflated(&reply);
    EXPECT_EQ(response.results().count("None"), 1u) << why;
    // The call log says why; the node is not told.
    EXPECT_EQ(link_->call_log().back().note.rfind("reply rejected: ", 0), 0u) << why;
  };
  Message reply = reply_to(instruction);
  reply.metadata.ttl += 1.0;
  expect_rejected(reply, "ttl beyond the instruction's");
  reply = reply_to(instruction);
  reply.metadata.created_at = kMinCreatedAt - 1;
  reply.metadata.ttl = 10;
  expect_rejected(reply, "created_at before 2025-02-28");
  reply = reply_to(instruction);
  reply.metadata.reply_to_message_id = std::string(64, 'a');
  expect_rejected(reply, "unknown instruction");
  reply = reply_to(instruction);
  reply.metadata.src_node_id = 1;
  expect_rejected(reply, "src is the SuperLink");
  reply = reply_to(instruction);
  reply.metadata.run_id = link_->create_run();
  expect_rejected(reply, "other run");

  // message_id must be the root of the pushed tree.
  reply = reply_to(instruction);
  DeflatedMessage deflated = deflate_message(reply).value();
  reply.metadata.message_id = std::string(64, 'b');
  EXPECT_EQ(push(reply, deflated.tree).results().count("None"), 1u);

  // Within the 0.1 s tolerance the reply is accepted.
  reply = reply_to(instruction);
  reply.metadata.ttl += 0.05;
  fp::PushMessagesResponse response = push_deflated(&reply);
  EXPECT_EQ(response.results().count(reply.metadata.message_id), 1u);
  EXPECT_EQ(link_->call_log().back().note, "");
}

TEST_F(MessagesTest, ErrorReplyIsAcceptedAndCollected) {
  const Message instruction = receive();
  Message reply;
  reply.metadata = make_reply_metadata(instruction.metadata, client_->node_id(), unix_now());
  reply.error = Error{kErrorClientAppRaisedException, "<class 'RuntimeError'>:<'boom'>"};
  Result<fp::PushMessagesResponse> pushed = client_->send_reply(&reply);
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  EXPECT_EQ(pushed->results().count(reply.metadata.message_id), 1u);
  EXPECT_EQ(pushed->objects_to_push_size(), 1);  // the Message object, without children
  std::optional<Message> collected = link_->get_reply(instruction_id_);
  ASSERT_TRUE(collected.has_value());
  EXPECT_EQ(collected->metadata, reply.metadata);
  EXPECT_EQ(collected->error, reply.error);
  EXPECT_FALSE(collected->has_content());
}

TEST_F(MessagesTest, ReplyWaitsForItsObjects) {
  const Message instruction = receive();
  Message reply = reply_to(instruction);
  push_deflated(&reply);
  EXPECT_FALSE(link_->get_reply(instruction_id_).has_value());
  DeflatedMessage deflated = deflate_message(reply).value();
  for (const auto& [id, object] : deflated.objects) {
    bool stored = false;
    ASSERT_TRUE(client_->push_object(run_id_, id, object.bytes(), &stored).ok());
  }
  std::optional<Message> collected = link_->get_reply(instruction_id_);
  ASSERT_TRUE(collected.has_value());
  EXPECT_EQ(collected->metadata, reply.metadata);
  EXPECT_EQ(collected->content, reply.content);
  // Handed out once; the instruction is gone afterwards.
  std::optional<Message> again = link_->get_reply(instruction_id_);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->error->code, kErrorMessageUnavailable);
}

TEST_F(MessagesTest, OfflineNodeMasksItsReply) {
  const Message instruction = receive();
  Message reply = reply_to(instruction);
  ASSERT_TRUE(client_->send_reply(&reply).ok());
  ASSERT_TRUE(client_->deactivate().ok());
  std::optional<Message> answer = link_->get_reply(instruction_id_);
  ASSERT_TRUE(answer.has_value());
  ASSERT_TRUE(answer->has_error());
  EXPECT_EQ(answer->error->code, kErrorNodeUnavailable);
  EXPECT_EQ(answer->metadata.reply_to_message_id, instruction_id_);
  EXPECT_EQ(answer->metadata.src_node_id, 1u);
  EXPECT_EQ(answer->metadata.dst_node_id, 1u);
  EXPECT_EQ(answer->metadata.message_type, "train");
  EXPECT_EQ(answer->metadata.message_id, deflate_message(*answer)->message_id);
}

TEST_F(MessagesTest, ExpiredInstructionIsNeverDelivered) {
  Result<std::string> short_lived =
      link_->push_instruction(run_id_, client_->node_id(), "query", small_content(), 0.2);
  ASSERT_TRUE(short_lived.ok());
  receive();  // the first instruction
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  fp::PullMessagesResponse pulled;
  ASSERT_TRUE(client_->pull_messages(&pulled).ok());
  EXPECT_EQ(pulled.messages_list_size(), 0);
  std::optional<Message> answer = link_->get_reply(*short_lived);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->error->code, kErrorMessageUnavailable);
}

TEST_F(MessagesTest, FinishedRunIsPermissionDenied) {
  const Message instruction = receive();
  Message reply = reply_to(instruction);
  ASSERT_TRUE(link_->finish_run(run_id_).ok());
  const std::string finished = "Run is finished.";
  fp::PullObjectResponse object;
  EXPECT_TRUE(has_status(client_->pull_object(run_id_, instruction_id_, &object),
                         StatusCode::PERMISSION_DENIED, finished));
  EXPECT_TRUE(has_status(client_->confirm(run_id_, instruction_id_), StatusCode::PERMISSION_DENIED,
                         finished));
  bool stored = false;
  EXPECT_TRUE(has_status(client_->push_object(run_id_, std::string(64, '0'), "", &stored),
                         StatusCode::PERMISSION_DENIED, finished));
  fp::GetRunRequest get_run;
  get_run.mutable_node()->set_node_id(client_->node_id());
  get_run.set_run_id(run_id_);
  fp::GetRunResponse run;
  EXPECT_TRUE(has_status(client_->call(&fp::Fleet::Stub::GetRun, get_run, &run),
                         StatusCode::PERMISSION_DENIED, finished));
  Result<fp::PushMessagesResponse> pushed = client_->send_reply(&reply);
  EXPECT_EQ(pushed.status().code(), pollen::StatusCode::kPermissionDenied);
  EXPECT_FALSE(link_->push_instruction(run_id_, client_->node_id(), "train", small_content()).ok());
}

TEST_F(MessagesTest, InstructionsNeedAnActivatedNode) {
  FleetTestClient registered(link_->address());
  ASSERT_TRUE(registered.register_node().ok());
  EXPECT_EQ(link_->push_instruction(run_id_, 12345, "train", small_content()).status().code(),
            pollen::StatusCode::kFailedPrecondition);
  EXPECT_EQ(link_->push_instruction(run_id_, client_->node_id(), "bogus", small_content())
                .status()
                .code(),
            pollen::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      link_->push_instruction(123, client_->node_id(), "train", small_content()).status().code(),
      pollen::StatusCode::kNotFound);
}

TEST_F(MessagesTest, RandomInputNeverBreaksTheServer) {
  std::mt19937 random(7);
  auto bytes = [&](size_t n) {
    std::string out(n, '\0');
    for (char& c : out) c = static_cast<char>(random());
    return out;
  };
  const char* methods[] = {"RegisterNode",
                           "ActivateNode",
                           "DeactivateNode",
                           "UnregisterNode",
                           "SendNodeHeartbeat",
                           "PullMessages",
                           "PushMessages",
                           "GetRun",
                           "GetFab",
                           "PushObject",
                           "PullObject",
                           "ConfirmMessageReceived"};
  for (const char* method : methods) {
    for (size_t n : {1, 2, 5, 17, 64, 300}) {
      client_->raw_call(std::string("/flwr.proto.Fleet/") + method, bytes(n));
    }
  }
  // Well-formed requests with hostile content: deep and wide trees, odd
  // heads whose hash matches, replies to nothing.
  for (int i = 0; i < 30; ++i) {
    fp::ObjectTree tree;
    fp::ObjectTree* node = &tree;
    for (int depth = 0; depth < 40; ++depth) {
      node->set_object_id(sha256_hex(bytes(8)));
      node->add_children()->set_object_id(tree.object_id());
      node = node->add_children();
    }
    node->set_object_id(sha256_hex(bytes(8)));
    fp::Message message;
    message.mutable_metadata()->set_run_id(run_id_);
    message.mutable_metadata()->set_message_id(tree.object_id());
    message.mutable_metadata()->set_message_type("train");
    message.mutable_metadata()->set_reply_to_message_id(instruction_id_);
    message.mutable_metadata()->set_src_node_id(client_->node_id());
    message.mutable_metadata()->set_dst_node_id(1);
    message.mutable_metadata()->set_created_at(unix_now());
    message.mutable_metadata()->set_ttl(10);
    message.mutable_content();
    fp::PushMessagesResponse response;
    EXPECT_TRUE(client_->push_messages(message, tree, &response).ok());
    const std::string content = std::string(i % 2 ? "Array " : "Message ") +
                                (i % 3 ? tree.object_id() : "") + " " + std::to_string(i) + '\0' +
                                bytes(static_cast<size_t>(i));
    bool stored = false;
    client_->push_object(run_id_, sha256_hex(content), content, &stored);
  }
  // The last accepted reply's objects never arrive: it is still awaited.
  EXPECT_FALSE(link_->get_reply(instruction_id_).has_value());
  FleetTestClient fresh(link_->address());
  EXPECT_TRUE(fresh.register_node().ok());
}

}  // namespace
}  // namespace pollen::testing
