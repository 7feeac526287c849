// MeteredClient: energy and device metrics in train replies.
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "pollen/runtime/log.h"
#include "pollen/runtime/power.h"

namespace pollen {

namespace {

std::string category(const std::string& message_type) {
  return message_type.substr(0, message_type.find('.'));
}

std::string format_optional(const std::optional<double>& value, const char* unit) {
  if (!value) return "n/a";
  char text[48];
  std::snprintf(text, sizeof(text), "%.1f%s", *value, unit);
  return text;
}

}  // namespace

MeteredClient::MeteredClient(Client& inner, const std::string& root)
    : MeteredClient(inner, root, Options()) {}

MeteredClient::MeteredClient(Client& inner, const std::string& root, Options options)
    : MeteredClient(inner, detect_power_source(root), DeviceSensors(root), std::move(options)) {}

MeteredClient::MeteredClient(Client& inner, DetectedPower power, DeviceSensors sensors,
                             Options options)
    : inner_(inner),
      power_(std::move(power)),
      sensors_(std::move(sensors)),
      meter_(power_.source.get(), &sensors_, std::move(options.meter)) {
  const bool all = options.every_key;
  if (all || power_.source) {
    keys_.push_back(kEnergyJoulesKey);
    keys_.push_back(kPowerPeakKey);
  }
  keys_.push_back(kTrainSecondsKey);
  if (all || sensors_.has_cpu_times()) keys_.push_back(kCpuUtilKey);
  if (all || sensors_.has_gpu_load()) keys_.push_back(kGpuUtilKey);
  if (all || sensors_.has_cpu_temperature()) keys_.push_back(kTempMaxKey);

  if (power_.source) {
    POLLEN_LOG(Info) << "Energy metrics: power from " << power_.source->name();
  } else {
    POLLEN_LOG(Info) << "Energy metrics: no power source (" << power_.reason << ")";
  }
  POLLEN_LOG(Debug) << "Energy metrics: " << sensors_.describe();
}

std::string MeteredClient::power_source_name() const {
  return power_.source ? power_.source->name() : "none";
}

void MeteredClient::add_metrics(const RoundEnergy& energy, MetricRecord& metrics) const {
  // A key this node cannot read this round is NaN rather than missing, so
  // the key set, which aggregation needs identical, never changes.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const std::string& key : keys_) {
    std::optional<double> value;
    if (key == kEnergyJoulesKey) value = energy.joules;
    if (key == kPowerPeakKey) value = energy.peak_watts;
    if (key == kTrainSecondsKey) value = energy.seconds;
    if (key == kCpuUtilKey) value = energy.cpu_util;
    if (key == kGpuUtilKey) value = energy.gpu_util;
    if (key == kTempMaxKey) value = energy.max_temp_c;
    metrics.set(key, value.value_or(nan));
  }
}

Result<RecordDict> MeteredClient::handle(const Message& instruction) {
  const std::string kind = category(instruction.metadata.message_type);
  if (kind == "train") {
    meter_.start();
    Result<RecordDict> reply = inner_.handle(instruction);
    const RoundEnergy energy = meter_.stop();
    if (!reply.ok()) return reply;
    const std::string error = meter_.last_error();
    if (!error.empty()) POLLEN_LOG(Warning) << "Energy metrics: " << error;
    POLLEN_LOG(Info) << "Energy: " << format_optional(energy.joules, " J") << ", peak "
                     << format_optional(energy.peak_watts, " W") << " over "
                     << format_optional(energy.seconds, " s");
    if (Record* record = reply->find("metrics")) {
      if (auto* metrics = std::get_if<MetricRecord>(record)) add_metrics(energy, *metrics);
    }
    return reply;
  }
  Result<RecordDict> reply = inner_.handle(instruction);
  if (reply.ok() && kind == "query") {
    if (Record* record = reply->find("config")) {
      if (auto* config = std::get_if<ConfigRecord>(record)) {
        config->set("power-source", power_source_name());
      }
    }
  }
  return reply;
}

}  // namespace pollen
