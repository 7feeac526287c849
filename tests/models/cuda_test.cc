// The CUDA path on a GPU: loading onto the device, state_dict <-> arrays
// through one device-to-host copy, training with and without autocast. Each
// test reports "skipped" with the reason where LibTorch sees no GPU.
#include <gtest/gtest.h>

#include <random>

#include "pollen/core/npz.h"
#include "pollen/models/model.h"
#include "pollen/models/trainer.h"
#include "support/test_data.h"

namespace pollen {
namespace {

using pollen::testing::data_path;

#define SKIP_WITHOUT_CUDA()                                                         \
  if (!cuda_available()) {                                                          \
    GTEST_SKIP() << "no CUDA device: LibTorch sees no GPU here (CPU-only LibTorch " \
                    "or no GPU visible); the CPU path is tested elsewhere";         \
  }

// Digit-like rows: class k lights pixels k*6 .. k*6+5.
class Stripes final : public Dataset {
 public:
  explicit Stripes(size_t n) {
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> noise(0.0f, 4.0f);
    for (size_t i = 0; i < n; ++i) {
      const int label = static_cast<int>(i % 10);
      Sample s{std::vector<float>(64), {64}, {static_cast<float>(label)}, {}};
      for (int p = 0; p < 64; ++p) s.x[p] = noise(rng) + (p / 6 == label ? 12.0f : 0.0f);
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

std::unique_ptr<Model> load(const std::string& device) {
  ModelOptions options;
  options.device = device;
  auto model = Model::load(std::string(POLLEN_ZOO_DIR) + "/cnn8.pt", options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? std::move(model).value() : nullptr;
}

TEST(Cuda, StateDictOnTheGpuEqualsTheCpuOneByteForByte) {
  SKIP_WITHOUT_CUDA();
  std::unique_ptr<Model> gpu = load("cuda");
  std::unique_ptr<Model> cpu = load("cpu");
  ASSERT_TRUE(gpu && cpu);
  EXPECT_EQ(gpu->device_name(), "cuda:0");
  Result<ArrayRecord> a = gpu->state_dict();
  Result<ArrayRecord> b = cpu->state_dict();
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), b->size());
  auto ib = b->begin();
  for (auto ia = a->begin(); ia != a->end(); ++ia, ++ib) {
    EXPECT_EQ(ia->first, ib->first);
    EXPECT_TRUE(ia->second == ib->second) << ia->first;
  }
  // Arrays sent to the GPU model come back unchanged.
  ASSERT_TRUE(gpu->load_arrays(*b).ok());
  Result<ArrayRecord> reply = gpu->reply_arrays(*b);
  ASSERT_TRUE(reply.ok());
  EXPECT_TRUE(reply->begin()->second == b->begin()->second);
}

TEST(Cuda, TrainsWithAndWithoutAutocast) {
  SKIP_WITHOUT_CUDA();
  Stripes data(320);
  for (bool mixed : {false, true}) {
    std::unique_ptr<Model> model = load("cuda");
    ASSERT_TRUE(model);
    TrainConfig config;
    config.lr = 0.05;
    config.momentum = 0.9;
    config.local_epochs = 3;
    config.mixed_precision = mixed;
    Result<EvalResult> before = evaluate(*model, data);
    Result<TrainResult> trained = train(*model, data, config);
    ASSERT_TRUE(trained.ok()) << trained.status();
    Result<EvalResult> after = evaluate(*model, data);
    ASSERT_TRUE(before.ok() && after.ok());
    EXPECT_LT(after->loss, before->loss * 0.5) << "mixed precision " << mixed;
    // The reply is float32 as received, whatever autocast computed in.
    Result<ArrayRecord> initial = read_npz(std::string(POLLEN_ZOO_DIR) + "/cnn8.npz");
    ASSERT_TRUE(initial.ok());
    Result<ArrayRecord> reply = model->reply_arrays(*initial);
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(reply->begin()->second.dtype, initial->begin()->second.dtype);
  }
}

}  // namespace
}  // namespace pollen
