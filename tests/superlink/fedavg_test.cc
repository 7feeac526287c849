// FedAvg as Flower's strategy runs it: the reply contract, weighted
// averages (with stock FedAvg's float64 promotion of integer arrays), and
// whole rounds against simulated nodes over gRPC.
#include "pollen/superlink_lite/fedavg.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <thread>

#include "support/transcript.h"
#include "test_node.h"
#include "test_util.h"

namespace pollen::testing {
namespace {

template <typename T>
Array make_array(DType dtype, const std::vector<T>& values) {
  return Array::from_elements(dtype, {static_cast<int64_t>(values.size())}, values.data(),
                              values.size() * sizeof(T))
      .value();
}

template <typename T>
std::vector<T> values_of(const Array& array) {
  NpyArray npy = array.to_npy().value();
  std::vector<T> out(npy.num_elements());
  std::memcpy(out.data(), npy.data.data(), npy.data.size());
  return out;
}

RecordDict train_reply(std::vector<float> f, std::vector<int32_t> i, int64_t examples, double loss,
                       std::vector<double> acc) {
  ArrayRecord arrays;
  arrays.set("f", make_array(DType::kFloat32, f));
  arrays.set("i", make_array(DType::kInt32, i));
  MetricRecord metrics;
  metrics.set("num-examples", examples);
  metrics.set("loss", loss);
  metrics.set("acc", std::move(acc));
  RecordDict reply;
  reply.set("arrays", std::move(arrays));
  reply.set("metrics", std::move(metrics));
  return reply;
}

TEST(AggregateTest, WeightedAverages) {
  const RecordDict a = train_reply({1, 2}, {3, 5}, 1, 1.0, {1.0, 0.0});
  const RecordDict b = train_reply({3, 4}, {7, 9}, 3, 2.0, {0.0, 1.0});
  const std::vector<const RecordDict*> replies = {&a, &b};
  ASSERT_TRUE(check_reply_consistency(replies, "num-examples", true).ok());

  Result<ArrayRecord> promoted = aggregate_array_records(replies, "num-examples", true);
  ASSERT_TRUE(promoted.ok()) << promoted.status();
  EXPECT_EQ(promoted->find("f")->dtype, "float32");
  EXPECT_EQ(values_of<float>(*promoted->find("f")), (std::vector<float>{2.5f, 3.5f}));
  EXPECT_EQ(promoted->find("i")->dtype, "float64");
  EXPECT_EQ(values_of<double>(*promoted->find("i")), (std::vector<double>{6.0, 8.0}));

  Result<ArrayRecord> kept = aggregate_array_records(replies, "num-examples", false);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->find("i")->dtype, "int32");
  EXPECT_EQ(values_of<int32_t>(*kept->find("i")), (std::vector<int32_t>{6, 8}));

  Result<MetricRecord> metrics = aggregate_metric_records(replies, "num-examples");
  ASSERT_TRUE(metrics.ok());
  EXPECT_FALSE(metrics->contains("num-examples"));
  EXPECT_EQ(std::get<double>(*metrics->find("loss")), 1.75);
  EXPECT_EQ(std::get<std::vector<double>>(*metrics->find("acc")),
            (std::vector<double>{0.25, 0.75}));
}

TEST(AggregateTest, HalfPrecisionStaysHalf) {
  // float16 1.0, 2.0 and 3.0, 5.0 (IEEE half bit patterns).
  auto reply = [](std::vector<uint16_t> halves, int64_t examples) {
    ArrayRecord arrays;
    arrays.set("h", make_array(DType::kFloat16, halves));
    MetricRecord metrics;
    metrics.set("num-examples", examples);
    RecordDict out;
    out.set("arrays", std::move(arrays));
    out.set("metrics", std::move(metrics));
    return out;
  };
  const RecordDict a = reply({0x3c00, 0x4000}, 1);
  const RecordDict b = reply({0x4200, 0x4500}, 1);
  Result<ArrayRecord> out = aggregate_array_records({&a, &b}, "num-examples", true);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->find("h")->dtype, "float16");
  EXPECT_EQ(values_of<uint16_t>(*out->find("h")), (std::vector<uint16_t>{0x4000, 0x4300}));
}

TEST(AggregateTest, ReplyContract) {
  const RecordDict good = train_reply({1}, {1}, 1, 0.0, {0.0});
  RecordDict two_arrays = good;
  two_arrays.set("more", ArrayRecord());
  EXPECT_EQ(check_reply_consistency({&good, &two_arrays}, "num-examples", true).message(),
            "Expected exactly one ArrayRecord in replies. Skipping aggregation.");
  // Evaluate replies are not checked for arrays.
  EXPECT_TRUE(check_reply_consistency({&good, &two_arrays}, "num-examples", false).ok());

  RecordDict other_keys = good;
  std::get<ArrayRecord>(*other_keys.find("arrays"))
      .set("g", make_array(DType::kFloat32, std::vector<float>{1}));
  EXPECT_EQ(check_reply_consistency({&good, &other_keys}, "num-examples", true).code(),
            StatusCode::kFailedPrecondition);

  RecordDict no_weight = good;
  std::get<MetricRecord>(*no_weight.find("metrics")).erase("num-examples");
  EXPECT_EQ(check_reply_consistency({&no_weight}, "num-examples", true).message(),
            "Missing required key `num-examples` in the MetricRecord of reply messages. Cannot "
            "average ArrayRecords and MetricRecords. Skipping aggregation.");

  RecordDict list_weight = good;
  std::get<MetricRecord>(*list_weight.find("metrics"))
      .set("num-examples", std::vector<int64_t>{1, 2});
  EXPECT_EQ(check_reply_consistency({&list_weight}, "num-examples", true).code(),
            StatusCode::kFailedPrecondition);
}

// Two nodes that add their own offset to every float array and keep other
// arrays, plus one whose ClientApp always fails.
class FedAvgTest : public ::testing::Test {
 protected:
  TestNode::Respond respond(float offset, int64_t examples, double eval_loss) {
    return [this, offset, examples, eval_loss](const Message& ins) -> Result<RecordDict> {
      const ArrayRecord* arrays = find_array_record(*ins.content, "arrays");
      const ConfigRecord* config = find_config_record(*ins.content, "config");
      if (arrays == nullptr || config == nullptr) return invalid_argument("bad instruction");
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen_.push_back(ins.metadata.message_type + " r" +
                        std::to_string(std::get<int64_t>(*config->find("server-round"))) + " " +
                        arrays->find("counts")->dtype);
      }
      MetricRecord metrics;
      metrics.set("num-examples", examples);
      RecordDict reply;
      if (ins.metadata.message_type == "evaluate") {
        metrics.set("eval_loss", eval_loss);
        reply.set("metrics", std::move(metrics));
        return reply;
      }
      ArrayRecord updated = *arrays;
      std::vector<float> w = values_of<float>(*arrays->find("w"));
      for (float& v : w) v += offset;
      updated.set("w", float_array(w, {2}));
      metrics.set("train_loss", static_cast<double>(offset));
      reply.set("arrays", std::move(updated));
      reply.set("metrics", std::move(metrics));
      return reply;
    };
  }

  std::mutex mu_;
  std::vector<std::string> seen_;
};

TEST_F(FedAvgTest, TwoRoundsOverGrpc) {
  std::unique_ptr<SuperLinkLite> link = start_link();
  ASSERT_NE(link, nullptr);
  TestNode a(link->address(), respond(1.0f, 100, 1.0));
  TestNode b(link->address(), respond(3.0f, 300, 2.0));
  TestNode failing(link->address(), [](const Message&) -> Result<RecordDict> {
    return internal_error("<class 'RuntimeError'>:<'no data'>");
  });
  ASSERT_TRUE(a.status().ok()) << a.status();
  ASSERT_TRUE(b.status().ok());
  ASSERT_TRUE(failing.status().ok());
  ASSERT_TRUE(link->wait_for_nodes(3, std::chrono::seconds(5)).ok());

  ArrayRecord initial;
  initial.set("w", float_array({0.0f, 10.0f}, {2}));
  initial.set("counts", make_array(DType::kInt32, std::vector<int32_t>{1, 2147483647}));
  FedAvgConfig config;
  config.num_rounds = 2;
  config.train_config.set("lr", 0.1);
  config.round_timeout = std::chrono::seconds(20);
  config.poll_interval = std::chrono::milliseconds(20);
  // Each round is reported as it completes, with what the result holds later.
  std::vector<FedAvgRound> reported;
  config.on_round = [&reported](const FedAvgRound& round) { reported.push_back(round); };
  const uint64_t run_id = link->create_run();
  Result<FedAvgResult> result = run_fedavg(*link, run_id, {}, initial, config);
  ASSERT_TRUE(result.ok()) << result.status();
  a.stop();  // a node may still be returning from its last PushObject
  b.stop();

  ASSERT_EQ(result->rounds.size(), 2u);
  ASSERT_EQ(reported.size(), 2u);
  for (size_t i = 0; i < reported.size(); ++i) {
    EXPECT_EQ(reported[i].round, static_cast<int>(i) + 1);
    EXPECT_EQ(reported[i].train.replies, result->rounds[i].train.replies);
    EXPECT_EQ(reported[i].evaluate.metrics, result->rounds[i].evaluate.metrics);
  }
  for (const FedAvgRound& round : result->rounds) {
    EXPECT_EQ(round.train.sent, 3u);
    EXPECT_EQ(round.train.replies, 2u);
    EXPECT_EQ(round.train.errors, 1u);
    EXPECT_EQ(round.train.missing, 0u);
    EXPECT_EQ(std::get<double>(*round.train.metrics.find("train_loss")), 2.5);
    EXPECT_EQ(round.evaluate.replies, 2u);
    EXPECT_EQ(round.evaluate.errors, 1u);
    EXPECT_EQ(std::get<double>(*round.evaluate.metrics.find("eval_loss")), 1.75);
  }
  // Weighted by 100:300 the offsets average to 2.5 per round.
  EXPECT_EQ(values_of<float>(*result->arrays.find("w")), (std::vector<float>{5.0f, 15.0f}));
  EXPECT_EQ(result->arrays.find("counts")->dtype, "float64");
  EXPECT_EQ(values_of<double>(*result->arrays.find("counts")),
            (std::vector<double>{1.0, 2147483647.0}));
  // Nodes saw int32 in round 1 and float64 from then on, as with Flower.
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(std::count(seen_.begin(), seen_.end(), "train r1 int32"), 2);
  EXPECT_EQ(std::count(seen_.begin(), seen_.end(), "evaluate r1 float64"), 2);
  EXPECT_EQ(std::count(seen_.begin(), seen_.end(), "train r2 float64"), 2);
  EXPECT_TRUE(a.failures().empty());
  EXPECT_TRUE(b.failures().empty());
  EXPECT_EQ(a.answered(), 4);
}

TEST_F(FedAvgTest, InconsistentRepliesFailTheRun) {
  std::unique_ptr<SuperLinkLite> link = start_link();
  ASSERT_NE(link, nullptr);
  TestNode good(link->address(), respond(1.0f, 100, 1.0));
  TestNode unweighted(link->address(), [](const Message& ins) -> Result<RecordDict> {
    RecordDict reply;
    reply.set("arrays", *find_array_record(*ins.content, "arrays"));
    MetricRecord metrics;
    metrics.set("examples", int64_t{5});  // not "num-examples"
    reply.set("metrics", std::move(metrics));
    return reply;
  });
  ASSERT_TRUE(link->wait_for_nodes(2, std::chrono::seconds(5)).ok());
  ArrayRecord initial;
  initial.set("w", float_array({0.0f, 1.0f}, {2}));
  initial.set("counts", make_array(DType::kInt32, std::vector<int32_t>{1, 2}));
  FedAvgConfig config;
  config.round_timeout = std::chrono::seconds(20);
  config.poll_interval = std::chrono::milliseconds(20);
  Result<FedAvgResult> result = run_fedavg(*link, link->create_run(), {}, initial, config);
  EXPECT_EQ(result.status().code(), StatusCode::kFailedPrecondition);
}

// The calls of one node, without the timing-dependent ones (heartbeats;
// GetRun/GetFab, which only a Python SuperNode needs) and with repeats
// folded: the shape of a session.
std::vector<std::string> session_shape(const std::vector<std::string>& methods) {
  std::vector<std::string> shape;
  for (const std::string& m : methods) {
    if (m == "SendNodeHeartbeat" || m == "GetRun" || m == "GetFab") continue;
    if (shape.empty() || shape.back() != m) shape.push_back(m);
  }
  return shape;
}

TEST_F(FedAvgTest, CallSequenceMatchesTheRecordedPythonSession) {
  std::vector<std::string> recorded;
  for (const TranscriptCall& call : load_transcript("fedavg_2rounds_2nodes.jsonl.gz")) {
    if (call.node == "A") recorded.push_back(method_name(call));
  }
  ASSERT_FALSE(recorded.empty());

  std::unique_ptr<SuperLinkLite> link = start_link();
  ASSERT_NE(link, nullptr);
  TestNode a(link->address(), respond(1.0f, 100, 1.0));
  TestNode b(link->address(), respond(3.0f, 300, 2.0));
  ASSERT_TRUE(link->wait_for_nodes(2, std::chrono::seconds(5)).ok());
  ArrayRecord initial;
  initial.set("w", float_array({0.0f, 1.0f}, {2}));
  initial.set("counts", make_array(DType::kInt32, std::vector<int32_t>{1, 2}));
  FedAvgConfig config;
  config.num_rounds = 2;
  config.round_timeout = std::chrono::seconds(20);
  config.poll_interval = std::chrono::milliseconds(20);
  const uint64_t run_id = link->create_run();
  ASSERT_TRUE(run_fedavg(*link, run_id, {}, initial, config).ok());
  // Like the Python SuperNode, the node goes on polling once the run is over.
  auto last_call_of_a = [&] {
    std::string last;
    for (const CallRecord& call : link->call_log()) {
      if (call.node_id == a.node_id()) last = call.method;
    }
    return last;
  };
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (last_call_of_a() != "PullMessages" && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  a.stop();
  ASSERT_TRUE(a.client().deactivate().ok());
  ASSERT_TRUE(a.client().unregister().ok());

  std::vector<std::string> ours;
  for (const CallRecord& call : link->call_log()) {
    if (call.node_id == a.node_id()) ours.push_back(call.method);
  }
  EXPECT_EQ(session_shape(ours), session_shape(recorded));
}

}  // namespace
}  // namespace pollen::testing
