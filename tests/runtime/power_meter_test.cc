// EnergyMeter and MeteredClient, driven by a fake clock and fake sources:
// the meter's interval is an hour, so only start(), sample() and stop()
// sample, and every number is exact.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "fake_sysfs.h"
#include "pollen/runtime/power.h"

namespace pollen {
namespace {

using pollen::testing::FakeSysfs;

// A power source whose next reading the test sets.
class FakeSource final : public PowerSource {
 public:
  std::string name() const override { return "fake"; }
  Result<PowerSample> read() override {
    ++reads;
    if (fail) return unavailable("fake: sensor gone");
    PowerSample sample;
    if (counter) {
      sample.joules = value;
    } else {
      sample.watts = value;
    }
    return sample;
  }
  bool counter = false;
  bool fail = false;
  double value = 0;
  std::atomic<int> reads{0};
};

struct FakeClock {
  double t = 0;
  std::function<double()> fn() {
    return [this] { return t; };
  }
};

EnergyMeter::Options manual(FakeClock& clock) {
  EnergyMeter::Options options;
  options.interval = std::chrono::hours(1);
  options.clock = clock.fn();
  return options;
}

TEST(EnergyMeterTest, IntegratesAMonitorWithTheTrapezoidRule) {
  FakeSource source;
  FakeClock clock;
  EnergyMeter meter(&source, nullptr, manual(clock));
  source.value = 2;
  meter.start();  // t=0: 2 W
  clock.t = 1;
  source.value = 4;
  meter.sample();  // t=1: 4 W    3 J so far
  clock.t = 2;
  meter.sample();  // t=2: 4 W    +4 J
  clock.t = 3;
  source.value = 0;
  RoundEnergy energy = meter.stop();  // t=3: 0 W    +2 J
  ASSERT_TRUE(energy.joules.has_value());
  EXPECT_DOUBLE_EQ(*energy.joules, 9.0);
  EXPECT_DOUBLE_EQ(*energy.peak_watts, 4.0);
  EXPECT_DOUBLE_EQ(energy.seconds, 3.0);
  EXPECT_FALSE(energy.cpu_util.has_value());
  EXPECT_FALSE(meter.running());
  EXPECT_EQ(source.reads, 4);
}

TEST(EnergyMeterTest, DifferencesACounterAndTakesPeaksOverWindows) {
  FakeSource source;
  source.counter = true;
  FakeClock clock;
  EnergyMeter meter(&source, nullptr, manual(clock));
  source.value = 100;  // whatever the counter held before
  meter.start();
  clock.t = 1;
  source.value = 110;  // 10 W
  meter.sample();
  clock.t = 1.01;
  source.value = 111;  // 100 W over 10 ms: too short a window to count
  meter.sample();
  clock.t = 2;
  source.value = 130;  // 20 J over the 1 s since the window began at t=1: 20 W
  RoundEnergy energy = meter.stop();
  EXPECT_DOUBLE_EQ(*energy.joules, 30.0);
  EXPECT_DOUBLE_EQ(*energy.peak_watts, 20.0);
  EXPECT_DOUBLE_EQ(energy.seconds, 2.0);
}

TEST(EnergyMeterTest, AShortCounterRoundReportsItsMeanAsPeak) {
  FakeSource source;
  source.counter = true;
  FakeClock clock;
  EnergyMeter meter(&source, nullptr, manual(clock));
  meter.start();
  clock.t = 0.02;
  source.value = 0.1;
  RoundEnergy energy = meter.stop();
  EXPECT_DOUBLE_EQ(*energy.joules, 0.1);
  EXPECT_DOUBLE_EQ(*energy.peak_watts, 5.0);
}

TEST(EnergyMeterTest, ReadErrorsLeaveGapsNotCrashes) {
  FakeSource source;
  FakeClock clock;
  EnergyMeter meter(&source, nullptr, manual(clock));
  source.value = 2;
  meter.start();
  clock.t = 1;
  source.fail = true;
  meter.sample();  // lost: the trapezoid spans it
  clock.t = 2;
  source.fail = false;
  RoundEnergy energy = meter.stop();
  EXPECT_DOUBLE_EQ(*energy.joules, 4.0);
  EXPECT_EQ(meter.last_error(), "fake: sensor gone");

  source.fail = true;
  meter.start();
  clock.t = 3;
  energy = meter.stop();
  EXPECT_FALSE(energy.joules.has_value());
  EXPECT_FALSE(energy.peak_watts.has_value());
  EXPECT_DOUBLE_EQ(energy.seconds, 1.0);
}

TEST(EnergyMeterTest, SamplesTheSensors) {
  FakeSysfs fs("meter-sensors");
  fs.write("proc/stat", "cpu  100 0 0 900 0 0 0 0 0 0\n");
  fs.write("sys/devices/gpu.0/load", 200);
  fs.write("sys/class/thermal/thermal_zone0/type", "CPU-therm");
  fs.write("sys/class/thermal/thermal_zone0/temp", 40000);
  DeviceSensors sensors(fs.root());
  FakeClock clock;
  EnergyMeter meter(nullptr, &sensors, manual(clock));

  meter.start();  // gpu 20 %, 40 C
  fs.write("sys/devices/gpu.0/load", 800);
  fs.write("sys/class/thermal/thermal_zone0/temp", 55000);
  clock.t = 1;
  meter.sample();  // gpu 80 %, 55 C
  fs.write("sys/devices/gpu.0/load", 500);
  fs.write("sys/class/thermal/thermal_zone0/temp", 50000);
  fs.write("proc/stat", "cpu  150 0 0 950 0 0 0 0 0 0\n");  // 50 of 100 ticks busy
  clock.t = 2;
  RoundEnergy energy = meter.stop();  // gpu 50 %, 50 C
  EXPECT_FALSE(energy.joules.has_value());
  EXPECT_DOUBLE_EQ(*energy.gpu_util, 50.0);
  EXPECT_DOUBLE_EQ(*energy.max_temp_c, 55.0);
  EXPECT_DOUBLE_EQ(*energy.cpu_util, 50.0);
}

TEST(EnergyMeterTest, StopWithoutStartAndRestart) {
  FakeSource source;
  FakeClock clock;
  EnergyMeter meter(&source, nullptr, manual(clock));
  EXPECT_FALSE(meter.stop().joules.has_value());
  source.value = 1;
  meter.start();
  clock.t = 5;
  meter.start();  // begins again at t=5
  clock.t = 6;
  RoundEnergy energy = meter.stop();
  EXPECT_DOUBLE_EQ(energy.seconds, 1.0);
  EXPECT_DOUBLE_EQ(*energy.joules, 1.0);
}

TEST(EnergyMeterTest, TheThreadSamplesAndIsJoined) {
  FakeSource source;
  source.value = 3;
  EnergyMeter::Options options;
  options.interval = std::chrono::milliseconds(2);
  {
    EnergyMeter meter(&source, nullptr, options);
    meter.start();
    // At least 60 ms and one read by the thread (start() made the first);
    // a loaded machine may schedule the thread late, so wait for it, boundedly.
    const auto begin = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    while (source.reads < 2 &&
           std::chrono::steady_clock::now() - begin < std::chrono::seconds(30)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    RoundEnergy energy = meter.stop();
    EXPECT_GE(source.reads, 3);  // start, at least one from the thread, stop
    EXPECT_GT(energy.seconds, 0.05);
    EXPECT_NEAR(*energy.joules, 3 * energy.seconds, 1e-9);
    meter.start();  // left running: the destructor stops and joins
  }
  const int reads = source.reads;
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(source.reads, reads);
}

// Replies like a FedAvg ClientApp: arrays plus "metrics" for train and
// evaluate, "config" for query; `during` runs inside train.
class FakeApp final : public Client {
 public:
  Result<RecordDict> handle(const Message& m) override {
    if (fail) return invalid_argument("training failed");
    RecordDict reply;
    const std::string& type = m.metadata.message_type;
    if (type == "query") {
      reply.set("config", ConfigRecord());
      return reply;
    }
    if (type == "train" && during) during();
    reply.set("arrays", ArrayRecord());
    MetricRecord metrics;
    metrics.set(type == "train" ? "train_loss" : "eval_loss", 0.5);
    metrics.set("num-examples", int64_t{10});
    if (with_metrics) reply.set("metrics", metrics);
    return reply;
  }
  std::function<void()> during;
  bool fail = false;
  bool with_metrics = true;
};

Message instruction(const std::string& type) {
  Message m;
  m.metadata.message_type = type;
  m.content = RecordDict();
  return m;
}

std::vector<std::string> keys_of(const MetricRecord& record) {
  std::vector<std::string> keys;
  for (const auto& item : record) keys.push_back(item.first);
  return keys;
}

double metric(const RecordDict& reply, const std::string& key) {
  const MetricRecord* metrics = find_metric_record(reply, "metrics");
  if (metrics == nullptr || metrics->find(key) == nullptr) return -1;
  return std::get<double>(*metrics->find(key));
}

// A Jetson: INA3221, GPU load, a CPU zone, /proc/stat.
void jetson_tree(const FakeSysfs& fs) {
  fs.write("proc/stat", "cpu  100 0 0 900 0 0 0 0 0 0\n");
  fs.write("sys/devices/gpu.0/load", 600);
  fs.write("sys/class/thermal/thermal_zone0/type", "CPU-therm");
  fs.write("sys/class/thermal/thermal_zone0/temp", 48000);
}

TEST(MeteredClientTest, AddsTheSameKeysEveryRound) {
  FakeSysfs fs("metered-jetson");
  jetson_tree(fs);
  auto source = std::make_unique<FakeSource>();
  FakeSource* power = source.get();
  power->value = 7;
  DetectedPower detected;
  detected.source = std::move(source);
  FakeClock clock;
  MeteredClient::Options options;
  options.meter.interval = std::chrono::hours(1);
  options.meter.clock = clock.fn();
  FakeApp app;
  MeteredClient client(app, std::move(detected), DeviceSensors(fs.root()), options);

  const std::vector<std::string> expected = {"train_loss",       "num-examples",  "energy-joules",
                                             "power-peak-watts", "train-seconds", "cpu-util",
                                             "gpu-util",         "temp-max-c"};
  EXPECT_EQ(client.metric_keys(), std::vector<std::string>(expected.begin() + 2, expected.end()));
  for (int round = 1; round <= 3; ++round) {
    app.during = [&] {
      clock.t += 2;
      fs.write("proc/stat", "cpu  " + std::to_string(100 + 100 * round) + " 0 0 " +
                                std::to_string(900 + 100 * round) + " 0 0 0 0 0 0\n");
    };
    Result<RecordDict> reply = client.handle(instruction("train"));
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(keys_of(*find_metric_record(*reply, "metrics")), expected) << "round " << round;
    EXPECT_DOUBLE_EQ(metric(*reply, "energy-joules"), 14.0);
    EXPECT_DOUBLE_EQ(metric(*reply, "power-peak-watts"), 7.0);
    EXPECT_DOUBLE_EQ(metric(*reply, "train-seconds"), 2.0);
    EXPECT_DOUBLE_EQ(metric(*reply, "cpu-util"), 50.0);
    EXPECT_DOUBLE_EQ(metric(*reply, "gpu-util"), 60.0);
    EXPECT_DOUBLE_EQ(metric(*reply, "temp-max-c"), 48.0);
  }

  // A reading lost in some round keeps its key, as NaN.
  power->fail = true;
  fs.remove("sys/devices/gpu.0/load");
  app.during = [&] { clock.t += 1; };
  Result<RecordDict> reply = client.handle(instruction("train"));
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(keys_of(*find_metric_record(*reply, "metrics")), expected);
  EXPECT_TRUE(std::isnan(metric(*reply, "energy-joules")));
  EXPECT_TRUE(std::isnan(metric(*reply, "gpu-util")));
  EXPECT_DOUBLE_EQ(metric(*reply, "train-seconds"), 1.0);
}

TEST(MeteredClientTest, KeysFollowWhatTheDeviceCanRead) {
  FakeSysfs fs("metered-bare");
  FakeApp app;
  MeteredClient client(app, fs.root());
  EXPECT_EQ(client.metric_keys(), std::vector<std::string>{"train-seconds"});
  EXPECT_EQ(client.power_source_name(), "none");
  EXPECT_FALSE(client.power_reason().empty());
  Result<RecordDict> reply = client.handle(instruction("train"));
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(keys_of(*find_metric_record(*reply, "metrics")),
            (std::vector<std::string>{"train_loss", "num-examples", "train-seconds"}));
  EXPECT_GE(metric(*reply, "train-seconds"), 0.0);
}

TEST(MeteredClientTest, EveryKeyGivesTheSameSetOnAnyHardware) {
  FakeSysfs fs("metered-every");
  FakeApp app;
  MeteredClient::Options options;
  options.every_key = true;
  MeteredClient client(app, fs.root(), options);
  EXPECT_EQ(client.metric_keys().size(), 6u);
  Result<RecordDict> reply = client.handle(instruction("train"));
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(find_metric_record(*reply, "metrics")->size(), 8u);
  EXPECT_TRUE(std::isnan(metric(*reply, "energy-joules")));
  EXPECT_TRUE(std::isnan(metric(*reply, "gpu-util")));
  EXPECT_FALSE(std::isnan(metric(*reply, "train-seconds")));
}

TEST(MeteredClientTest, ErrorsAndRepliesWithoutMetricsAreLeftAlone) {
  FakeSysfs fs("metered-errors");
  jetson_tree(fs);
  FakeApp app;
  MeteredClient client(app, fs.root());

  app.fail = true;
  Result<RecordDict> failed = client.handle(instruction("train"));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().message(), "training failed");

  app.fail = false;
  app.with_metrics = false;
  Result<RecordDict> bare = client.handle(instruction("train.custom"));
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(find_metric_record(*bare, "metrics"), nullptr);
  EXPECT_EQ(bare->size(), 1u);
}

TEST(MeteredClientTest, EvaluateIsUntouchedAndQueryNamesTheSource) {
  FakeSysfs fs("metered-eval");
  jetson_tree(fs);
  fs.write("sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3/in1_label", "VDD_IN");
  fs.write("sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3/in1_input", 5000);
  fs.write("sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3/curr1_input", 1000);
  FakeApp app;
  MeteredClient client(app, fs.root());
  EXPECT_EQ(client.power_source_name(), "ina3221:VDD_IN");

  Result<RecordDict> direct = app.handle(instruction("evaluate"));
  Result<RecordDict> metered = client.handle(instruction("evaluate"));
  ASSERT_TRUE(direct.ok() && metered.ok());
  EXPECT_TRUE(*direct == *metered);

  Result<RecordDict> query = client.handle(instruction("query"));
  ASSERT_TRUE(query.ok());
  const ConfigRecord* config = find_config_record(*query, "config");
  ASSERT_NE(config, nullptr);
  ASSERT_NE(config->find("power-source"), nullptr);
  EXPECT_EQ(std::get<std::string>(*config->find("power-source")), "ina3221:VDD_IN");
}

}  // namespace
}  // namespace pollen
