// Energy and device metrics per training round, read from sysfs:
//   power        Jetson INA3221 monitors (hwmon on JetPack 5/6, iio on
//                JetPack 4), else RAPL powercap counters (Intel, and AMD on
//                recent kernels), else none;
//   temperature  CPU thermal zones;
//   GPU load     Jetson's integrated GPU;
//   CPU use      /proc/stat.
// Every path is taken under a root directory ("/" on a device), so tests can
// hand in a fake tree. Nothing needs LibTorch or root, except RAPL on kernels
// with the CVE-2020-8694 fix, where energy_uj is readable by root only.
#ifndef POLLEN_RUNTIME_POWER_H_
#define POLLEN_RUNTIME_POWER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pollen/core/client.h"
#include "pollen/core/records.h"
#include "pollen/core/status.h"

namespace pollen {

// One reading of a power source. Monitors measure power; counters count
// energy, and then the meter derives power from the difference.
struct PowerSample {
  std::optional<double> watts;   // instantaneous power (INA3221)
  std::optional<double> joules;  // energy since the source's first read,
                                 // counter wrap handled (RAPL)
};

class PowerSource {
 public:
  virtual ~PowerSource() = default;
  // What query replies report: "ina3221:VDD_IN", "ina3221:sum(A+B)", "rapl".
  virtual std::string name() const = 0;
  // Reads now. A failure (a file gone, permission denied) is a Status naming
  // the file, never a crash. Not thread-safe: one reader at a time.
  virtual Result<PowerSample> read() = 0;
};

struct DetectedPower {
  std::unique_ptr<PowerSource> source;  // null when nothing is readable
  std::string reason;                   // when null: what was tried and why it failed
};

// Tries, in order, INA3221 hwmon, INA3221 iio and RAPL under `root`, and
// returns the first that reads successfully.
DetectedPower detect_power_source(const std::string& root = "/");

// The "cpu" line of /proc/stat, in clock ticks since boot.
struct CpuTimes {
  uint64_t busy = 0;
  uint64_t total = 0;
};

// Percent of all CPUs' time spent busy between two readings; nullopt when no
// tick passed in between (rounds shorter than a tick, 10 ms).
std::optional<double> cpu_util_percent(const CpuTimes& begin, const CpuTimes& end);

// The optional readings, found once at construction: only what read
// successfully then is offered afterwards.
class DeviceSensors {
 public:
  explicit DeviceSensors(const std::string& root = "/");

  bool has_cpu_times() const { return !stat_path_.empty(); }
  bool has_gpu_load() const { return !gpu_load_path_.empty(); }
  bool has_cpu_temperature() const { return !temp_paths_.empty(); }

  std::optional<CpuTimes> cpu_times() const;
  // Jetson GPU load in percent (sysfs gives per mille).
  std::optional<double> gpu_util_percent() const;
  // The hottest CPU thermal zone, in degrees Celsius.
  std::optional<double> max_cpu_temp_c() const;

  // One line for the log: what was found.
  std::string describe() const;

 private:
  std::string stat_path_;
  std::string gpu_load_path_;
  std::vector<std::string> temp_paths_;
};

// What one measured stretch (a training round) cost.
struct RoundEnergy {
  std::optional<double> joules;      // none without a source or two good readings
  std::optional<double> peak_watts;  // highest reading, or highest rate over >= 50 ms (counters)
  double seconds = 0;
  std::optional<double> cpu_util;    // percent of all CPUs
  std::optional<double> gpu_util;    // mean percent over the samples
  std::optional<double> max_temp_c;  // hottest CPU zone over the samples
};

// Samples a power source and the sensors on its own thread while running.
// start() and stop() each take a sample themselves, so even a round shorter
// than the interval has two. Energy comes from the counter difference for
// counters and from the trapezoid rule over the samples for monitors.
class EnergyMeter {
 public:
  struct Options {
    std::chrono::milliseconds interval{100};
    // Monotonic seconds; empty means std::chrono::steady_clock. Tests inject
    // a fake clock (and a long interval plus sample()) to stay deterministic.
    std::function<double()> clock;
  };

  // `power` (may be null) and `sensors` must outlive the meter.
  EnergyMeter(PowerSource* power, const DeviceSensors* sensors, Options options);
  EnergyMeter(PowerSource* power, const DeviceSensors* sensors)
      : EnergyMeter(power, sensors, Options()) {}
  ~EnergyMeter();  // stops and joins the thread
  EnergyMeter(const EnergyMeter&) = delete;
  EnergyMeter& operator=(const EnergyMeter&) = delete;

  // Starts a new measurement (restarts one that is running).
  void start();
  // Takes one sample now, as the thread does every interval.
  void sample();
  // Joins the thread, takes the last sample and returns the totals. Without
  // a running measurement: an empty RoundEnergy.
  RoundEnergy stop();
  bool running() const;

  // The first read error of the last measurement, "" when none.
  std::string last_error() const;

 private:
  struct Totals;
  void sample_locked();
  void run();
  double now() const;

  PowerSource* power_;
  const DeviceSensors* sensors_;
  Options options_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool running_ = false;
  std::unique_ptr<Totals> totals_;
  std::thread thread_;
};

// The metric keys a train reply may gain, in the order they are added.
inline constexpr const char* kEnergyJoulesKey = "energy-joules";
inline constexpr const char* kPowerPeakKey = "power-peak-watts";
inline constexpr const char* kTrainSecondsKey = "train-seconds";
inline constexpr const char* kCpuUtilKey = "cpu-util";
inline constexpr const char* kGpuUtilKey = "gpu-util";
inline constexpr const char* kTempMaxKey = "temp-max-c";

// A Client that measures `inner`'s train instructions (category "train").
// On success the reply's "metrics" MetricRecord, when it has one, gains the
// keys of metric_keys(), all doubles: "energy-joules", "power-peak-watts"
// (with a power source), "train-seconds" (always), "cpu-util", "gpu-util"
// (percent) and "temp-max-c" (when readable). Error replies are untouched,
// evaluate too; a query reply's "config" record gains "power-source" (the
// source's name, or "none").
//
// Flower's stock strategies refuse to aggregate a round whose replies do
// not all carry the same metric keys (validate_message_reply_consistency).
// So the key set is fixed at construction, a reading that fails in some
// round is sent as NaN rather than left out, and every node of a federation
// must run with metering on or off alike. Nodes on different hardware (a
// Jetson next to an x86 box) can still differ in what they can read;
// `every_key` makes them all send all six keys.
class MeteredClient final : public Client {
 public:
  struct Options {
    EnergyMeter::Options meter;
    // Emit all six keys whatever this device can read, NaN for the rest (a
    // NaN makes that key's aggregate NaN, but the round still aggregates).
    bool every_key = false;
  };

  // Finds the power source and sensors under `root`.
  explicit MeteredClient(Client& inner, const std::string& root = "/");
  MeteredClient(Client& inner, const std::string& root, Options options);
  MeteredClient(Client& inner, DetectedPower power, DeviceSensors sensors, Options options);

  Result<RecordDict> handle(const Message& instruction) override;

  const std::vector<std::string>& metric_keys() const { return keys_; }
  // "none" without a source.
  std::string power_source_name() const;
  // Why there is no source ("" when there is one).
  const std::string& power_reason() const { return power_.reason; }

 private:
  void add_metrics(const RoundEnergy& energy, MetricRecord& metrics) const;

  Client& inner_;
  DetectedPower power_;
  DeviceSensors sensors_;
  EnergyMeter meter_;
  std::vector<std::string> keys_;
};

}  // namespace pollen

#endif  // POLLEN_RUNTIME_POWER_H_
