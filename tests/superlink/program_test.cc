// The pollen-superlink-lite program end to end: two simulated nodes join,
// one round of FedAvg runs from a numpy .npz, the program reports the round
// and saves the arrays; and the ways it refuses to start.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "pollen/core/npz.h"
#include "support/test_data.h"
#include "test_node.h"
#include "test_util.h"

namespace pollen::testing {
namespace {

const std::string kProgram = POLLEN_SUPERLINK_LITE_PROGRAM;
const std::string kNpzDir = POLLEN_NPZ_TEST_DIR;

// Runs the program with `args` (shell syntax) and returns its exit code and
// its stdout and stderr together.
std::pair<int, std::string> run_program(const std::string& args) {
  FILE* out = popen((kProgram + " " + args + " 2>&1").c_str(), "r");
  if (out == nullptr) return {-1, "popen failed"};
  std::string output;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), out)) output += buffer;
  const int status = pclose(out);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

std::string scratch_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("pollen-superlink-program-" + std::to_string(::getpid()) + "-" + name))
      .string();
}

TEST(ProgramTest, RunsOneRoundAndExits) {
  const std::string metrics_path = scratch_path("metrics.jsonl");
  const std::string saved_path = scratch_path("saved.npz");
  const std::string initial_path = kNpzDir + "/model.npz";
  const std::string command = kProgram +
                              " --insecure --address 127.0.0.1:0 --min-nodes 2 --rounds 1"
                              " --wait-timeout 30 --round-timeout 30 --initial-arrays " +
                              initial_path +
                              " --train-config 'lr=0.05 local-epochs=1' --evaluate-config "
                              "batch-size=8 --metrics-out " +
                              metrics_path + " --save-arrays " + saved_path + " 2>&1";
  std::mutex mu;
  std::vector<std::string> configs;  // what the nodes were sent, as "<type>: k=v ..."
  auto echo = [&](const Message& instruction) -> Result<RecordDict> {
    std::string seen = instruction.metadata.message_type + ":";
    for (const auto& [key, value] : *find_config_record(*instruction.content, "config")) {
      seen += " " + key + "=" + std::to_string(*config_as_double(value));
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      configs.push_back(seen);
    }
    MetricRecord metrics;
    metrics.set("num-examples", int64_t{10});
    metrics.set("loss", 0.5);
    RecordDict reply;
    if (instruction.metadata.message_type == "train") {
      reply.set("arrays", *find_array_record(*instruction.content, "arrays"));
    }
    reply.set("metrics", std::move(metrics));
    return reply;
  };

  FILE* out = popen(command.c_str(), "r");
  ASSERT_NE(out, nullptr);
  char line[512];
  std::string first = fgets(line, sizeof(line), out) ? line : "";
  const std::string prefix = "Fleet API on ";
  const size_t end = first.find(';');
  std::string output = first;
  if (first.rfind(prefix, 0) == 0 && end != std::string::npos) {
    const std::string address = first.substr(prefix.size(), end - prefix.size());
    TestNode a(address, echo);
    TestNode b(address, echo);
    EXPECT_TRUE(a.status().ok()) << a.status();
    EXPECT_TRUE(b.status().ok()) << b.status();
    while (fgets(line, sizeof(line), out)) output += line;
  } else {
    ADD_FAILURE() << "unexpected first line: " << first;
  }
  const int status = pclose(out);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_NE(output.find("round 1\n  train: 2 replies, 0 errors, 0 missing; loss=0.5\n"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("  evaluate: 2 replies, 0 errors, 0 missing; loss=0.5\n"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("saved 2 arrays to " + saved_path), std::string::npos) << output;

  // --train-config replaces the default lr; the evaluate config is its own.
  EXPECT_EQ(std::count(configs.begin(), configs.end(),
                       "train: lr=0.050000 local-epochs=1.000000 server-round=1.000000"),
            2);
  EXPECT_EQ(std::count(configs.begin(), configs.end(),
                       "evaluate: batch-size=8.000000 server-round=1.000000"),
            2);

  std::ifstream metrics(metrics_path);
  std::string json_line;
  ASSERT_TRUE(std::getline(metrics, json_line));
  const nlohmann::json round = nlohmann::json::parse(json_line);
  EXPECT_EQ(round["round"], 1);
  EXPECT_EQ(round["train"]["replies"], 2);
  EXPECT_EQ(round["train"]["errors"], 0);
  EXPECT_EQ(round["train"]["missing"], 0);
  EXPECT_EQ(round["train"]["metrics"]["loss"], 0.5);
  EXPECT_EQ(round["evaluate"]["metrics"]["loss"], 0.5);
  EXPECT_GE(round["seconds"].get<double>(), 0.0);
  EXPECT_FALSE(std::getline(metrics, json_line)) << "one line per round";

  // Both nodes sent the arrays back unchanged, so their average is the start.
  Result<ArrayRecord> initial = read_npz(initial_path);
  Result<ArrayRecord> saved = read_npz(saved_path);
  ASSERT_TRUE(initial.ok()) << initial.status();
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_EQ(*saved, *initial);
  std::filesystem::remove(metrics_path);
  std::filesystem::remove(saved_path);
}

TEST(ProgramTest, HelpAndBadFlags) {
  auto [help_rc, help] = run_program("--help");
  EXPECT_EQ(help_rc, 0);
  EXPECT_TRUE(contains(help, "--initial-arrays FILE.npz"));
  EXPECT_TRUE(contains(help, "--metrics-out FILE"));

  for (const char* args :
       {"", "--insecure --rounds 0", "--insecure --bogus 1", "--insecure --rounds",
        "--insecure --train-config 'lr'", "--insecure --evaluate-config 'a=1 a=2'",
        "--insecure --initial-arrays ''", "--ssl-certfile c.pem --insecure"}) {
    SCOPED_TRACE(args);
    auto [rc, output] = run_program(args);
    EXPECT_EQ(rc, 2) << output;
    EXPECT_TRUE(contains(output, "usage: pollen-superlink-lite"));
  }
  auto [rc, output] = run_program("--insecure --train-config 'lr=0.1 oops'");
  EXPECT_EQ(rc, 2);
  EXPECT_TRUE(contains(output, "--train-config: node config: 'oops'"));
}

TEST(ProgramTest, MissingInitialArraysFailBeforeServing) {
  auto [rc, output] =
      run_program("--insecure --address 127.0.0.1:0 --initial-arrays " + kNpzDir + "/none.npz");
  EXPECT_EQ(rc, 1);
  EXPECT_TRUE(contains(output, "NOT_FOUND: " + kNpzDir + "/none.npz"));
  EXPECT_FALSE(contains(output, "Fleet API on"));
}

TEST(ProgramTest, GivesUpWhenNoNodeComes) {
  auto [rc, output] = run_program("--insecure --address 127.0.0.1:0 --initial-arrays " + kNpzDir +
                                  "/savez.npz --min-nodes 1 --wait-timeout 1");
  EXPECT_EQ(rc, 1);
  EXPECT_TRUE(contains(output, "0 of 1 nodes online when the wait timed out"));
}

}  // namespace
}  // namespace pollen::testing
