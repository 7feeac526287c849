#include "pollen/models/trainer.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "model_helpers.h"
#include "support/test_data.h"

namespace pollen {
namespace {

// Models from export_models.py: mlp (fc1: 4 -> 16, fc2: 16 -> 3), mlp_loss
// (the same with an exported loss() of 3 x cross-entropy), frozen (body: 4 ->
// 8 with requires_grad False, head: 8 -> 3) and cnn (1x8x8 images, 10 classes).

// Three Gaussian blobs in four features: class k is centred at 3 on feature
// k, so a linear layer separates them almost perfectly. As regression the
// target is the first three features doubled.
class Blobs : public Dataset {
 public:
  explicit Blobs(size_t n, int64_t features = 4, bool regression = false, uint64_t seed = 1)
      : regression_(regression) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    for (size_t i = 0; i < n; ++i) {
      const int label = static_cast<int>(i % 3);
      Sample s{{}, {features}, {}, {}};
      for (int64_t f = 0; f < features; ++f) s.x.push_back(noise(rng) + (f == label ? 3.0f : 0.0f));
      if (regression) {
        s.y = {2 * s.x[0], 2 * s.x[1], 2 * s.x[2]};
        s.y_shape = {3};
      } else {
        s.y = {static_cast<float>(label)};
      }
      samples_.push_back(std::move(s));
    }
  }
  size_t size() const override { return samples_.size(); }
  Result<Sample> get(size_t index) const override {
    if (index >= samples_.size()) return out_of_range("no sample " + std::to_string(index));
    return samples_[index];
  }
  bool labels_are_classes() const override { return !regression_; }
  void poison(size_t index) { samples_[index].x[0] = std::numeric_limits<float>::quiet_NaN(); }

 private:
  bool regression_;
  std::vector<Sample> samples_;
};

// 1x8x8 images whose class (0..3) is the quadrant lit brighter than the rest.
class Quadrants : public Dataset {
 public:
  explicit Quadrants(size_t n) {
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<float> dim(0.0f, 0.5f);
    for (size_t i = 0; i < n; ++i) {
      const int label = static_cast<int>(i % 4);
      Sample s{std::vector<float>(64), {1, 8, 8}, {static_cast<float>(label)}, {}};
      for (int r = 0; r < 8; ++r) {
        for (int c = 0; c < 8; ++c) {
          const bool lit = (r / 4) * 2 + c / 4 == label;
          s.x[r * 8 + c] = dim(rng) + (lit ? 1.0f : 0.0f);
        }
      }
      samples_.push_back(std::move(s));
    }
  }
  size_t size() const override { return samples_.size(); }
  Result<Sample> get(size_t index) const override {
    if (index >= samples_.size()) return out_of_range("no sample");
    return samples_[index];
  }
  bool labels_are_classes() const override { return true; }

 private:
  std::vector<Sample> samples_;
};

using testing::contains;

using testing::load;
using testing::state_of;

std::vector<float> floats(const Array& array) {
  Result<NpyArray> npy = array.to_npy();
  EXPECT_TRUE(npy.ok()) << npy.status();
  if (!npy.ok()) return {};
  std::vector<float> values(npy->data.size() / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), npy->data.data(), npy->data.size());
  return values;
}

// L2 distance between the arrays of two states whose names start with `prefix`.
double distance(const ArrayRecord& a, const ArrayRecord& b, const std::string& prefix = "") {
  double sum = 0;
  for (const auto& item : a) {
    if (item.first.rfind(prefix, 0) != 0) continue;
    const std::vector<float> x = floats(item.second);
    const std::vector<float> y = floats(*b.find(item.first));
    for (size_t i = 0; i < x.size(); ++i) sum += (x[i] - y[i]) * (x[i] - y[i]);
  }
  return std::sqrt(sum);
}

TrainConfig config(double lr = 0.1, int64_t epochs = 1) {
  TrainConfig c;
  c.lr = lr;
  c.local_epochs = epochs;
  c.seed = 42;
  return c;
}

TrainResult train_ok(Model& model, const Dataset& data, const TrainConfig& c) {
  Result<TrainResult> result = train(model, data, c);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : TrainResult();
}

TEST(Trainer, LossFallsAndAccuracyRisesOverEpochs) {
  auto model = load("mlp");
  ASSERT_TRUE(model);
  Blobs data(300);
  std::vector<TrainResult> epochs;
  for (int i = 0; i < 4; ++i) epochs.push_back(train_ok(*model, data, config()));
  EXPECT_EQ(epochs[0].num_examples, 300);
  EXPECT_EQ(epochs[0].steps, 10);  // ceil(300 / 32)
  ASSERT_TRUE(epochs[0].accuracy && epochs[3].accuracy);
  EXPECT_LT(epochs[3].loss, epochs[0].loss * 0.5);
  EXPECT_GT(*epochs[3].accuracy, *epochs[0].accuracy);
  EXPECT_GT(epochs[3].samples_per_second, 0);
}

TEST(Trainer, EvaluateAfterTrainingOnSeparableData) {
  auto model = load("mlp");
  ASSERT_TRUE(model);
  Blobs train_data(300);
  Blobs test_data(150, 4, false, /*seed=*/2);
  Result<EvalResult> before = evaluate(*model, test_data);
  ASSERT_TRUE(before.ok()) << before.status();
  train_ok(*model, train_data, config(0.1, 5));
  Result<EvalResult> after = evaluate(*model, test_data, 64);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->num_examples, 150);
  ASSERT_TRUE(after->accuracy);
  EXPECT_GT(*after->accuracy, 0.9);
  EXPECT_LT(after->loss, before->loss);
}

TEST(Trainer, ReportsOneProgressLinePerEpoch) {
  auto model = load("mlp");
  ASSERT_TRUE(model);
  std::vector<std::string> lines;
  Result<TrainResult> result = train(*model, Blobs(64), config(0.1, 3),
                                     [&](const std::string& line) { lines.push_back(line); });
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(contains(lines[0], "epoch 1/3: loss "));
  EXPECT_TRUE(contains(lines[2], "epoch 3/3: loss "));
  EXPECT_TRUE(contains(lines[2], " samples/s, "));
}

TEST(Trainer, HonoursTheStepBudget) {
  auto model = load("mlp");
  ASSERT_TRUE(model);
  Blobs data(100);  // 4 batches of at most 32
  TrainConfig c = config();
  c.local_steps = 10;
  c.local_epochs = 7;  // ignored when local_steps is set
  std::vector<std::string> lines;
  Result<TrainResult> result =
      train(*model, data, c, [&](const std::string& line) { lines.push_back(line); });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->steps, 10);
  EXPECT_EQ(lines.size(), 3u);
  c.local_steps = 0;
  c.local_epochs = 2;
  EXPECT_EQ(train_ok(*model, data, c).steps, 8);
}

// A stop request ends training before the next step and evaluation before
// the next batch, with CANCELLED saying where.
TEST(Trainer, StopsWithinAStepWhenAsked) {
  auto model = load("mlp");
  ASSERT_TRUE(model);
  Blobs data(100);  // 4 batches of at most 32
  TrainConfig c = config();
  c.local_epochs = 1000000;
  c.max_steps = 0;
  int polls = 0;
  c.stop_requested = [&polls] { return ++polls > 6; };
  Result<TrainResult> result = train(*model, data, c);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kCancelled);
  EXPECT_EQ(result.status().message(),
            "training stopped at step 7 (epoch 2 of 1000000): the node was asked to stop");
  Result<EvalResult> eval = evaluate(*model, data, 32, "auto", [] { return true; });
  ASSERT_FALSE(eval.ok());
  EXPECT_EQ(eval.status().code(), StatusCode::kCancelled);
  EXPECT_TRUE(evaluate(*model, data, 32, "auto", [] { return false; }).ok());
}

// What one instruction may cost is capped whatever the server asks:
// too many steps is refused before the first one, too long stops there.
TEST(Trainer, RefusesMoreStepsOrTimeThanTheNodeAllows) {
  auto model = load("mlp");
  ASSERT_TRUE(model);
  Blobs data(100);  // 4 batches of at most 32
  TrainConfig c = config();
  c.local_epochs = 1000000;
  Result<TrainResult> result = train(*model, data, c);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(result.status().message(),
            "the round asks for 4000000 optimizer steps (local-epochs 1000000 x 4 batches); "
            "this node takes at most 1000000 per instruction (--max-steps)");
  c.local_epochs = 1;
  c.local_steps = 11;
  c.max_steps = 10;
  EXPECT_TRUE(contains(train(*model, data, c).status().message(),
                       "asks for 11 optimizer steps "
                       "(local-steps)"));
  c.max_steps = 0;
  c.local_steps = 0;
  c.local_epochs = 1000000;
  c.max_seconds = 1e-9;  // already past at the second step
  result = train(*model, data, c);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(contains(result.status().message(), "(--max-train-seconds); stopped at step"))
      << result.status();
}

TEST(Trainer, SameSeedSameWeightsOtherSeedOtherWeights) {
  Blobs data(100);
  std::vector<ArrayRecord> states;
  for (uint64_t seed : {7, 7, 8}) {
    auto model = load("mlp");
    ASSERT_TRUE(model);
    TrainConfig c = config(0.1, 2);
    c.seed = seed;
    train_ok(*model, data, c);
    states.push_back(state_of(*model));
  }
  EXPECT_EQ(states[0].items(), states[1].items());
  EXPECT_NE(states[0].items(), states[2].items());
}

TEST(Trainer, LeavesFrozenParametersUntouched) {
  auto model = load("frozen");
  ASSERT_TRUE(model);
  const ArrayRecord before = state_of(*model);
  train_ok(*model, Blobs(100), config(0.5, 2));
  const ArrayRecord after = state_of(*model);
  EXPECT_EQ(*before.find("body.weight"), *after.find("body.weight"));
  EXPECT_EQ(*before.find("body.bias"), *after.find("body.bias"));
  EXPECT_GT(distance(before, after, "head."), 0);
}

TEST(Trainer, TrainsOnlyTheParametersMatchingThePrefixes) {
  auto model = load("mlp");
  ASSERT_TRUE(model);
  const ArrayRecord before = state_of(*model);
  TrainConfig c = config(0.5, 2);
  c.trainable_prefixes = {"fc2."};
  train_ok(*model, Blobs(100), c);
  const ArrayRecord after = state_of(*model);
  EXPECT_EQ(*before.find("fc1.weight"), *after.find("fc1.weight"));
  EXPECT_EQ(*before.find("fc1.bias"), *after.find("fc1.bias"));
  EXPECT_GT(distance(before, after, "fc2."), 0);
  // The parameters left out are trainable again afterwards.
  EXPECT_EQ(model->trainable_names().size(), 4u);

  c.trainable_prefixes = {"nothing."};
  Result<TrainResult> none = train(*model, Blobs(10), c);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(none.status().message(), "trainable_prefixes"));
}

TEST(Trainer, ProximalTermKeepsTheUpdateSmaller) {
  Blobs data(200);
  double moved[2];
  for (int i = 0; i < 2; ++i) {
    auto model = load("mlp");
    ASSERT_TRUE(model);
    const ArrayRecord start = state_of(*model);
    TrainConfig c = config(0.1, 3);
    c.proximal_mu = i == 0 ? 0.0 : 5.0;
    train_ok(*model, data, c);
    moved[i] = distance(start, state_of(*model));
  }
  EXPECT_GT(moved[0], 0);
  EXPECT_LT(moved[1], moved[0] * 0.8);
}

TEST(Trainer, RunsEveryOptimizer) {
  for (const char* name : {"sgd", "adam", "adamw"}) {
    auto model = load("mlp");
    ASSERT_TRUE(model);
    const ArrayRecord start = state_of(*model);
    TrainConfig c = config(0.01, 3);
    c.optimizer = name;
    c.weight_decay = 1e-4;
    if (c.optimizer == "sgd") {
      c.momentum = 0.9;
      c.nesterov = true;
    }
    const TrainResult first = train_ok(*model, Blobs(150), c);
    const TrainResult second = train_ok(*model, Blobs(150), c);
    EXPECT_LT(second.loss, first.loss) << name;
    EXPECT_GT(distance(start, state_of(*model)), 0) << name;
  }
}

TEST(Trainer, ClipNormBoundsTheUpdate) {
  double moved[2];
  for (int i = 0; i < 2; ++i) {
    auto model = load("mlp");
    ASSERT_TRUE(model);
    const ArrayRecord start = state_of(*model);
    TrainConfig c = config(1.0);
    c.local_steps = 1;
    c.clip_norm = i == 0 ? 0.0 : 0.01;
    train_ok(*model, Blobs(64), c);
    moved[i] = distance(start, state_of(*model));
  }
  // One plain SGD step moves the weights by lr * |gradient|.
  EXPECT_GT(moved[0], 0.05);
  EXPECT_NEAR(moved[1], 0.01, 1e-4);
}

TEST(Trainer, UsesTheModelsOwnLoss) {
  auto model = load("mlp_loss");
  ASSERT_TRUE(model);
  Blobs data(90);
  TrainConfig frozen_lr = config(0.0);  // measures the loss without changing the weights
  Result<EvalResult> cross_entropy = evaluate(*model, data, 32, "cross_entropy");
  ASSERT_TRUE(cross_entropy.ok()) << cross_entropy.status();
  const TrainResult own = train_ok(*model, data, frozen_lr);
  EXPECT_NEAR(own.loss, 3 * cross_entropy->loss, 1e-4);
  Result<EvalResult> own_eval = evaluate(*model, data);
  ASSERT_TRUE(own_eval.ok()) << own_eval.status();
  EXPECT_NEAR(own_eval->loss, 3 * cross_entropy->loss, 1e-4);
  frozen_lr.loss = "cross_entropy";  // an explicit choice overrides the model's
  EXPECT_NEAR(train_ok(*model, data, frozen_lr).loss, cross_entropy->loss, 1e-4);
}

TEST(Trainer, FitsRegressionTargetsWithMse) {
  auto model = load("mlp");
  ASSERT_TRUE(model);
  Blobs data(200, 4, /*regression=*/true);
  const TrainResult first = train_ok(*model, data, config(0.01));
  TrainResult last;
  for (int i = 0; i < 4; ++i) last = train_ok(*model, data, config(0.01));
  EXPECT_FALSE(first.accuracy);
  EXPECT_LT(last.loss, first.loss * 0.5);
  Result<EvalResult> eval = evaluate(*model, data);
  ASSERT_TRUE(eval.ok()) << eval.status();
  EXPECT_FALSE(eval->accuracy);
}

TEST(Trainer, CnnLearnsAndReportsTimePerStep) {
  auto model = load("cnn");
  ASSERT_TRUE(model);
  Quadrants data(256);
  TrainConfig c = config(0.01);
  c.optimizer = "adam";
  const TrainResult first = train_ok(*model, data, c);
  TrainResult last;
  for (int i = 0; i < 4; ++i) last = train_ok(*model, data, c);
  EXPECT_LT(last.loss, first.loss);
  std::printf("cnn: %.2f ms per step of 32 1x8x8 images (%.0f samples/s)\n",
              1e3 * last.seconds / static_cast<double>(last.steps), last.samples_per_second);
  auto mlp = load("mlp");
  ASSERT_TRUE(mlp);
  const TrainResult small = train_ok(*mlp, Blobs(3200), config());
  std::printf("mlp: %.3f ms per step of 32 samples (%.0f samples/s)\n",
              1e3 * small.seconds / static_cast<double>(small.steps), small.samples_per_second);
}

TEST(TrainerErrors, MixedPrecisionOnCpu) {
  auto model = load("mlp");
  ASSERT_TRUE(model);
  TrainConfig c = config();
  c.mixed_precision = true;
  Result<TrainResult> result = train(*model, Blobs(10), c);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(contains(result.status().message(), "CUDA"));
}

TEST(TrainerErrors, EmptyDataAndBadConfig) {
  auto model = load("mlp");
  ASSERT_TRUE(model);
  Result<TrainResult> empty = train(*model, Blobs(0), config());
  ASSERT_FALSE(empty.ok());
  EXPECT_TRUE(contains(empty.status().message(), "empty"));
  ASSERT_FALSE(evaluate(*model, Blobs(0)).ok());
  ASSERT_FALSE(evaluate(*model, Blobs(10), 0).ok());

  TrainConfig c = config();
  c.batch_size = 0;
  EXPECT_TRUE(contains(train(*model, Blobs(10), c).status().message(), "batch_size"));
  c = config();
  c.optimizer = "rmsprop";
  EXPECT_TRUE(contains(train(*model, Blobs(10), c).status().message(), "rmsprop"));
  c = config();
  c.loss = "hinge";
  EXPECT_TRUE(contains(train(*model, Blobs(10), c).status().message(), "hinge"));
  c = config();
  c.nesterov = true;
  EXPECT_TRUE(contains(train(*model, Blobs(10), c).status().message(), "nesterov"));
}

TEST(TrainerErrors, WrongInputShapeNamesTheShape) {
  auto model = load("mlp");
  ASSERT_TRUE(model);
  const ArrayRecord before = state_of(*model);
  Result<TrainResult> result = train(*model, Blobs(40, /*features=*/5), config());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(result.status().message(), "[32, 5]"));
  EXPECT_TRUE(contains(result.status().message(), "shape"));
  EXPECT_EQ(before.items(), state_of(*model).items());
  Result<EvalResult> eval = evaluate(*model, Blobs(40, 5), 8);
  ASSERT_FALSE(eval.ok());
  EXPECT_TRUE(contains(eval.status().message(), "[8, 5]"));
}

TEST(TrainerErrors, NanLossStopsTraining) {
  auto model = load("mlp");
  ASSERT_TRUE(model);
  Blobs data(64);
  data.poison(0);
  TrainConfig c = config();
  c.shuffle = false;
  Result<TrainResult> result = train(*model, data, c);
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(contains(result.status().message(), "the loss is NaN at step 1"));
}

TEST(ApplyServerConfig, OverridesTheFlowerKeys) {
  ConfigRecord server;
  server.set("server-round", int64_t{3});
  server.set("lr", 0.05);
  server.set("local-epochs", 2.0);  // whole floats count as integers
  server.set("local-steps", int64_t{7});
  server.set("batch-size", int64_t{16});
  server.set("proximal-mu", int64_t{1});
  server.set("momentum", 0.9);
  server.set("weight-decay", 1e-4);
  server.set("optimizer", std::string("AdamW"));
  server.set("clipping_norm", 2.5);
  server.set("seed", uint64_t{1} << 63);
  Result<TrainConfig> c = apply_server_config(server, TrainConfig{});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->lr, 0.05);
  EXPECT_EQ(c->local_epochs, 2);
  EXPECT_EQ(c->local_steps, 7);
  EXPECT_EQ(c->batch_size, 16);
  EXPECT_EQ(c->proximal_mu, 1.0);
  EXPECT_EQ(c->momentum, 0.9);
  EXPECT_EQ(c->weight_decay, 1e-4);
  EXPECT_EQ(c->optimizer, "adamw");
  EXPECT_EQ(c->clip_norm, 2.5);
  EXPECT_EQ(c->seed, uint64_t{1} << 63);

  ConfigRecord clip;
  clip.set("clip-norm", 1.0);
  TrainConfig defaults;
  defaults.batch_size = 8;
  Result<TrainConfig> kept = apply_server_config(clip, defaults);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->clip_norm, 1.0);
  EXPECT_EQ(kept->batch_size, 8);
}

TEST(ApplyServerConfig, NamesTheKeyOfABadValue) {
  struct Case {
    const char* key;
    ConfigValue value;
  };
  const Case cases[] = {
      {"lr", std::string("fast")},
      {"lr", 0.0},
      {"lr", std::nan("")},
      {"local-epochs", 1.5},
      {"local-epochs", int64_t{0}},
      {"local-steps", int64_t{-1}},
      {"batch-size", int64_t{0}},
      {"batch-size", true},
      {"proximal-mu", -0.1},
      {"momentum", std::string("0.9")},
      {"weight-decay", -1.0},
      {"optimizer", std::string("rmsprop")},
      {"optimizer", int64_t{1}},
      {"clip-norm", -1.0},
      {"clipping_norm", std::string()},
      {"seed", int64_t{-1}},
  };
  for (const Case& test : cases) {
    ConfigRecord server;
    server.set(test.key, test.value);
    Result<TrainConfig> c = apply_server_config(server, TrainConfig{});
    ASSERT_FALSE(c.ok()) << test.key;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << test.key;
    EXPECT_TRUE(contains(c.status().message(), std::string("'") + test.key + "'"));
  }
}

}  // namespace
}  // namespace pollen
