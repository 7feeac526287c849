// A simulated SuperNode in its own thread, for driving SuperLinkLite through
// whole rounds: it registers, activates, then pulls every instruction,
// confirms it and pushes the reply that `respond` computes.
#ifndef POLLEN_TESTS_SUPERLINK_TEST_NODE_H_
#define POLLEN_TESTS_SUPERLINK_TEST_NODE_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fleet_test_client.h"
#include "pollen/core/message.h"
#include "pollen/core/status.h"

namespace pollen::testing {

class TestNode {
 public:
  // The reply content for an instruction; an error Status becomes an error
  // reply (code 2, its message as the reason).
  using Respond = std::function<Result<RecordDict>(const Message& instruction)>;

  // Registers and activates synchronously (see status()), then starts polling.
  TestNode(const std::string& target, Respond respond);
  // Stops polling and joins the thread (see stop()).
  ~TestNode();
  TestNode(const TestNode&) = delete;
  TestNode& operator=(const TestNode&) = delete;

  // OK when registration and activation succeeded.
  const Status& status() const { return status_; }
  uint64_t node_id() const { return client_.node_id(); }
  // Instructions answered so far.
  int answered() const { return answered_.load(); }
  // Problems met while answering, e.g. a rejected reply.
  std::vector<std::string> failures() const;
  FleetTestClient& client() { return client_; }
  // Stops polling and joins the thread; the client stays usable. Idempotent.
  void stop();

 private:
  void loop();
  void handle(const fp::PullMessagesResponse& pulled);

  FleetTestClient client_;
  Respond respond_;
  Status status_;
  std::atomic<int> answered_{0};
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::vector<std::string> failures_;
  std::thread thread_;
};

}  // namespace pollen::testing

#endif  // POLLEN_TESTS_SUPERLINK_TEST_NODE_H_
