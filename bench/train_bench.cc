// Measures local training speed of the zoo models (models/zoo/) on random
// data: samples/s, seconds per optimizer step and the process's peak RSS,
// which on a device is what decides the batch size that fits.
//   train_bench [zoo_dir] [steps=10] [batch=32] [device=cpu] [models=cnn8,resnet18s]
// Each model first takes two untimed steps, so that LibTorch's one-time
// allocations and kernel choices stay out of the figures. Peak RSS is the
// process's so far: list the smaller models first to see each one's.
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "pollen/models/dataset.h"
#include "pollen/models/model.h"
#include "pollen/models/trainer.h"

namespace {

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

// `n` samples of uniform noise in [0, 16) with labels 0..9: speed does not
// depend on the values, and every model of the zoo scales or takes them.
class RandomImages : public pollen::Dataset {
 public:
  RandomImages(size_t n, std::vector<int64_t> shape) {
    int64_t elements = 1;
    for (int64_t d : shape) elements *= d;
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<float> pixel(0.0f, 16.0f);
    for (size_t i = 0; i < n; ++i) {
      pollen::Sample s{std::vector<float>(elements), shape, {static_cast<float>(i % 10)}, {}};
      for (float& v : s.x) v = pixel(rng);
      samples_.push_back(std::move(s));
    }
  }
  size_t size() const override { return samples_.size(); }
  pollen::Result<pollen::Sample> get(size_t index) const override {
    if (index >= samples_.size()) return pollen::out_of_range("no such sample");
    return samples_[index];
  }
  bool labels_are_classes() const override { return true; }

 private:
  std::vector<pollen::Sample> samples_;
};

std::vector<int64_t> input_shape(const std::string& name) {
  if (name == "resnet18s") return {3, 32, 32};
  return {64};  // mlp and cnn8 read 8x8 digits as CSV rows
}

// Returns false (after printing why) when the model cannot be benchmarked.
bool bench(const std::string& zoo_dir, const std::string& name, int64_t steps, int64_t batch,
           const std::string& device) {
  pollen::ModelOptions options;
  options.device = device;
  auto model = pollen::Model::load(zoo_dir + "/" + name + ".pt", options);
  if (!model.ok()) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), model.status().to_string().c_str());
    return false;
  }
  // Two batches of data, passed over as often as the step budget needs.
  const RandomImages data(2 * batch, input_shape(name));
  pollen::TrainConfig config;
  config.batch_size = batch;
  config.lr = 0.01;
  config.momentum = 0.9;
  config.local_steps = 2;
  auto warmup = pollen::train(**model, data, config);
  if (!warmup.ok()) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), warmup.status().to_string().c_str());
    return false;
  }
  config.local_steps = steps;
  auto timed = pollen::train(**model, data, config);
  if (!timed.ok()) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), timed.status().to_string().c_str());
    return false;
  }
  std::printf(
      "%-10s %9zu params  %s  batch %3lld  %3lld steps  %8.1f samples/s  %7.3f s/step  "
      "(warm-up %.3f s/step)  peak RSS %.0f MiB\n",
      name.c_str(), (*model)->num_trainable_parameters(), (*model)->device_name().c_str(),
      static_cast<long long>(batch), static_cast<long long>(timed->steps),
      timed->samples_per_second, timed->seconds / static_cast<double>(timed->steps),
      warmup->seconds / static_cast<double>(warmup->steps), peak_rss_mib());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string zoo_dir = argc > 1 ? argv[1] : POLLEN_ZOO_DIR;
  const int64_t steps = argc > 2 ? std::strtoll(argv[2], nullptr, 10) : 10;
  const int64_t batch = argc > 3 ? std::strtoll(argv[3], nullptr, 10) : 32;
  const std::string device = argc > 4 ? argv[4] : "cpu";
  const std::string models = argc > 5 ? argv[5] : "cnn8,resnet18s";
  if (steps < 1 || batch < 1) {
    std::fprintf(stderr, "steps and batch must be at least 1\n");
    return 2;
  }
  std::printf("zoo %s, SGD (momentum 0.9), random data\n", zoo_dir.c_str());
  std::stringstream names(models);
  std::string name;
  bool ok = true;
  while (std::getline(names, name, ',')) ok = bench(zoo_dir, name, steps, batch, device) && ok;
  return ok ? 0 : 1;
}
