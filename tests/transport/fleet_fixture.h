// The fixture of the FleetConnection tests: a connection over the fake Fleet
// service with an instant, recorded sleep, and instructions and replies to
// exchange with it.
#ifndef POLLEN_TESTS_TRANSPORT_FLEET_FIXTURE_H_
#define POLLEN_TESTS_TRANSPORT_FLEET_FIXTURE_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fake_fleet.h"
#include "fleet_stub.h"
#include "pollen/core/deflate.h"
#include "pollen/core/proto_convert.h"
#include "pollen/transport/fleet.h"

namespace pollen::testing {

namespace fp = flwr::proto;

inline constexpr uint64_t kRunId = 77;

// A train instruction with a small ArrayRecord and a ConfigRecord.
inline Message make_instruction(uint64_t node_id) {
  Message m;
  m.metadata.run_id = kRunId;
  m.metadata.src_node_id = kSuperLinkNodeId;
  m.metadata.dst_node_id = node_id;
  m.metadata.message_type = "train";
  m.metadata.created_at = unix_now();
  const float weights[] = {1.0f, 2.0f, 3.0f, 4.0f};
  ArrayRecord arrays;
  arrays.set("w", Array::from_elements(DType::kFloat32, {2, 2}, weights, sizeof(weights)).value());
  ConfigRecord config;
  config.set("server-round", int64_t{1});
  RecordDict content;
  content.set("arrays", arrays);
  content.set("config", config);
  m.content = content;
  return m;
}

class FleetConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override { options_.heartbeat_interval = 30; }

  std::unique_ptr<Connection> make(const FleetOptions& options) {
    Result<std::unique_ptr<Connection>> c =
        fleet::make_fleet_connection(make_fake_fleet(state_), options, [this](double s) {
          std::lock_guard<std::mutex> lock(sleeps_mu_);
          sleeps_.push_back(s);
        });
    EXPECT_TRUE(c.ok()) << c.status();
    return std::move(c).value();
  }

  std::unique_ptr<Connection> connected() {
    std::unique_ptr<Connection> c = make(options_);
    Status status = c->connect();
    EXPECT_TRUE(status.ok()) << status;
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->calls.clear();
    return c;
  }

  // Queues `m` (addressed as it is) for PullMessages and serves its objects.
  DeflatedMessage serve(Message m) {
    DeflatedMessage d = deflate_message(m).value();
    for (const auto& [id, object] : d.objects) state_->objects[id] = object.bytes();
    m.metadata.message_id = d.message_id;
    fp::PullMessagesResponse response;
    *response.add_messages_list() = to_wire_message(m);
    to_proto(d.tree, response.add_message_object_trees());
    state_->messages.push_back(response);
    return d;
  }

  Message reply_to(const Instruction& instruction, uint64_t node_id) {
    Message reply;
    reply.metadata = make_reply_metadata(instruction.metadata, node_id, unix_now());
    RecordDict content;
    content.set("arrays", *find_array_record(*instruction.message->content, "arrays"));
    MetricRecord metrics;
    metrics.set("num-examples", int64_t{10});
    content.set("metrics", metrics);
    reply.content = content;
    return reply;
  }

  std::vector<std::string> calls() {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->calls;
  }
  size_t count(const std::string& method) {
    auto c = calls();
    return static_cast<size_t>(std::count(c.begin(), c.end(), method));
  }
  void fail_next(const std::string& method, int times, grpc::StatusCode code,
                 const std::string& details) {
    for (int i = 0; i < times; ++i) state_->fail_next[method].emplace_back(code, details);
  }

  void TearDown() override {
    EXPECT_TRUE(state_->header_problems.empty()) << state_->header_problems.front();
  }

  std::shared_ptr<FakeFleetState> state_ = std::make_shared<FakeFleetState>();
  FleetOptions options_;
  std::mutex sleeps_mu_;
  std::vector<double> sleeps_;
};

}  // namespace pollen::testing

#endif  // POLLEN_TESTS_TRANSPORT_FLEET_FIXTURE_H_
