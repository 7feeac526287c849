// A node as a process, driven through its command line: it joins a
// federation, answers, and on SIGTERM deactivates, unregisters and exits 0.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "node_command.h"
#include "pollen/superlink_lite/fedavg.h"
#include "pollen/superlink_lite/superlink_lite.h"

extern char** environ;

namespace pollen {
namespace {

using std::chrono::seconds;

// Starts the node program with `args`; returns its pid.
pid_t spawn_node(const std::vector<std::string>& args) {
  std::vector<std::string> all = {POLLEN_TEST_NODE};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  return pid;
}

// Waits up to `timeout` for `pid`; returns its exit code, or -1.
int wait_exit(pid_t pid, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

TEST(ProcessTest, NodeProcessServesAndExitsZeroOnSigterm) {
  auto link = SuperLinkLite::start();
  ASSERT_TRUE(link.ok());
  const pid_t pid = spawn_node({"--superlink", (*link)->address(), "--insecure", "--poll-interval",
                                "0.05", "--target", "2", "--examples", "5"});
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

  ASSERT_EQ(kill(pid, SIGTERM), 0);
  EXPECT_EQ(wait_exit(pid, seconds(30)), 0);
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
  EXPECT_EQ(wait_exit(spawn_node({"--max-retries", "many"}), seconds(30)), 2);
  EXPECT_EQ(wait_exit(spawn_node({"--insecure", "--root-certificates", "ca.pem"}), seconds(30)), 2);
  // Nothing listens there; with retries bounded the node gives up and says so.
  EXPECT_EQ(
      wait_exit(spawn_node({"--superlink", "127.0.0.1:1", "--insecure", "--max-retries", "1"}),
                seconds(60)),
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
