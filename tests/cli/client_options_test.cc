// `pollen`'s node-mode flags and --config JSON, parsed as main() does.
#include "client_options.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <fstream>

#include "node_command.h"
#include "support/test_data.h"

namespace pollen::cli {
namespace {

using pollen::testing::contains;

struct Parsed {
  ClientOptions options;
  std::string error;  // CLI11's or check_client_options' message; empty when OK
};

Parsed parse(std::vector<std::string> args) {
  Parsed out;
  CLI::App app("test", "pollen");
  add_client_options(app, &out.options);
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
    Status checked = check_client_options(out.options);
    if (!checked.ok()) out.error = checked.message();
  } catch (const CLI::ParseError& e) {
    out.error = e.what();
    if (out.error.empty()) out.error = "parse error";
  }
  return out;
}

std::string write_config(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

const std::vector<std::string> kRequired = {"--model", "m.pt", "--train-data", "d.csv"};

std::vector<std::string> with_required(std::vector<std::string> args) {
  args.insert(args.end(), kRequired.begin(), kRequired.end());
  return args;
}

TEST(ClientOptionsTest, FlagsFillEveryField) {
  Parsed p = parse({"--superlink",
                    "10.0.0.2:9092",
                    "--insecure",
                    "--model",
                    "m.pt",
                    "--train-data",
                    "train.csv",
                    "--eval-data",
                    "test.csv",
                    "--device",
                    "cpu",
                    "--threads",
                    "2",
                    "--trainable",
                    "head.,fc2",
                    "--node-config",
                    "partition-id=1 num-partitions=3",
                    "--lr",
                    "0.05",
                    "--local-epochs",
                    "2",
                    "--batch-size",
                    "16",
                    "--optimizer",
                    "adamw",
                    "--momentum",
                    "0.9",
                    "--proximal-mu",
                    "0.1",
                    "--clip-norm",
                    "1.5",
                    "--seed",
                    "7",
                    "--nesterov",
                    "--state-dir",
                    "/tmp/s",
                    "--max-retries",
                    "4",
                    "--heartbeat-interval",
                    "12.5",
                    "--log-level",
                    "WARNING"});
  ASSERT_EQ(p.error, "");
  const ClientOptions& o = p.options;
  EXPECT_EQ(o.node.fleet.superlink, "10.0.0.2:9092");
  EXPECT_TRUE(o.node.fleet.insecure);
  EXPECT_EQ(o.model, "m.pt");
  EXPECT_EQ(o.train_data, "train.csv");
  EXPECT_EQ(o.eval_data, "test.csv");
  EXPECT_EQ(o.model_options.device, "cpu");
  EXPECT_EQ(o.model_options.threads, 2);
  EXPECT_EQ(o.client.train.trainable_prefixes, (std::vector<std::string>{"head.", "fc2"}));
  EXPECT_EQ(o.node_config, "partition-id=1 num-partitions=3");
  EXPECT_DOUBLE_EQ(o.client.train.lr, 0.05);
  EXPECT_EQ(o.client.train.local_epochs, 2);
  EXPECT_EQ(o.client.train.batch_size, 16);
  EXPECT_EQ(o.client.train.optimizer, "adamw");
  EXPECT_DOUBLE_EQ(o.client.train.momentum, 0.9);
  EXPECT_DOUBLE_EQ(o.client.train.proximal_mu, 0.1);
  EXPECT_DOUBLE_EQ(o.client.train.clip_norm, 1.5);
  EXPECT_EQ(o.client.train.seed, 7u);
  EXPECT_TRUE(o.client.train.nesterov);
  EXPECT_EQ(o.state_dir, "/tmp/s");
  EXPECT_EQ(o.node.fleet.retry.max_retries, 4);
  EXPECT_DOUBLE_EQ(o.node.fleet.heartbeat_interval, 12.5);
  EXPECT_EQ(o.node.log_level, LogLevel::kWarning);
}

TEST(ClientOptionsTest, DefaultsMatchTheDocumentedOnes) {
  Parsed p = parse(kRequired);
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.options.node.fleet.superlink, "127.0.0.1:9092");
  EXPECT_FALSE(p.options.node.fleet.insecure);
  EXPECT_DOUBLE_EQ(p.options.node.fleet.heartbeat_interval, 30.0);  // Flower's default
  EXPECT_EQ(p.options.model_options.device, "auto");
  EXPECT_DOUBLE_EQ(p.options.client.train.lr, 0.01);
  EXPECT_EQ(p.options.client.train.local_epochs, 1);
  EXPECT_EQ(p.options.client.train.batch_size, 32);
  EXPECT_TRUE(p.options.client.train.trainable_prefixes.empty());
  // Flower's PyTorch quickstart ClientApp's keys.
  EXPECT_EQ(to_string(p.options.client.train_metrics), "loss=train_loss,num-examples=num-examples");
  EXPECT_EQ(to_string(p.options.client.evaluate_metrics),
            "loss=eval_loss,accuracy=eval_acc,num-examples=num-examples");
}

TEST(ClientOptionsTest, MetricKeysAreChosenByFlagOrConfigKey) {
  Parsed p = parse(with_required({"--train-metrics", "loss, accuracy=acc ,num-examples=n",
                                  "--evaluate-metrics", "num-examples,loss=val_loss"}));
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.options.client.train_metrics, (MetricKeys{{MetricQuantity::kLoss, "train_loss"},
                                                        {MetricQuantity::kAccuracy, "acc"},
                                                        {MetricQuantity::kNumExamples, "n"}}));
  EXPECT_EQ(to_string(p.options.client.evaluate_metrics),
            "num-examples=num-examples,loss=val_loss");
  const std::string config =
      write_config("metrics.json", R"({"train-metrics": "loss,accuracy,num-examples"})");
  Parsed c = parse(with_required({"--config", config}));
  ASSERT_EQ(c.error, "");
  EXPECT_EQ(to_string(c.options.client.train_metrics),
            "loss=train_loss,accuracy=train_acc,num-examples=num-examples");
}

TEST(ClientOptionsTest, ConfigFileSetsKeysAndFlagsOverrideIt) {
  const std::string config = write_config("client.json", R"({
    "superlink": "10.1.1.1:9092", "insecure": true, "model": "from-config.pt",
    "train-data": "d.csv", "lr": 0.2, "local-epochs": 3, "trainable": ["head.", "fc."],
    "nesterov": true, "momentum": 0.9, "node-config": "partition-id=0 num-partitions=2"})");
  Parsed p = parse({"--config", config, "--lr", "0.5"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.options.node.fleet.superlink, "10.1.1.1:9092");
  EXPECT_TRUE(p.options.node.fleet.insecure);
  EXPECT_EQ(p.options.model, "from-config.pt");
  EXPECT_DOUBLE_EQ(p.options.client.train.lr, 0.5);  // the flag wins
  EXPECT_EQ(p.options.client.train.local_epochs, 3);
  EXPECT_EQ(p.options.client.train.trainable_prefixes, (std::vector<std::string>{"head.", "fc."}));
  EXPECT_TRUE(p.options.client.train.nesterov);
  EXPECT_EQ(p.options.node_config, "partition-id=0 num-partitions=2");
}

TEST(ClientOptionsTest, ConfigFileErrorsNameTheKey) {
  struct Case {
    const char* json;
    const char* expected;
  };
  for (const Case& c : {
           Case{R"({"modell": "m.pt"})", "unknown key 'modell'"},
           Case{R"({"lr": [0.1, 0.2]})", "key 'lr' takes one value"},
           Case{R"({"superlink": {"host": "x"}})", "key 'superlink' must be a string"},
           Case{R"({"lr": null})", "key 'lr' must be a string"},
           Case{R"({"help": true})", "unknown key 'help'"},
           Case{R"(["lr", 1])", "must hold a JSON object"},
           Case{R"({"lr": 0.1,)", "not valid JSON"},
       }) {
    Parsed p = parse(with_required({"--config", write_config("bad.json", c.json)}));
    EXPECT_TRUE(contains(p.error, c.expected)) << c.json << " -> " << p.error;
  }
}

TEST(ClientOptionsTest, BadFlagValuesAreRefusedNamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    const char* expected;
  };
  for (const Case& c : {
           Case{{"--lr", "-1"}, "--lr"},
           Case{{"--lr", "fast"}, "--lr"},
           Case{{"--optimizer", "rmsprop"}, "--optimizer"},
           Case{{"--batch-size", "0"}, "--batch-size"},
           Case{{"--heartbeat-interval", "5"}, "--heartbeat-interval"},
           Case{{"--superlink", "127.0.0.1:84631"}, "port 84631 is out of range"},
           Case{{"--superlink", "127.0.0.1"}, "no port"},
           Case{{"--threads", "100000"}, "--threads 100000: this machine has"},
           Case{{"--heartbeat-interval", "1801"}, "--heartbeat-interval"},
           Case{{"--log-level", "loud"}, "--log-level"},
           Case{{"--insecure", "--root-certificates", "ca.pem"}, "--insecure"},
           Case{{"--no-such-flag"}, "--no-such-flag"},
           Case{{"--persistent-key"}, "--persistent-key needs --state-dir"},
           Case{{"--persistent-key", "--state-dir", "s", "--insecure"}, "needs TLS"},
           Case{{"--nesterov"}, "--nesterov needs --momentum"},
           Case{{"--mixed-precision", "--device", "cpu"}, "--mixed-precision needs a CUDA"},
           Case{{"--config", "/no/such/file.json"}, "/no/such/file.json"},
           Case{{"--train-metrics", "loss,f1,num-examples"}, "unknown metric 'f1'"},
           Case{{"--train-metrics", "loss"}, "num-examples is required"},
           Case{{"--evaluate-metrics", "loss,loss=x,num-examples"}, "listed twice"},
           Case{{"--evaluate-metrics", "loss=k,accuracy=k,num-examples"}, "'k' is used twice"},
           Case{{"--train-metrics", "loss=,num-examples"}, "has no key"},
       }) {
    Parsed p = parse(with_required(c.args));
    EXPECT_TRUE(contains(p.error, c.expected)) << c.args[0] << " -> " << p.error;
  }
  EXPECT_TRUE(contains(parse({"--train-data", "d.csv"}).error, "--model is required"));
  EXPECT_TRUE(contains(parse({"--model", "m.pt"}).error, "--train-data is required"));
}

// A node key others can read lets them act as the node: warned about, as
// ssh does, naming the file and the fix.
TEST(NodeKeyTest, AKeyOthersCanReadIsWarnedAbout) {
  const std::string key = write_config("node.key", "-----BEGIN PRIVATE KEY-----\n");
  chmod(key.c_str(), 0644);
  const std::string warning = key_permission_warning(key);
  EXPECT_TRUE(contains(warning, "'" + key + "' is open to other users (mode 0644)")) << warning;
  EXPECT_TRUE(contains(warning, "chmod 600 " + key)) << warning;
  chmod(key.c_str(), 0600);
  EXPECT_EQ(key_permission_warning(key), "");
  EXPECT_EQ(key_permission_warning(""), "");
}

}  // namespace
}  // namespace pollen::cli
