// The power sources of power.h: Jetson INA3221 monitors and RAPL counters.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pollen/runtime/power.h"
#include "power_sysfs.h"

namespace pollen {

namespace {

// One INA3221 channel. hwmon (JetPack 5/6) gives bus voltage in mV and
// current in mA; the older iio driver (JetPack 4) gives power in mW.
struct Rail {
  std::string label;
  std::string millivolts_path;
  std::string milliamps_path;
  std::string milliwatts_path;

  Result<double> watts() const {
    if (!milliwatts_path.empty()) {
      POLLEN_ASSIGN_OR_RETURN(int64_t mw, sysfs::read_int(milliwatts_path));
      return static_cast<double>(mw) / 1e3;
    }
    POLLEN_ASSIGN_OR_RETURN(int64_t mv, sysfs::read_int(millivolts_path));
    POLLEN_ASSIGN_OR_RETURN(int64_t ma, sysfs::read_int(milliamps_path));
    return static_cast<double>(mv) * static_cast<double>(ma) / 1e6;
  }
};

// Labels of the rail that carries the whole module's input power: VDD_IN on
// TX2, Orin NX/Nano; POM_5V_IN on the Nano with JetPack 4.
bool is_total_input(const std::string& label) { return label == "VDD_IN" || label == "POM_5V_IN"; }

// Rails that measure nothing: unconnected channels, and hwmon's in7, the sum
// of the shunt voltages (a voltage drop, not a rail).
bool is_skipped(const std::string& label) {
  return label.empty() || label == "NC" || label.rfind("sum of", 0) == 0;
}

class Ina3221Source final : public PowerSource {
 public:
  Ina3221Source(std::vector<Rail> rails, std::string name)
      : rails_(std::move(rails)), name_(std::move(name)) {}

  std::string name() const override { return name_; }

  Result<PowerSample> read() override {
    double total = 0;
    for (const Rail& rail : rails_) {
      Result<double> w = rail.watts();
      if (!w.ok()) return w.status().with_context("INA3221 rail " + rail.label);
      total += *w;
    }
    PowerSample sample;
    sample.watts = total;
    return sample;
  }

 private:
  std::vector<Rail> rails_;
  std::string name_;
};

// Rails of the hwmon driver: in{N}_label names channel N; in{N}_input and
// curr{N}_input are its bus voltage and current.
std::vector<Rail> hwmon_rails(const std::string& root) {
  std::vector<Rail> rails;
  const std::string driver = sysfs::under(root, "sys/bus/i2c/drivers/ina3221");
  for (const std::string& device : sysfs::list(driver)) {
    for (const std::string& hwmon : sysfs::list(device + "/hwmon", "hwmon")) {
      for (const std::string& file : sysfs::list(hwmon, "in")) {
        const std::string name = sysfs::base_name(file);
        const size_t suffix = name.find("_label");
        if (suffix == std::string::npos || suffix + 6 != name.size()) continue;
        const std::string channel = name.substr(2, suffix - 2);
        Result<std::string> label = sysfs::read_text(file);
        if (!label.ok() || is_skipped(*label)) continue;
        Rail rail;
        rail.label = *label;
        rail.millivolts_path = hwmon + "/in" + channel + "_input";
        rail.milliamps_path = hwmon + "/curr" + channel + "_input";
        if (sysfs::exists(rail.millivolts_path) && sysfs::exists(rail.milliamps_path)) {
          rails.push_back(std::move(rail));
        }
      }
    }
  }
  return rails;
}

// Rails of the iio driver: rail_name_{N} names channel N, in_power{N}_input
// is its power.
std::vector<Rail> iio_rails(const std::string& root) {
  std::vector<Rail> rails;
  const std::string driver = sysfs::under(root, "sys/bus/i2c/drivers/ina3221x");
  for (const std::string& device : sysfs::list(driver)) {
    for (const std::string& iio : sysfs::list(device, "iio:device")) {
      for (const std::string& file : sysfs::list(iio, "rail_name_")) {
        const std::string channel = sysfs::base_name(file).substr(10);
        Result<std::string> label = sysfs::read_text(file);
        if (!label.ok() || is_skipped(*label)) continue;
        Rail rail;
        rail.label = *label;
        rail.milliwatts_path = iio + "/in_power" + channel + "_input";
        if (sysfs::exists(rail.milliwatts_path)) rails.push_back(std::move(rail));
      }
    }
  }
  return rails;
}

// Keeps the rails that read now (a disabled channel fails) and picks what to
// report: the total-input rail when the board has one, since the other rails
// are parts of it; otherwise (AGX Xavier, AGX Orin) the sum of all rails,
// which covers the module but not the carrier board. `why` gets the reason
// when nothing is left.
std::unique_ptr<PowerSource> ina3221_source(std::vector<Rail> rails, const std::string& kind,
                                            std::string* why) {
  std::vector<Rail> readable;
  std::string first_error;
  for (Rail& rail : rails) {
    Result<double> w = rail.watts();
    if (w.ok()) {
      readable.push_back(std::move(rail));
    } else if (first_error.empty()) {
      first_error = w.status().message();
    }
  }
  if (readable.empty()) {
    *why = "INA3221 (" + kind + "): no readable rail" +
           (first_error.empty() ? "" : " (" + first_error + ")");
    return nullptr;
  }
  for (Rail& rail : readable) {
    if (is_total_input(rail.label)) {
      std::string name = "ina3221:" + rail.label;
      return std::make_unique<Ina3221Source>(std::vector<Rail>{std::move(rail)}, std::move(name));
    }
  }
  std::string name = "ina3221:sum(";
  for (size_t i = 0; i < readable.size(); ++i) name += (i ? "+" : "") + readable[i].label;
  name += ")";
  return std::make_unique<Ina3221Source>(std::move(readable), std::move(name));
}

// One top-level powercap zone: a CPU package (or the platform, "psys").
struct RaplZone {
  std::string energy_path;
  uint64_t range_uj = 0;  // the counter wraps to 0 after this value
  std::optional<uint64_t> last_uj;
};

// Sums the zones' counters. Each counter is differenced against its previous
// value, adding the range when it went down (it wrapped), so the sum keeps
// growing across wraps as long as reads come more often than one wrap
// (hours at a package's power).
class RaplSource final : public PowerSource {
 public:
  explicit RaplSource(std::vector<RaplZone> zones) : zones_(std::move(zones)) {}

  std::string name() const override { return "rapl"; }

  Result<PowerSample> read() override {
    std::vector<uint64_t> now;
    for (const RaplZone& zone : zones_) {
      Result<int64_t> uj = sysfs::read_int(zone.energy_path);
      if (!uj.ok()) return uj.status().with_context("RAPL");
      now.push_back(static_cast<uint64_t>(*uj));
    }
    // Only after every zone read, so a failed read leaves no zone half-updated.
    for (size_t i = 0; i < zones_.size(); ++i) {
      RaplZone& zone = zones_[i];
      if (zone.last_uj) {
        const uint64_t last = *zone.last_uj;
        if (now[i] >= last) {
          total_uj_ += now[i] - last;
        } else {
          // Wrapped; a previous value above the stated range cannot be
          // trusted, so only what was counted since the wrap is kept.
          total_uj_ += now[i] + (last <= zone.range_uj ? zone.range_uj - last : 0);
        }
      }
      zone.last_uj = now[i];
    }
    PowerSample sample;
    sample.joules = static_cast<double>(total_uj_) / 1e6;
    return sample;
  }

 private:
  std::vector<RaplZone> zones_;
  uint64_t total_uj_ = 0;
};

// The names "intel-rapl:N"; "intel-rapl:N:M" are subzones (cores, uncore,
// dram) already counted in their package, and "intel-rapl" is the control
// type directory.
bool is_top_level_zone(const std::string& name) {
  const std::string prefix = "intel-rapl:";
  if (name.compare(0, prefix.size(), prefix) != 0 || name.size() == prefix.size()) return false;
  return name.find_first_not_of("0123456789", prefix.size()) == std::string::npos;
}

std::unique_ptr<PowerSource> rapl_source(const std::string& root, std::string* why) {
  const std::string powercap = sysfs::under(root, "sys/class/powercap");
  std::vector<std::string> packages, platform;
  for (const std::string& zone : sysfs::list(powercap, "intel-rapl:")) {
    if (!is_top_level_zone(sysfs::base_name(zone))) continue;
    Result<std::string> name = sysfs::read_text(zone + "/name");
    (name.ok() && *name == "psys" ? platform : packages).push_back(zone);
  }
  // psys (laptops) measures the whole platform, packages included: adding
  // it to them would count the packages twice.
  const std::vector<std::string>& chosen = packages.empty() ? platform : packages;
  if (chosen.empty()) {
    *why = "RAPL: no zone " + powercap + "/intel-rapl:N";
    return nullptr;
  }
  std::vector<RaplZone> zones;
  for (const std::string& dir : chosen) {
    RaplZone zone;
    zone.energy_path = dir + "/energy_uj";
    Result<int64_t> range = sysfs::read_int(dir + "/max_energy_range_uj");
    if (!range.ok() || *range <= 0) {
      *why = "RAPL: " +
             (range.ok() ? dir + "/max_energy_range_uj is not positive" : range.status().message());
      return nullptr;
    }
    zone.range_uj = static_cast<uint64_t>(*range);
    zones.push_back(std::move(zone));
  }
  auto source = std::make_unique<RaplSource>(std::move(zones));
  Result<PowerSample> first = source->read();
  if (!first.ok()) {
    *why = first.status().message();
    if (first.status().code() == StatusCode::kPermissionDenied) {
      *why +=
          " (kernels with the CVE-2020-8694 fix let only root read energy_uj: run as "
          "root, or make the file readable, e.g. with a udev rule or tmpfiles.d)";
    }
    return nullptr;
  }
  return source;
}

}  // namespace

DetectedPower detect_power_source(const std::string& root) {
  std::vector<std::string> reasons;
  auto try_ina = [&](std::vector<Rail> rails, const std::string& kind,
                     const std::string& driver) -> std::unique_ptr<PowerSource> {
    if (rails.empty()) {
      reasons.push_back("no INA3221 rails under " + sysfs::under(root, driver));
      return nullptr;
    }
    std::string why;
    std::unique_ptr<PowerSource> source = ina3221_source(std::move(rails), kind, &why);
    if (!source) reasons.push_back(why);
    return source;
  };

  DetectedPower found;
  found.source = try_ina(hwmon_rails(root), "hwmon", "sys/bus/i2c/drivers/ina3221");
  if (!found.source) {
    found.source = try_ina(iio_rails(root), "iio", "sys/bus/i2c/drivers/ina3221x");
  }
  if (!found.source) {
    std::string why;
    found.source = rapl_source(root, &why);
    if (!found.source) reasons.push_back(why);
  }
  if (!found.source) {
    for (size_t i = 0; i < reasons.size(); ++i) found.reason += (i ? "; " : "") + reasons[i];
  }
  return found;
}

}  // namespace pollen
