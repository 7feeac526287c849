// stats-node: a Flower client written from scratch on pollen::DispatchingClient,
// with no LibTorch anywhere (it links pollen::core, pollen::transport and
// pollen::runtime only).
//
// The fleet learns the mean and spread of every sensor feature over all of
// its machines, without any machine sending its readings: each node replies
// with the running mean of its features and of their squares, and FedAvg's
// average weighted by num-examples is exactly the fleet-wide mean of both.
// Evaluation scores fresh windows against the fleet's statistics (a z-score
// above 3 on any feature flags the window) and reports how often that
// happens, and how often for windows of each condition.
//
//   stats-node --write-initial stats.npz      # the zeros a server starts from
//   stats-node --superlink HOST:PORT --insecure --device-seed 3
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "node_main.h"
#include "pollen/core/client.h"
#include "pollen/core/npz.h"
#include "sensor.h"

namespace {

constexpr int kF = sensor::kNumFeatures;
using Vector = std::array<double, kF>;

// The model the server holds: these two arrays, float32, shape [kF].
constexpr const char* kMeanKey = "feature_mean";
constexpr const char* kSquareKey = "feature_sq_mean";

pollen::Result<pollen::Array> to_array(const Vector& v) {
  std::array<float, kF> values{};
  std::copy(v.begin(), v.end(), values.begin());
  return pollen::Array::from_elements(pollen::DType::kFloat32, {kF}, values.data(), sizeof(values));
}

pollen::Result<Vector> from_array(const pollen::ArrayRecord& arrays, const char* key) {
  const pollen::Array* array = arrays.find(key);
  if (array == nullptr) return pollen::invalid_argument(std::string("no array '") + key + "'");
  POLLEN_ASSIGN_OR_RETURN(pollen::NpyArray npy, array->to_npy());
  if (npy.dtype != pollen::DType::kFloat32 || npy.shape != std::vector<int64_t>{kF}) {
    return pollen::invalid_argument(std::string("array '") + key + "' must be float32 of shape [" +
                                    std::to_string(kF) + "]");
  }
  std::array<float, kF> values{};
  std::memcpy(values.data(), npy.data.data(), sizeof(values));  // little-endian, as .npy is
  Vector v{};
  std::copy(values.begin(), values.end(), v.begin());
  return v;
}

pollen::Result<const pollen::ArrayRecord*> instruction_arrays(const pollen::Message& m) {
  const pollen::ArrayRecord* arrays =
      m.content ? pollen::find_array_record(*m.content, "arrays") : nullptr;
  if (arrays == nullptr) return pollen::invalid_argument("the instruction has no \"arrays\"");
  return arrays;
}

class FleetStatsClient final : public pollen::DispatchingClient {
 public:
  FleetStatsClient(const sensor::Sensor& sensor, int64_t windows)
      : sensor_(sensor), windows_(windows) {}

 protected:
  // Reads this round's windows into the running sums and replies with the
  // node's means so far, weighted by every window it has seen.
  pollen::Result<pollen::RecordDict> train(const pollen::Message& m) override {
    POLLEN_ASSIGN_OR_RETURN(const pollen::ArrayRecord* global, instruction_arrays(m));
    POLLEN_RETURN_IF_ERROR(from_array(*global, kMeanKey).status());  // what we were sent fits
    POLLEN_RETURN_IF_ERROR(from_array(*global, kSquareKey).status());
    for (int64_t i = 0; i < windows_; ++i) {
      const sensor::Window w = sensor_.window(next_window_++);
      for (int f = 0; f < kF; ++f) {
        sum_[f] += w.features[f];
        square_sum_[f] += static_cast<double>(w.features[f]) * w.features[f];
      }
    }
    count_ += windows_;
    Vector mean{}, square{};
    for (int f = 0; f < kF; ++f) {
      mean[f] = sum_[f] / count_;
      square[f] = square_sum_[f] / count_;
    }
    POLLEN_LOG(Info) << "train: " << count_ << " windows so far; local mean temp "
                     << sensor::celsius(mean[sensor::kTemp]) << " C, kurtosis "
                     << mean[sensor::kKurtosis] * 3;

    POLLEN_ASSIGN_OR_RETURN(pollen::Array mean_array, to_array(mean));
    POLLEN_ASSIGN_OR_RETURN(pollen::Array square_array, to_array(square));
    pollen::ArrayRecord arrays;
    arrays.set(kMeanKey, std::move(mean_array));
    arrays.set(kSquareKey, std::move(square_array));
    // FedAvg averages metrics by num-examples too: this one becomes the
    // fleet's mean temperature.
    pollen::MetricRecord metrics;
    metrics.set("temp_c", sensor::celsius(mean[sensor::kTemp]));
    metrics.set("num-examples", count_);
    pollen::RecordDict reply;
    reply.set("arrays", std::move(arrays));
    reply.set("metrics", std::move(metrics));
    return reply;
  }

  // Scores the next windows of the stream against the fleet's statistics.
  pollen::Result<pollen::RecordDict> evaluate(const pollen::Message& m) override {
    POLLEN_ASSIGN_OR_RETURN(const pollen::ArrayRecord* global, instruction_arrays(m));
    POLLEN_ASSIGN_OR_RETURN(Vector mean, from_array(*global, kMeanKey));
    POLLEN_ASSIGN_OR_RETURN(Vector square, from_array(*global, kSquareKey));
    Vector stddev{};
    for (int f = 0; f < kF; ++f) {
      stddev[f] = std::sqrt(std::max(square[f] - mean[f] * mean[f], 0.0));
    }
    if (*std::max_element(stddev.begin(), stddev.end()) == 0) {
      return pollen::failed_precondition("the fleet statistics are still empty (train first)");
    }
    const int64_t n = std::max<int64_t>(windows_ / 4, 1);
    std::array<int64_t, sensor::kNumClasses> seen{}, flagged{};
    for (int64_t i = 0; i < n; ++i) {
      const sensor::Window w = sensor_.window(next_window_++);
      double worst = 0;
      for (int f = 0; f < kF; ++f) {
        if (stddev[f] > 0) worst = std::max(worst, std::abs(w.features[f] - mean[f]) / stddev[f]);
      }
      ++seen[w.label];
      if (worst > 3) ++flagged[w.label];
    }
    auto rate = [](int64_t part, int64_t whole) {
      return whole > 0 ? static_cast<double>(part) / whole : 0.0;
    };
    const double anomaly_rate = rate(flagged[0] + flagged[1] + flagged[2], n);
    POLLEN_LOG(Info) << "evaluate: " << n << " windows, " << anomaly_rate * 100
                     << "% flagged (normal " << flagged[0] << "/" << seen[0] << ", worn "
                     << flagged[1] << "/" << seen[1] << ", faulty " << flagged[2] << "/" << seen[2]
                     << ")";
    // Rates of a condition with no window this round are 0, so that every
    // reply has the same keys (FedAvg requires it).
    pollen::MetricRecord metrics;
    metrics.set("anomaly_rate", anomaly_rate);
    metrics.set("normal_flagged", rate(flagged[0], seen[0]));
    metrics.set("worn_flagged", rate(flagged[1], seen[1]));
    metrics.set("faulty_flagged", rate(flagged[2], seen[2]));
    metrics.set("num-examples", n);
    pollen::RecordDict reply;
    reply.set("metrics", std::move(metrics));
    return reply;
  }

 private:
  const sensor::Sensor& sensor_;
  const int64_t windows_;
  uint64_t next_window_ = 0;  // position in the sensor's stream
  int64_t count_ = 0;
  Vector sum_{}, square_sum_{};
};

// The arrays a server starts from: zeros (the first round replaces them).
int write_initial(const std::string& path) {
  pollen::ArrayRecord arrays;
  arrays.set(kMeanKey, to_array(Vector{}).value());
  arrays.set(kSquareKey, to_array(Vector{}).value());
  const pollen::Status written = pollen::write_npz(path, arrays);
  if (!written.ok()) {
    std::cerr << "stats-node: " << written << "\n";
    return 1;
  }
  std::cout << "wrote " << path << " (" << kMeanKey << ", " << kSquareKey << ": float32 [" << kF
            << "])\n";
  return 0;
}

constexpr char kUsage[] =
    "usage: stats-node --write-initial FILE.npz\n"
    "       stats-node [flags]\n";

}  // namespace

int main(int argc, char** argv) {
  pollen::StopFlag stop;
  pollen::SignalStop signals(&stop);  // first, before any thread exists

  example::NodeFlags flags;
  std::string initial;
  auto initial_flag = [&](const std::string& flag, const std::string& value) {
    if (flag != "--write-initial") return false;
    initial = value;
    return true;
  };
  if (!example::parse_flags(argc, argv, &flags, initial_flag)) {
    std::cerr << kUsage << example::kCommonUsage;
    return 2;
  }
  if (!initial.empty()) return write_initial(initial);

  const sensor::Sensor machine(flags.device_seed);
  FleetStatsClient client(machine, flags.windows);
  POLLEN_LOG(Info) << "Sensor " << flags.device_seed << ": fleet statistics of "
                   << sensor::kNumFeatures << " features, " << flags.windows
                   << " windows per round";
  return example::serve(flags, client, stop);
}
