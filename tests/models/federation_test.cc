// Two nodes with the TorchClient fine-tune the exported CNN with FedAvg on
// the conformance SuperLink: the global model actually learns, every reply
// keeps the instruction's keys and dtypes, and a mismatched model gets an
// error reply while its node stays up.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <thread>

#include "pollen/models/torch_client.h"
#include "pollen/runtime/node.h"
#include "pollen/superlink_lite/fedavg.h"
#include "pollen/superlink_lite/superlink_lite.h"
#include "pollen/transport/fleet.h"
#include "support/test_data.h"

namespace pollen {
namespace {

using std::chrono::seconds;

// 1x8x8 images whose class (0..3) is the quadrant lit brighter than the
// rest; `skew` gives this node mostly two of the four classes (non-IID).
class Quadrants final : public Dataset {
 public:
  Quadrants(size_t n, uint64_t seed, int skew) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> dim(0.0f, 0.6f);
    for (size_t i = 0; i < n; ++i) {
      const int label =
          (i % 5 == 4) ? static_cast<int>((i / 5) % 4) : skew + static_cast<int>(i % 2);
      Sample s{std::vector<float>(64), {1, 8, 8}, {static_cast<float>(label)}, {}};
      for (int r = 0; r < 8; ++r) {
        for (int c = 0; c < 8; ++c) {
          s.x[r * 8 + c] = dim(rng) + (((r / 4) * 2 + c / 4 == label) ? 0.8f : 0.0f);
        }
      }
      samples_.push_back(std::move(s));
    }
  }
  size_t size() const override { return samples_.size(); }
  Result<Sample> get(size_t i) const override {
    if (i >= samples_.size()) return out_of_range("no sample");
    return samples_[i];
  }
  bool labels_are_classes() const override { return true; }

 private:
  std::vector<Sample> samples_;
};

std::unique_ptr<Model> load_cnn() {
  ModelOptions options;
  options.device = "cpu";
  options.threads = 1;
  auto model = Model::load(testing::data_path("cnn.pt"), options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? std::move(model).value() : nullptr;
}

// A node with its own model and data on its own thread.
class TorchNode {
 public:
  TorchNode(const std::string& address, uint64_t seed, int skew)
      : model_(load_cnn()), train_(240, seed, skew), eval_(80, seed + 100, skew) {
    if (model_ == nullptr) {
      status_ = internal_error("the test model did not load");
      return;
    }
    TorchClientOptions options;
    options.train.batch_size = 16;
    options.train.lr = 0.02;
    options.train.momentum = 0.9;
    options.train.seed = seed;
    client_ = std::make_unique<TorchClient>(*model_, train_, &eval_, options);
    thread_ = std::thread([this, address] {
      FleetOptions fleet;
      fleet.superlink = address;
      fleet.insecure = true;
      fleet.stop_requested = [this] { return stop_.stop_requested(); };
      auto connection = connect_fleet(fleet);
      if (!connection.ok()) {
        status_ = connection.status();
        return;
      }
      NodeOptions node;
      node.poll_interval = 0.05;
      node.linger = 0;
      status_ = run_node(**connection, *client_, node, stop_, &stats_);
    });
  }
  ~TorchNode() { join(); }
  void join() {
    stop_.request_stop();
    if (thread_.joinable()) thread_.join();
  }
  const Status& status() const { return status_; }
  const NodeStats& stats() const { return stats_; }

 private:
  std::unique_ptr<Model> model_;
  Quadrants train_, eval_;
  std::unique_ptr<TorchClient> client_;
  StopFlag stop_;
  Status status_;
  NodeStats stats_;
  std::thread thread_;
};

double metric(const MetricRecord& m, const char* key) {
  const MetricValue* v = m.find(key);
  return v != nullptr && std::holds_alternative<double>(*v) ? std::get<double>(*v) : -1;
}

TEST(TorchFederationTest, TwoNodesThreeRoundsLearn) {
  auto link = SuperLinkLite::start();
  ASSERT_TRUE(link.ok());
  TorchNode a((*link)->address(), 1, 0);
  TorchNode b((*link)->address(), 2, 2);
  auto online = (*link)->wait_for_nodes(2, seconds(30));
  ASSERT_TRUE(online.ok());

  std::unique_ptr<Model> server_model = load_cnn();  // the ServerApp starts from the same weights
  ASSERT_NE(server_model, nullptr);
  Result<ArrayRecord> initial = server_model->state_dict();
  ASSERT_TRUE(initial.ok());
  FedAvgConfig config;
  config.num_rounds = 3;
  config.poll_interval = std::chrono::milliseconds(20);
  config.round_timeout = seconds(120);
  config.train_config.set("local-epochs", int64_t{2});
  auto result = run_fedavg(**link, (*link)->create_run(), *online, *initial, config);
  ASSERT_TRUE(result.ok()) << result.status();
  a.join();
  b.join();

  ASSERT_EQ(result->rounds.size(), 3u);
  for (const FedAvgRound& round : result->rounds) {
    EXPECT_EQ(round.train.replies, 2u);
    EXPECT_EQ(round.evaluate.replies, 2u);
    std::cout << "round " << round.round << ": train_loss "
              << metric(round.train.metrics, "train_loss") << ", eval_loss "
              << metric(round.evaluate.metrics, "eval_loss") << ", eval_acc "
              << metric(round.evaluate.metrics, "eval_acc") << "\n";
  }
  const double first = metric(result->rounds.front().evaluate.metrics, "eval_acc");
  const double last = metric(result->rounds.back().evaluate.metrics, "eval_acc");
  EXPECT_GT(last, 0.8);
  EXPECT_GT(last, first);
  // The global model kept the state_dict's keys; BatchNorm's int64 counter
  // came back as float64, as stock FedAvg sends it.
  std::vector<std::string> keys, expected;
  for (const auto& [k, _] : result->arrays) keys.push_back(k);
  for (const auto& [k, _] : *initial) expected.push_back(k);
  EXPECT_EQ(keys, expected);
  for (const auto* node : {&a, &b}) {
    EXPECT_TRUE(node->status().ok()) << node->status();
    EXPECT_EQ(node->stats().error_replies, 0);
  }
}

TEST(TorchFederationTest, MismatchedArraysGetAnErrorReplyAndTheNodeStaysUp) {
  auto link = SuperLinkLite::start();
  ASSERT_TRUE(link.ok());
  TorchNode node((*link)->address(), 3, 0);
  auto online = (*link)->wait_for_nodes(1, seconds(30));
  ASSERT_TRUE(online.ok());
  const uint64_t run = (*link)->create_run();
  const float w[] = {1, 2, 3};
  ArrayRecord wrong;
  wrong.set("not.a.layer", *Array::from_elements(DType::kFloat32, {3}, w, sizeof(w)));
  RecordDict content;
  content.set("arrays", wrong);
  content.set("config", ConfigRecord{});
  auto id = (*link)->push_instruction(run, (*online)[0], "train", content);
  ASSERT_TRUE(id.ok());
  auto replies = (*link)->wait_for_replies({*id}, seconds(60), std::chrono::milliseconds(20));
  ASSERT_EQ(replies.size(), 1u);
  const Message& reply = replies.begin()->second;
  ASSERT_TRUE(reply.error.has_value());
  EXPECT_NE(reply.error->reason.find("not.a.layer"), std::string::npos) << reply.error->reason;

  // A named handler the node does not have: an error, not a plain round.
  std::unique_ptr<Model> server_model = load_cnn();
  RecordDict good;
  good.set("arrays", server_model->state_dict().value());
  good.set("config", ConfigRecord{});
  auto named = (*link)->push_instruction(run, (*online)[0], "train.finetune_head", good);
  ASSERT_TRUE(named.ok());
  replies = (*link)->wait_for_replies({*named}, seconds(60), std::chrono::milliseconds(20));
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_TRUE(replies.begin()->second.error.has_value());
  EXPECT_NE(replies.begin()->second.error->reason.find("no 'finetune_head' handler"),
            std::string::npos)
      << replies.begin()->second.error->reason;

  // Still serving: a good round works.
  FedAvgConfig config;
  config.poll_interval = std::chrono::milliseconds(20);
  auto result = run_fedavg(**link, run, *online, server_model->state_dict().value(), config);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->rounds[0].train.replies, 1u);
}

// A ServerApp on flwr.server's legacy strategies: get_parameters when it has
// no initial model, get_properties, and fit/evaluate in the "fitins" /
// "evaluateins" layout, answered as a NumPyClient would.
TEST(TorchFederationTest, LegacyServerAppLayoutIsAnsweredLikeANumPyClient) {
  auto link = SuperLinkLite::start();
  ASSERT_TRUE(link.ok());
  TorchNode node((*link)->address(), 4, 1);
  auto online = (*link)->wait_for_nodes(1, seconds(30));
  ASSERT_TRUE(online.ok());
  const uint64_t run = (*link)->create_run();
  auto ask = [&](const std::string& type, RecordDict content) -> Message {
    auto id = (*link)->push_instruction(run, (*online)[0], type, content);
    EXPECT_TRUE(id.ok()) << id.status();
    auto replies = (*link)->wait_for_replies({*id}, seconds(60), std::chrono::milliseconds(20));
    EXPECT_EQ(replies.size(), 1u);
    return replies.empty() ? Message{} : replies.begin()->second;
  };
  auto status_code = [](const RecordDict& reply, const std::string& name) {
    const ConfigRecord* status = find_config_record(reply, name);
    return status == nullptr ? int64_t{-1} : std::get<int64_t>(*status->find("code"));
  };

  RecordDict get_parameters;
  get_parameters.set("getparametersins.config", ConfigRecord{});
  Message got = ask("get_parameters", get_parameters);
  ASSERT_TRUE(got.content.has_value()) << (got.error ? got.error->reason : "");
  const ArrayRecord* params = find_array_record(*got.content, "getparametersres.parameters");
  ASSERT_NE(params, nullptr);
  std::unique_ptr<Model> reference = load_cnn();
  const ArrayRecord state = reference->state_dict().value();
  ASSERT_EQ(params->size(), state.size());
  EXPECT_EQ(params->items()[0].first, "0");
  EXPECT_EQ(status_code(*got.content, "getparametersres.status"), 0);

  // Flower's legacy Parameters: positional keys, dtype "" and shape [].
  ArrayRecord legacy;
  for (const auto& [key, array] : *params) {
    Array a = array;
    a.dtype.clear();
    a.shape.clear();
    legacy.set(key, a);
  }
  ConfigRecord config;
  config.set("lr", 0.05);
  config.set("local-epochs", int64_t{1});
  RecordDict fit;
  fit.set("fitins.parameters", legacy);
  fit.set("fitins.config", config);
  Message fitted = ask("train", fit);
  ASSERT_TRUE(fitted.content.has_value()) << (fitted.error ? fitted.error->reason : "");
  const ArrayRecord* trained = find_array_record(*fitted.content, "fitres.parameters");
  ASSERT_NE(trained, nullptr);
  ASSERT_EQ(trained->size(), legacy.size());
  EXPECT_EQ(trained->items()[0].second.dtype, "");  // answered in the form received
  EXPECT_NE(trained->items()[0].second.data, legacy.items()[0].second.data);  // it trained
  const MetricRecord* examples = find_metric_record(*fitted.content, "fitres.num_examples");
  ASSERT_NE(examples, nullptr);
  EXPECT_EQ(std::get<int64_t>(*examples->find("num_examples")), 240);
  const ConfigRecord* metrics = find_config_record(*fitted.content, "fitres.metrics");
  ASSERT_NE(metrics, nullptr);
  EXPECT_TRUE(metrics->contains("train_loss"));
  EXPECT_EQ(status_code(*fitted.content, "fitres.status"), 0);

  RecordDict evaluate;
  evaluate.set("evaluateins.parameters", *trained);
  evaluate.set("evaluateins.config", ConfigRecord{});
  Message evaluated = ask("evaluate", evaluate);
  ASSERT_TRUE(evaluated.content.has_value()) << (evaluated.error ? evaluated.error->reason : "");
  const MetricRecord* loss = find_metric_record(*evaluated.content, "evaluateres.loss");
  ASSERT_NE(loss, nullptr);
  EXPECT_TRUE(std::isfinite(std::get<double>(*loss->find("loss"))));
  const MetricRecord* eval_n = find_metric_record(*evaluated.content, "evaluateres.num_examples");
  ASSERT_NE(eval_n, nullptr);
  EXPECT_EQ(std::get<int64_t>(*eval_n->find("num_examples")), 80);
  EXPECT_EQ(status_code(*evaluated.content, "evaluateres.status"), 0);

  RecordDict get_properties;
  get_properties.set("getpropertiesins.config", ConfigRecord{});
  Message props = ask("get_properties", get_properties);
  ASSERT_TRUE(props.content.has_value());
  const ConfigRecord* properties =
      find_config_record(*props.content, "getpropertiesres.properties");
  ASSERT_NE(properties, nullptr);
  EXPECT_TRUE(properties->contains("pollen-version"));

  // Parameters that do not fit the model: an error reply, and the node stays up.
  RecordDict bad;
  ArrayRecord one;
  one.set("0", legacy.items()[0].second);
  bad.set("fitins.parameters", one);
  Message refused = ask("train", bad);
  ASSERT_TRUE(refused.error.has_value());
  Message again = ask("get_parameters", get_parameters);
  EXPECT_TRUE(again.content.has_value());
}

}  // namespace
}  // namespace pollen
