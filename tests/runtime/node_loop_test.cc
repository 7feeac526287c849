// The node loop against a scripted Connection: how it reacts when the
// SuperLink forgets the node (a restart without persistent state).
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "pollen/runtime/node.h"

namespace pollen {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A SuperLink that restarts right after the node's first heartbeat. The
// node's next heartbeat (still with the old id) is answered "Invalid node
// ID" only after the node loop has registered again, as happens when the
// answer is slow or the loop notices first.
class RestartingConnection final : public Connection {
 public:
  explicit RestartingConnection(StopFlag* stop) : stop_(stop) {}

  Status connect() override {
    std::lock_guard<std::mutex> lock(mu_);
    node_id_ = ++connects_;
    cv_.notify_all();
    return Status::Ok();
  }
  uint64_t node_id() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return node_id_;
  }
  double heartbeat_interval() const override { return 1.0; }  // a heartbeat every ~0.8 s

  Status heartbeat() override {
    std::unique_lock<std::mutex> lock(mu_);
    ++heartbeats_;
    const uint64_t id = node_id_;
    if (!restarted_) {
      restarted_ = true;
      return Status::Ok();
    }
    if (id != 1) return Status::Ok();  // the new node is known
    old_heartbeat_in_flight_ = true;
    cv_.wait_for(lock, seconds(10), [this] { return connects_ >= 2; });
    lock.unlock();
    // The answer arrives after the loop has connected again.
    std::this_thread::sleep_for(milliseconds(200));
    return Status(StatusCode::kUnauthenticated, "SendNodeHeartbeat: Invalid node ID");
  }

  Result<std::optional<Instruction>> receive() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (node_id_ == 1 && old_heartbeat_in_flight_) {
      return Status(StatusCode::kUnauthenticated, "PullMessages: Invalid node ID");
    }
    // Poll a while on the new node, longer than two heartbeat intervals.
    if (node_id_ >= 2 && ++polls_after_restart_ >= 150) stop_->request_stop();
    return std::optional<Instruction>();
  }
  Status send(const Message&, double) override { return internal_error("no replies here"); }
  Status disconnect() override { return Status::Ok(); }

  int connects() const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(connects_);
  }

 private:
  StopFlag* stop_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t connects_ = 0;
  uint64_t node_id_ = 0;
  int heartbeats_ = 0;
  int polls_after_restart_ = 0;
  bool restarted_ = false;
  bool old_heartbeat_in_flight_ = false;
};

class NoClient final : public Client {
 public:
  Result<RecordDict> handle(const Message&) override { return internal_error("not called"); }
};

TEST(NodeLoopTest, ALateHeartbeatAnswerForTheOldIdDoesNotRegisterTheNodeTwice) {
  StopFlag stop;
  RestartingConnection connection(&stop);
  NoClient client;
  NodeOptions options;
  options.poll_interval = 0.02;
  options.linger = 0;
  NodeStats stats;
  ASSERT_TRUE(run_node(connection, client, options, stop, &stats).ok());
  // Connected once, then once more after the restart: one live node id.
  EXPECT_EQ(connection.connects(), 2);
  EXPECT_EQ(stats.reconnects, 1);
}

}  // namespace
}  // namespace pollen
