// EnergyMeter: samples a power source and the sensors while a round runs.
#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "pollen/runtime/power.h"

namespace pollen {

namespace {

// RAPL counters move about once a millisecond, so a rate over a few
// milliseconds (the last sample can come just after the thread's) is noise;
// peaks from counters are taken over windows of at least this long.
constexpr double kMinRateWindowSeconds = 0.05;

}  // namespace

// Running sums of one measurement.
struct EnergyMeter::Totals {
  int samples = 0;
  double first_t = 0;
  double last_t = 0;
  std::optional<CpuTimes> cpu_begin;

  int power_samples = 0;
  std::optional<double> peak_watts;
  // Monitors: the trapezoid rule over (t, watts).
  double integrated_joules = 0;
  double prev_t = 0;
  double prev_watts = 0;
  // Counters: the first and last count, and the start of the current window.
  std::optional<double> first_joules;
  double last_joules = 0;
  double window_t = 0;
  double window_joules = 0;

  double gpu_sum = 0;
  int gpu_samples = 0;
  std::optional<double> max_temp_c;

  std::string error;
};

EnergyMeter::EnergyMeter(PowerSource* power, const DeviceSensors* sensors, Options options)
    : power_(power), sensors_(sensors), options_(std::move(options)) {}

EnergyMeter::~EnergyMeter() {
  if (running()) stop();
  if (thread_.joinable()) thread_.join();
}

double EnergyMeter::now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void EnergyMeter::start() {
  if (running()) stop();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    totals_ = std::make_unique<Totals>();
    if (sensors_ != nullptr) totals_->cpu_begin = sensors_->cpu_times();
    running_ = true;
    sample_locked();
  }
  thread_ = std::thread(&EnergyMeter::run, this);
}

void EnergyMeter::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (running_) {
    if (cv_.wait_for(lock, options_.interval, [this] { return !running_; })) break;
    sample_locked();
  }
}

void EnergyMeter::sample() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (running_) sample_locked();
}

void EnergyMeter::sample_locked() {
  Totals& s = *totals_;
  const double t = now();
  if (s.samples++ == 0) s.first_t = t;
  s.last_t = t;

  if (power_ != nullptr) {
    Result<PowerSample> reading = power_->read();
    if (!reading.ok()) {
      if (s.error.empty()) s.error = reading.status().message();
    } else if (reading->joules) {
      const double j = *reading->joules;
      if (!s.first_joules) {
        s.first_joules = j;
        s.window_t = t;
        s.window_joules = j;
      } else if (t - s.window_t >= kMinRateWindowSeconds) {
        const double watts = (j - s.window_joules) / (t - s.window_t);
        s.peak_watts = std::max(s.peak_watts.value_or(watts), watts);
        s.window_t = t;
        s.window_joules = j;
      }
      s.last_joules = j;
      ++s.power_samples;
    } else if (reading->watts) {
      const double w = *reading->watts;
      if (s.power_samples > 0) s.integrated_joules += (s.prev_watts + w) / 2 * (t - s.prev_t);
      s.prev_t = t;
      s.prev_watts = w;
      s.peak_watts = std::max(s.peak_watts.value_or(w), w);
      ++s.power_samples;
    }
  }

  if (sensors_ != nullptr) {
    if (std::optional<double> gpu = sensors_->gpu_util_percent()) {
      s.gpu_sum += *gpu;
      ++s.gpu_samples;
    }
    if (std::optional<double> temp = sensors_->max_cpu_temp_c()) {
      s.max_temp_c = std::max(s.max_temp_c.value_or(*temp), *temp);
    }
  }
}

RoundEnergy EnergyMeter::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!running_) return RoundEnergy();
    running_ = false;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();

  std::lock_guard<std::mutex> lock(mutex_);
  // The thread is gone; this last sample closes the measurement.
  sample_locked();
  const Totals& s = *totals_;

  RoundEnergy energy;
  energy.seconds = s.last_t - s.first_t;
  if (s.power_samples >= 2) {
    energy.joules = s.first_joules ? s.last_joules - *s.first_joules : s.integrated_joules;
  }
  energy.peak_watts = s.peak_watts;
  // A counter over a round shorter than one rate window: its mean is all
  // that can be said about its peak.
  if (!energy.peak_watts && s.first_joules && energy.joules && energy.seconds > 0) {
    energy.peak_watts = *energy.joules / energy.seconds;
  }
  if (sensors_ != nullptr && s.cpu_begin) {
    if (std::optional<CpuTimes> end = sensors_->cpu_times()) {
      energy.cpu_util = cpu_util_percent(*s.cpu_begin, *end);
    }
  }
  if (s.gpu_samples > 0) energy.gpu_util = s.gpu_sum / s.gpu_samples;
  energy.max_temp_c = s.max_temp_c;
  return energy;
}

bool EnergyMeter::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_;
}

std::string EnergyMeter::last_error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return totals_ ? totals_->error : std::string();
}

}  // namespace pollen
