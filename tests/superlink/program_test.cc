// The pollen-superlink-lite program end to end: two simulated nodes join,
// one round of FedAvg runs, the program prints its summary and exits 0.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "test_node.h"
#include "test_util.h"

namespace pollen::testing {
namespace {

Result<RecordDict> echo(const Message& instruction) {
  MetricRecord metrics;
  metrics.set("num-examples", int64_t{10});
  metrics.set("loss", 0.5);
  RecordDict reply;
  if (instruction.metadata.message_type == "train") {
    reply.set("arrays", *find_array_record(*instruction.content, "arrays"));
  }
  reply.set("metrics", std::move(metrics));
  return reply;
}

TEST(ProgramTest, RunsOneRoundAndExits) {
  const std::string command = std::string(POLLEN_SUPERLINK_LITE_PROGRAM) +
                              " --insecure --address 127.0.0.1:0 --min-nodes 2 --rounds 1"
                              " --wait-timeout 30 --round-timeout 30 2>&1";
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
}

}  // namespace
}  // namespace pollen::testing
