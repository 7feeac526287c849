// sensor-node: a Flower client that fine-tunes a TorchScript MLP on this
// machine's own sensor windows with Pollen's built-in trainer.
//
//   sensor-node --superlink HOST:PORT --insecure --model sensor_mlp.pt --device-seed 1
//
// The data comes from a pollen::Dataset subclass: Pollen's trainer asks it
// for samples by index, so any source (a ring buffer filled by a driver, a
// file, a database) fits behind those three methods.
#include <array>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "node_main.h"
#include "pollen/models/dataset.h"
#include "pollen/models/model.h"
#include "pollen/models/torch_client.h"
#include "sensor.h"

namespace {

// Windows [first, first + count) of one sensor's stream, reduced to
// features and held in memory (a few KiB per thousand windows).
class SensorDataset final : public pollen::Dataset {
 public:
  SensorDataset(const sensor::Sensor& sensor, uint64_t first, size_t count) {
    windows_.reserve(count);
    for (size_t i = 0; i < count; ++i) windows_.push_back(sensor.window(first + i));
  }

  size_t size() const override { return windows_.size(); }

  // One sample: x is the feature vector, y the class index with shape {}
  // (so that a batch is the [B] int64 target cross-entropy wants).
  pollen::Result<pollen::Sample> get(size_t index) const override {
    if (index >= windows_.size()) return pollen::out_of_range("sensor window out of range");
    const sensor::Window& w = windows_[index];
    pollen::Sample sample;
    sample.x.assign(w.features.begin(), w.features.end());
    sample.x_shape = {sensor::kNumFeatures};
    sample.y = {static_cast<float>(w.label)};
    sample.y_shape = {};
    return sample;
  }

  bool labels_are_classes() const override { return true; }

  std::array<size_t, sensor::kNumClasses> class_counts() const {
    std::array<size_t, sensor::kNumClasses> counts{};
    for (const sensor::Window& w : windows_) ++counts[w.label];
    return counts;
  }

 private:
  std::vector<sensor::Window> windows_;
};

constexpr char kUsage[] =
    "usage: sensor-node [flags]\n"
    "  --model FILE              TorchScript model (default sensor_mlp.pt)\n"
    "  --device cpu|cuda|auto    where to train (default auto)\n";

}  // namespace

int main(int argc, char** argv) {
  // First, before any thread exists: SIGINT/SIGTERM then stop the node cleanly.
  pollen::StopFlag stop;
  pollen::SignalStop signals(&stop);

  example::NodeFlags flags;
  std::string model_path = "sensor_mlp.pt";
  pollen::ModelOptions model_options;
  // The flags only this program has.
  auto model_flags = [&](const std::string& flag, const std::string& value) {
    if (flag == "--model") {
      model_path = value;
    } else if (flag == "--device") {
      model_options.device = value;
    } else {
      return false;
    }
    return true;
  };
  if (!example::parse_flags(argc, argv, &flags, model_flags)) {
    std::cerr << kUsage << example::kCommonUsage;
    return 2;
  }

  pollen::Result<std::unique_ptr<pollen::Model>> model =
      pollen::Model::load(model_path, model_options);
  if (!model.ok()) {
    POLLEN_LOG(Error) << model.status();
    return 1;
  }
  // Training windows first, then a quarter as many later ones to evaluate on.
  const sensor::Sensor machine(flags.device_seed);
  const auto n = static_cast<size_t>(flags.windows);
  const SensorDataset train_data(machine, 0, n);
  const SensorDataset eval_data(machine, n, n / 4);

  const auto counts = train_data.class_counts();
  POLLEN_LOG(Info) << "Model " << model_path << " on " << (*model)->device_name() << ": "
                   << (*model)->num_trainable_parameters() << " trainable parameters";
  POLLEN_LOG(Info) << "Sensor " << flags.device_seed << ": " << n << " training windows of "
                   << sensor::kNumFeatures << " features (" << counts[0] << " "
                   << sensor::kClassNames[0] << ", " << counts[1] << " " << sensor::kClassNames[1]
                   << ", " << counts[2] << " " << sensor::kClassNames[2] << "), "
                   << eval_data.size() << " to evaluate";

  // Defaults for what the server's "config" record does not say.
  pollen::TorchClientOptions options;
  options.train.batch_size = 32;
  options.train.seed = flags.device_seed;
  options.progress = [](const std::string& line) { POLLEN_LOG(Info) << line; };
  pollen::TorchClient client(**model, train_data, &eval_data, options);
  return example::serve(flags, client, stop);
}
