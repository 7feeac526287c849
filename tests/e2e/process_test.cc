// A node as a process, driven through its command line: it joins a
// federation, answers, and on SIGTERM deactivates, unregisters and exits 0.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "node_command.h"
#include "pollen/superlink_lite/fedavg.h"
#include "pollen/superlink_lite/superlink_lite.h"
#include "support/child_process.h"

namespace pollen {
namespace {

using pollen::testing::ChildProcess;
using std::chrono::seconds;

// The node program with `args`, its output the test's own.
std::vector<std::string> node(std::vector<std::string> args) {
  args.insert(args.begin(), POLLEN_TEST_NODE);
  return args;
}

int exit_code(std::vector<std::string> args, seconds timeout = seconds(30)) {
  ChildProcess process(node(std::move(args)));
  return process.wait(timeout);
}

TEST(ProcessTest, NodeProcessServesAndExitsZeroOnSigterm) {
  auto link = SuperLinkLite::start();
  ASSERT_TRUE(link.ok());
  ChildProcess process(node({"--superlink", (*link)->address(), "--insecure", "--poll-interval",
                             "0.05", "--target", "2", "--examples", "5"}));
  auto online = (*link)->wait_for_nodes(1, seconds(30));
  ASSERT_TRUE(online.ok()) << online.status();
  FedAvgConfig config;
  config.poll_interval = std::chrono::milliseconds(20);
  ArrayRecord arrays;
  const float w[] = {0, 0};
  arrays.set("w", *Array::from_elements(DType::kFloat32, {2}, w, sizeof(w)));
  auto result = run_fedavg(**link, (*link)->create_run(), *online, arrays, config);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->rounds[0].train.replies, 1u);

  EXPECT_EQ(process.stop(), 0);
  std::vector<std::string> calls;
  for (const CallRecord& call : (*link)->call_log()) {
    if (call.node_id == (*online)[0] && call.method != "SendNodeHeartbeat") {
      calls.push_back(call.method);
    }
  }
  ASSERT_GE(calls.size(), 2u);
  EXPECT_EQ(calls[calls.size() - 2], "DeactivateNode");
  EXPECT_EQ(calls.back(), "UnregisterNode");
}

TEST(ProcessTest, BadFlagsAndUnreachableServerFailWithAMessage) {
  EXPECT_EQ(exit_code({"--max-retries", "many"}), 2);
  EXPECT_EQ(exit_code({"--insecure", "--root-certificates", "ca.pem"}), 2);
  // Nothing listens there; with retries bounded the node gives up and says so.
  EXPECT_EQ(
      exit_code({"--superlink", "127.0.0.1:1", "--insecure", "--max-retries", "1"}, seconds(60)),
      1);
}

TEST(ProcessTest, FlagsParseLikeFlowerSupernode) {
  std::vector<std::string> rest;
  auto o =
      cli::parse_node_flags({"--superlink=10.0.0.2:9092", "--root-certificates", "ca.pem",
                             "--auth-supernode-private-key", "k", "--max-retries", "3",
                             "--max-wait-time", "60", "--model", "m.pt", "--log-level", "debug"},
                            &rest);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->fleet.superlink, "10.0.0.2:9092");
  EXPECT_FALSE(o->fleet.insecure);
  EXPECT_EQ(o->fleet.root_certificates, "ca.pem");
  EXPECT_EQ(o->fleet.auth_private_key, "k");
  EXPECT_EQ(o->fleet.retry.max_retries, 3);
  EXPECT_EQ(o->fleet.retry.max_wait_time, 60.0);
  EXPECT_EQ(o->log_level, LogLevel::kDebug);
  EXPECT_EQ(rest, (std::vector<std::string>{"--model", "m.pt"}));
  EXPECT_FALSE(cli::parse_node_flags({"--max-wait-time", "-1"}, &rest).ok());
  EXPECT_FALSE(cli::parse_node_flags({"--superlink"}, &rest).ok());
  EXPECT_FALSE(cli::parse_node_flags({"--log-level", "loud"}, &rest).ok());
}

}  // namespace
}  // namespace pollen
