// `pollen` as a user runs it: two processes fine-tune the zoo's CNN on
// label-skewed shards of the UCI digits through the conformance SuperLink
// with FedAvg, keep their state directories, and a restarted process resumes
// from its own.
#include <gtest/gtest.h>

#include <fstream>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "pollen/core/npz.h"
#include "pollen/runtime/state_dir.h"
#include "pollen/superlink_lite/fedavg.h"
#include "pollen/superlink_lite/superlink_lite.h"
#include "support/child_process.h"
#include "support/test_data.h"

namespace pollen {
namespace {

namespace fs = std::filesystem;
using pollen::testing::contains;
using pollen::testing::data_path;
using std::chrono::seconds;

std::string zoo(const std::string& file) { return std::string(POLLEN_ZOO_DIR) + "/" + file; }

// A `pollen` process whose stdout and stderr go to `log`.
class PollenProcess : public pollen::testing::ChildProcess {
 public:
  PollenProcess(std::vector<std::string> args, const std::string& log)
      : ChildProcess(with_program(std::move(args)), log) {}

 private:
  static std::vector<std::string> with_program(std::vector<std::string> args) {
    args.insert(args.begin(), POLLEN_BIN);
    return args;
  }
};

std::string scratch(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/pollen-process-" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<std::string> node_args(const std::string& address, int client,
                                   const std::string& state_dir) {
  return {"--superlink",
          address,
          "--insecure",
          "--model",
          zoo("cnn8.pt"),
          "--train-data",
          data_path("client-" + std::to_string(client) + ".csv"),
          "--eval-data",
          data_path("test.csv"),
          "--device",
          "cpu",
          "--momentum",
          "0.9",
          "--seed",
          std::to_string(client),
          "--poll-interval",
          "0.05",
          "--state-dir",
          state_dir,
          "--energy-metrics",
          "all"};
}

double metric(const MetricRecord& m, const char* key) {
  const MetricValue* v = m.find(key);
  return v != nullptr && std::holds_alternative<double>(*v) ? std::get<double>(*v) : -1;
}

TEST(PollenProcessTest, TwoProcessesLearnDigitsAndKeepTheirState) {
  auto link = SuperLinkLite::start();
  ASSERT_TRUE(link.ok()) << link.status();
  const std::string dir = scratch("learn");
  PollenProcess a(node_args((*link)->address(), 0, dir + "/state-0"), dir + "/node-0.log");
  PollenProcess b(node_args((*link)->address(), 1, dir + "/state-1"), dir + "/node-1.log");
  auto online = (*link)->wait_for_nodes(2, seconds(60));
  ASSERT_TRUE(online.ok()) << online.status() << "\n" << a.log() << b.log();

  Result<ArrayRecord> initial = read_npz(zoo("cnn8.npz"));
  ASSERT_TRUE(initial.ok()) << initial.status();
  const uint64_t run = (*link)->create_run();
  FedAvgConfig config;
  config.num_rounds = 3;
  config.poll_interval = std::chrono::milliseconds(20);
  config.round_timeout = seconds(300);
  config.train_config.set("lr", 0.05);
  config.train_config.set("local-epochs", int64_t{1});
  auto result = run_fedavg(**link, run, *online, *initial, config);
  ASSERT_TRUE(result.ok()) << result.status() << "\n" << a.log() << b.log();

  std::vector<double> accuracy;
  for (const FedAvgRound& round : result->rounds) {
    EXPECT_EQ(round.train.replies, 2u) << a.log() << b.log();
    EXPECT_EQ(round.evaluate.replies, 2u);
    accuracy.push_back(metric(round.evaluate.metrics, "eval_acc"));
  }
  // --energy-metrics all: the same keys from every node, whatever it reads.
  const MetricRecord& train_metrics = result->rounds[0].train.metrics;
  for (const char* key : {"energy-joules", "power-peak-watts", "train-seconds", "cpu-util",
                          "gpu-util", "temp-max-c"}) {
    EXPECT_NE(train_metrics.find(key), nullptr) << key;
  }
  EXPECT_GT(metric(train_metrics, "train-seconds"), 0);

  // The held-out digits: both nodes evaluate the global model on test.csv.
  std::cout << "held-out accuracy per round: " << accuracy[0] << " " << accuracy[1] << " "
            << accuracy[2] << "\n";
  EXPECT_GT(accuracy[2], accuracy[0] + 0.05);
  EXPECT_GT(accuracy[2], 0.85);

  // Progress: one line per local epoch, with loss and throughput.
  EXPECT_TRUE(contains(a.log(), "epoch 1/1: loss"));
  EXPECT_TRUE(contains(a.log(), "samples/s"));
  EXPECT_TRUE(contains(a.log(), "evaluate: loss "));

  // Each state directory holds the last round's global model exactly as sent
  // and the node's last local model.
  Result<StateDir> state = StateDir::open(dir + "/state-0");
  ASSERT_TRUE(state.ok());
  Result<SavedState> saved = state->read_state();
  ASSERT_TRUE(saved.ok()) << saved.status();
  ASSERT_TRUE(saved->local.has_value() && saved->global.has_value());
  EXPECT_EQ(saved->local->server_round, 3);
  EXPECT_EQ(saved->local->run_id, run);
  Result<ArrayRecord> local = read_npz(state->local_path());
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(local->size(), initial->size());

  // LibTorch's own threads (default --threads) must not take the signal.
  EXPECT_EQ(a.stop(), 0) << a.log();
  EXPECT_EQ(b.stop(), 0) << b.log();
  EXPECT_TRUE(contains(a.log(), "Stopped by signal"));

  // A restarted node picks its local model up again and reports it.
  PollenProcess again(node_args((*link)->address(), 0, dir + "/state-0"), dir + "/again.log");
  auto back = (*link)->wait_for_nodes(1, seconds(60));
  ASSERT_TRUE(back.ok()) << again.log();
  EXPECT_TRUE(
      contains(again.log(), "Resumed the local model of run " + std::to_string(run) + ", round 3"));
  const uint64_t run2 = (*link)->create_run();
  auto id = (*link)->push_instruction(run2, (*back)[0], "query", RecordDict());
  ASSERT_TRUE(id.ok()) << id.status();
  auto replies = (*link)->wait_for_replies({*id}, seconds(60), std::chrono::milliseconds(20));
  ASSERT_EQ(replies.size(), 1u) << again.log();
  const Message& reply = replies.begin()->second;
  ASSERT_TRUE(reply.has_content()) << (reply.error ? reply.error->reason : "");
  const ConfigRecord* device = find_config_record(*reply.content, "config");
  ASSERT_NE(device, nullptr);
  ASSERT_NE(device->find("state-server-round"), nullptr);
  EXPECT_EQ(std::get<int64_t>(*device->find("state-server-round")), 3);
  // ... and describes the device, so a server can sample on it.
  for (const char* key : {"pollen-version", "libtorch-version", "device", "cpu-model"}) {
    const ConfigValue* value = device->find(key);
    ASSERT_NE(value, nullptr) << key;
    EXPECT_FALSE(std::get<std::string>(*value).empty()) << key;
  }
  EXPECT_EQ(std::get<std::string>(*device->find("device")), "cpu");
  EXPECT_GT(std::get<int64_t>(*device->find("memory-bytes")), 0);
  EXPECT_EQ(again.stop(), 0) << again.log();
}

// Waits (bounded) until `text` is in the process's log.
bool wait_for_log(const PollenProcess& p, const std::string& text, seconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (contains(p.log(), text)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// A server asking for a million epochs must not hold a node that is asked
// to stop: SIGTERM ends training within a step, the instruction is not
// answered, the node deactivates and exits 0.
TEST(PollenProcessTest, SigtermEndsAMillionEpochRoundWithinAStep) {
  auto link = SuperLinkLite::start();
  ASSERT_TRUE(link.ok()) << link.status();
  const std::string dir = scratch("sigterm");
  std::vector<std::string> args = node_args((*link)->address(), 0, dir + "/state");
  args.insert(args.end(), {"--max-steps", "0", "--max-train-seconds", "0"});  // no ceilings
  PollenProcess p(args, dir + "/node.log");
  auto online = (*link)->wait_for_nodes(1, seconds(60));
  ASSERT_TRUE(online.ok()) << online.status() << "\n" << p.log();
  Result<ArrayRecord> initial = read_npz(zoo("cnn8.npz"));
  ASSERT_TRUE(initial.ok());
  ConfigRecord config;
  config.set("local-epochs", int64_t{1000000});
  RecordDict content;
  content.set("arrays", *initial);
  content.set("config", config);
  const uint64_t run = (*link)->create_run();
  auto id = (*link)->push_instruction(run, (*online)[0], "train", content);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(wait_for_log(p, "epoch 2/1000000", seconds(120))) << p.log();

  EXPECT_EQ(p.stop(seconds(60)), 0) << p.log();
  EXPECT_TRUE(contains(p.log(), "training stopped at step")) << p.log();
  EXPECT_TRUE(contains(p.log(), "abandoned after")) << p.log();
  EXPECT_TRUE(contains(p.log(), "Stopped by signal 15")) << p.log();
  EXPECT_FALSE(contains(p.log(), "Sent reply")) << p.log();
  // What the ServerApp sees: at most the SuperLink's own "node unavailable".
  for (const auto& [_, reply] :
       (*link)->wait_for_replies({*id}, seconds(1), std::chrono::milliseconds(20))) {
    EXPECT_FALSE(reply.has_content());
    ASSERT_TRUE(reply.error.has_value());
    EXPECT_NE(reply.metadata.src_node_id, (*online)[0]) << reply.error->reason;
  }
}

// Signals are blocked from main() on; whether `pid` has got that far.
bool blocks_sigint(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("SigBlk:", 0) == 0) {
      return (std::stoull(line.substr(7), nullptr, 16) & (1ull << (SIGINT - 1))) != 0;
    }
  }
  return false;
}

// Ctrl-C while a large CSV loads ends the process within a second or two,
// not after the load.
TEST(PollenProcessTest, SigintDuringStartUpEndsItAtOnce) {
  const std::string dir = scratch("startup");
  const std::string csv = dir + "/big.csv";
  {
    std::ofstream out(csv);
    std::string row;
    for (int i = 0; i < 64; ++i) row += std::to_string(i % 17) + ",";
    for (int i = 0; i < 300000; ++i) out << row << (i % 10) << "\n";  // ~50 MB
  }
  PollenProcess p(
      {"--model", zoo("cnn8.pt"), "--train-data", csv, "--superlink", "127.0.0.1:1", "--insecure"},
      dir + "/node.log");
  const auto end = std::chrono::steady_clock::now() + seconds(30);
  while (!blocks_sigint(p.pid()) && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(blocks_sigint(p.pid())) << p.log();
  kill(p.pid(), SIGINT);
  EXPECT_EQ(p.wait(seconds(60)), 0) << p.log();
  EXPECT_TRUE(contains(p.log(), "Stopped by signal 2 during start-up")) << p.log();
  EXPECT_FALSE(contains(p.log(), "Starting Pollen node")) << p.log();
}

TEST(PollenProcessTest, SetupErrorsExitOneNamingTheCause) {
  const std::string dir = scratch("errors");
  struct Case {
    std::vector<std::string> args;
    const char* expected;
  };
  const std::string model = zoo("cnn8.pt");
  const std::string data = data_path("client-0.csv");
  std::ofstream(dir + "/wrong.csv") << "a,b,label\n1,2,0\n3,4,1\n";
  for (const Case& c : {
           Case{{"--model", dir + "/missing.pt", "--train-data", data}, "missing.pt"},
           Case{{"--model", data, "--train-data", data}, "client-0.csv"},
           Case{{"--model", model, "--train-data", dir + "/none.csv"}, "none.csv"},
           Case{{"--model", model, "--train-data", dir + "/wrong.csv"}, "--train-data"},
           Case{{"--model", model, "--train-data", data, "--device", "cuda:99"}, "cuda:99"},
           Case{{"--model", model, "--train-data", data, "--trainable", "nohead."}, "--trainable"},
           Case{{"--model", model, "--train-data", data, "--node-config",
                 "partition-id=5 num-partitions=2"},
                "partition"},
       }) {
    std::vector<std::string> args = c.args;
    args.insert(args.end(), {"--superlink", "127.0.0.1:1", "--insecure", "--max-retries", "0"});
    PollenProcess p(args, dir + "/error.log");
    EXPECT_EQ(p.wait(seconds(60)), 1) << p.log();
    EXPECT_TRUE(contains(p.log(), c.expected)) << p.log();
  }
  // Usage errors exit 2.
  PollenProcess usage({"--model", model}, dir + "/usage.log");
  EXPECT_EQ(usage.wait(seconds(30)), 2);
  EXPECT_TRUE(contains(usage.log(), "--train-data is required"));
}

}  // namespace
}  // namespace pollen
