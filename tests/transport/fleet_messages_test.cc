// FleetConnection's instructions (objects pulled, verified, confirmed) and
// replies (objects pushed as the SuperLink asks), against the fake Fleet
// service.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <numeric>
#include <thread>

#include "fleet_fixture.h"

namespace pollen::testing {
namespace {

TEST_F(FleetConnectionTest, NoInstructionIsNullopt) {
  auto c = connected();
  Result<std::optional<Instruction>> r = c->receive();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST_F(FleetConnectionTest, ReceivePullsEveryObjectThenConfirms) {
  auto c = connected();
  const Message sent = make_instruction(c->node_id());
  DeflatedMessage d = serve(sent);
  Result<std::optional<Instruction>> r = c->receive();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->has_value());
  const Instruction& in = **r;
  ASSERT_TRUE(in.status.ok()) << in.status;
  EXPECT_EQ(in.metadata.message_id, d.message_id);
  ASSERT_TRUE(in.message.has_value());
  EXPECT_EQ(in.message->content, sent.content);
  EXPECT_EQ(state_->pulled, post_order_ids(d.tree));
  EXPECT_EQ(state_->confirmed, std::vector<std::string>{d.message_id});
  const auto c_calls = calls();
  EXPECT_EQ(c_calls.front(), "PullMessages");
  EXPECT_EQ(c_calls.back(), "ConfirmMessageReceived");
  EXPECT_EQ(count("PullObject"), post_order_ids(d.tree).size());
}

TEST_F(FleetConnectionTest, TamperedObjectIsDataLoss) {
  auto c = connected();
  DeflatedMessage d = serve(make_instruction(c->node_id()));
  std::string& chunk = state_->objects[post_order_ids(d.tree).front()];
  chunk.back() = static_cast<char>(chunk.back() ^ 1);
  Result<std::optional<Instruction>> r = c->receive();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->status.code(), StatusCode::kDataLoss) << (*r)->status;
  EXPECT_EQ((*r)->metadata.message_id, d.message_id);
  EXPECT_FALSE((*r)->message.has_value());
  EXPECT_TRUE(state_->confirmed.empty());
}

TEST_F(FleetConnectionTest, MissingObjectIsNotFound) {
  auto c = connected();
  DeflatedMessage d = serve(make_instruction(c->node_id()));
  const std::string missing = post_order_ids(d.tree)[1];
  state_->objects.erase(missing);
  Result<std::optional<Instruction>> r = c->receive();
  ASSERT_TRUE(r.ok()) << r.status();
  const Status& status = (*r)->status;
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_EQ(status.message(),
            "object " + missing + " of instruction " + d.message_id + " is not on the SuperLink");
}

// A node takes at most --max-message-bytes per instruction: beyond it the
// instruction is an error naming the limit, pulled no further and not
// confirmed.
TEST_F(FleetConnectionTest, InstructionLargerThanTheLimitIsRefused) {
  options_.max_message_bytes = 40;
  auto c = connected();
  DeflatedMessage d = serve(make_instruction(c->node_id()));
  Result<std::optional<Instruction>> r = c->receive();
  ASSERT_TRUE(r.ok()) << r.status();
  const Status& status = (*r)->status;
  EXPECT_EQ(status.code(), StatusCode::kResourceExhausted) << status;
  EXPECT_NE(status.message().find("instruction " + d.message_id +
                                  " is larger than this node takes (--max-message-bytes 40)"),
            std::string::npos)
      << status;
  EXPECT_LT(state_->pulled.size(), post_order_ids(d.tree).size());
  EXPECT_TRUE(state_->confirmed.empty());
  EXPECT_FALSE((*r)->message.has_value());

  options_.max_message_bytes = 0;  // no limit
  auto unlimited = connected();
  serve(make_instruction(unlimited->node_id()));
  Result<std::optional<Instruction>> whole = unlimited->receive();
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_TRUE((*whole)->status.ok()) << (*whole)->status;
}

TEST_F(FleetConnectionTest, UnavailableObjectIsPulledAgainWithBackoff) {
  auto c = connected();
  DeflatedMessage d = serve(make_instruction(c->node_id()));
  const std::string late = post_order_ids(d.tree).front();
  state_->unavailable[late] = 4;
  Result<std::optional<Instruction>> r = c->receive();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE((*r)->status.ok()) << (*r)->status;
  EXPECT_EQ(std::count(state_->pulled.begin(), state_->pulled.end(), late), 5);
  ASSERT_EQ(sleeps_.size(), 4u);
  const double base[] = {1, 2, 4, 8};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_GE(sleeps_[i], 0.8 * base[i] - 1e-9);
    EXPECT_LE(sleeps_[i], 1.2 * base[i] + 1e-9);
  }
}

TEST_F(FleetConnectionTest, UnavailableObjectGivesUpAfterMaxTries) {
  options_.pull_max_tries = 6;
  auto c = connected();
  DeflatedMessage d = serve(make_instruction(c->node_id()));
  const std::string late = post_order_ids(d.tree).front();
  state_->unavailable[late] = 1000;
  Result<std::optional<Instruction>> r = c->receive();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->status.code(), StatusCode::kDeadlineExceeded) << (*r)->status;
  EXPECT_EQ(std::count(state_->pulled.begin(), state_->pulled.end(), late), 6);
  // Doubling from 1 s, capped at pull_backoff_max (10 s), +-20 %.
  for (double s : sleeps_) EXPECT_LE(s, 12.0 + 1e-9);
}

TEST_F(FleetConnectionTest, UnavailableObjectGivesUpAfterMaxTime) {
  options_.pull_max_time = 30;
  auto c = connected();
  DeflatedMessage d = serve(make_instruction(c->node_id()));
  state_->unavailable[post_order_ids(d.tree).front()] = 1000;
  Result<std::optional<Instruction>> r = c->receive();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_LE(std::accumulate(sleeps_.begin(), sleeps_.end(), 0.0), 30.0 + 1e-6);
}

TEST_F(FleetConnectionTest, InstructionForAnotherNodeIsDataLoss) {
  auto c = connected();
  serve(make_instruction(c->node_id() + 1));
  Result<std::optional<Instruction>> r = c->receive();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->status.code(), StatusCode::kDataLoss);
  EXPECT_EQ(count("PullObject"), 0u);
}

TEST_F(FleetConnectionTest, TreeNotRootedAtTheMessageIdIsDataLoss) {
  auto c = connected();
  serve(make_instruction(c->node_id()));
  state_->messages.front().mutable_message_object_trees(0)->set_object_id(std::string(64, 'a'));
  Result<std::optional<Instruction>> r = c->receive();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->status.code(), StatusCode::kDataLoss);
}

TEST_F(FleetConnectionTest, MalformedTreeIsAnInstructionError) {
  auto c = connected();
  DeflatedMessage d = serve(make_instruction(c->node_id()));
  state_->messages.front().mutable_message_object_trees(0)->add_children()->set_object_id("zz");
  Result<std::optional<Instruction>> r = c->receive();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE((*r)->status.ok());
  EXPECT_EQ((*r)->metadata.message_id, d.message_id);
}

TEST_F(FleetConnectionTest, SendPushesTheReplyAndEveryRequestedObjectInPostOrder) {
  auto c = connected();
  serve(make_instruction(c->node_id()));
  Instruction in = *c->receive().value();
  const Message reply = reply_to(in, c->node_id());
  DeflatedMessage d = deflate_message(reply).value();

  ASSERT_TRUE(c->send(reply, 1.5).ok());
  ASSERT_EQ(state_->pushed_messages.size(), 1u);
  const fp::PushMessagesRequest& pushed = state_->pushed_messages[0];
  EXPECT_EQ(pushed.messages_list(0).metadata().message_id(), d.message_id);
  EXPECT_EQ(pushed.messages_list(0).metadata().reply_to_message_id(), in.metadata.message_id);
  EXPECT_TRUE(pushed.messages_list(0).has_content());  // the placeholder the SuperLink needs
  EXPECT_EQ(pushed.message_object_trees(0).object_id(), d.message_id);
  ASSERT_EQ(pushed.clientapp_runtime_list_size(), 1);
  EXPECT_EQ(pushed.clientapp_runtime_list(0), 1.5);
  std::vector<std::string> ids;
  for (const auto& [id, content] : state_->pushed_objects) ids.push_back(id);
  EXPECT_EQ(ids, post_order_ids(d.tree));
}

TEST_F(FleetConnectionTest, SendPushesOnlyWhatTheSuperLinkAsksFor) {
  auto c = connected();
  serve(make_instruction(c->node_id()));
  Instruction in = *c->receive().value();
  const Message reply = reply_to(in, c->node_id());
  const std::vector<std::string> all = post_order_ids(deflate_message(reply).value().tree);
  state_->ask_for_subset = true;
  state_->objects_to_push = {all[3], all[0]};
  ASSERT_TRUE(c->send(reply, 0).ok());
  ASSERT_EQ(state_->pushed_objects.size(), 2u);
  EXPECT_EQ(state_->pushed_objects[0].first, all[0]);
  EXPECT_EQ(state_->pushed_objects[1].first, all[3]);
}

TEST_F(FleetConnectionTest, ErrorRepliesPushOneObject) {
  auto c = connected();
  serve(make_instruction(c->node_id()));
  Instruction in = *c->receive().value();
  Message reply;
  reply.metadata = make_reply_metadata(in.metadata, c->node_id(), unix_now());
  reply.error = Error{kErrorClientAppRaisedException, "boom"};
  ASSERT_TRUE(c->send(reply, 0).ok());
  EXPECT_TRUE(state_->pushed_messages[0].messages_list(0).has_error());
  EXPECT_EQ(state_->pushed_objects.size(), 1u);
}

TEST_F(FleetConnectionTest, RejectedReplyIsAnError) {
  auto c = connected();
  serve(make_instruction(c->node_id()));
  Instruction in = *c->receive().value();
  state_->reject_reply = true;
  Status status = c->send(reply_to(in, c->node_id()), 0);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("rejected the reply to " + in.metadata.message_id),
            std::string::npos)
      << status;
  EXPECT_TRUE(state_->pushed_objects.empty());
}

TEST_F(FleetConnectionTest, RequestForAnObjectOutsideTheReplyIsAnError) {
  auto c = connected();
  serve(make_instruction(c->node_id()));
  Instruction in = *c->receive().value();
  state_->extra_objects_to_push = {std::string(64, '0')};
  Status status = c->send(reply_to(in, c->node_id()), 0);
  EXPECT_EQ(status.code(), StatusCode::kDataLoss);
  EXPECT_TRUE(state_->pushed_objects.empty());
}

TEST_F(FleetConnectionTest, ObjectNotStoredIsDataLoss) {
  auto c = connected();
  serve(make_instruction(c->node_id()));
  Instruction in = *c->receive().value();
  state_->store_pushed = false;
  Status status = c->send(reply_to(in, c->node_id()), 0);
  EXPECT_EQ(status.code(), StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("stored = false"), std::string::npos) << status;
}

// Heartbeats run on their own thread while the node loop works.
TEST_F(FleetConnectionTest, HeartbeatsRunConcurrentlyWithTheNodeLoop) {
  auto c = connected();
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::thread beats([&] {
    while (!done) {
      if (!c->heartbeat().ok()) ++failures;
    }
  });
  for (int round = 0; round < 20; ++round) {
    serve(make_instruction(c->node_id()));
    Result<std::optional<Instruction>> r = c->receive();
    ASSERT_TRUE(r.ok() && r->has_value() && (*r)->status.ok());
    ASSERT_TRUE(c->send(reply_to(**r, c->node_id()), 0).ok());
  }
  done = true;
  beats.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(count("SendNodeHeartbeat"), 0u);
}

}  // namespace
}  // namespace pollen::testing
