// The optional readings of power.h: CPU use, Jetson GPU load, CPU temperature.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <sstream>
#include <string>

#include "pollen/runtime/power.h"
#include "power_sysfs.h"

namespace pollen {

namespace {

// Where Jetson kernels put the integrated GPU's load (per mille). gpu.0 is
// its name on most releases; the others are the device's own name (by its
// address or its core, ga10b on Orin, gv11b on Xavier) that some releases
// use instead. The first that reads wins.
const char* const kGpuLoadPaths[] = {
    "sys/devices/gpu.0/load",
    "sys/devices/platform/gpu.0/load",
    "sys/devices/platform/17000000.gpu/load",
    "sys/devices/platform/17000000.ga10b/load",
    "sys/devices/platform/17000000.gv11b/load",
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Zones that measure the CPU: "CPU-therm" (Jetson), "cpu-thermal" (Raspberry
// Pi and other ARM boards), "x86_pkg_temp" (Intel's package sensor). Board,
// GPU and ACPI zones are left out: the metric is about the compute silicon.
bool is_cpu_zone(const std::string& type) {
  const std::string t = lower(type);
  return t.find("cpu") != std::string::npos || t == "x86_pkg_temp";
}

// The "cpu" line: user nice system idle iowait irq softirq steal guest
// guest_nice. Guest time is already inside user and nice, so only the first
// eight count; idle and iowait are not busy.
std::optional<CpuTimes> parse_cpu_line(const std::string& stat) {
  std::istringstream in(stat.substr(0, stat.find('\n')));
  std::string label;
  in >> label;
  if (label != "cpu") return std::nullopt;
  uint64_t fields[8] = {};
  int n = 0;
  while (n < 8 && in >> fields[n]) ++n;
  if (n < 4) return std::nullopt;  // user nice system idle are always there
  CpuTimes times;
  for (int i = 0; i < n; ++i) times.total += fields[i];
  times.busy = times.total - fields[3] - (n > 4 ? fields[4] : 0);
  return times;
}

}  // namespace

std::optional<double> cpu_util_percent(const CpuTimes& begin, const CpuTimes& end) {
  if (end.total <= begin.total || end.busy < begin.busy) return std::nullopt;
  const double busy = static_cast<double>(end.busy - begin.busy);
  return std::min(100.0, 100.0 * busy / static_cast<double>(end.total - begin.total));
}

DeviceSensors::DeviceSensors(const std::string& root) {
  const std::string stat = sysfs::under(root, "proc/stat");
  Result<std::string> text = sysfs::read_text(stat);
  if (text.ok() && parse_cpu_line(*text)) stat_path_ = stat;

  for (const char* path : kGpuLoadPaths) {
    const std::string load = sysfs::under(root, path);
    if (sysfs::read_int(load).ok()) {
      gpu_load_path_ = load;
      break;
    }
  }

  for (const std::string& zone :
       sysfs::list(sysfs::under(root, "sys/class/thermal"), "thermal_zone")) {
    Result<std::string> type = sysfs::read_text(zone + "/type");
    if (!type.ok() || !is_cpu_zone(*type)) continue;
    // Some zones exist but fail to read (a sensor that is off): skip them.
    if (sysfs::read_int(zone + "/temp").ok()) temp_paths_.push_back(zone + "/temp");
  }
}

std::optional<CpuTimes> DeviceSensors::cpu_times() const {
  if (stat_path_.empty()) return std::nullopt;
  Result<std::string> text = sysfs::read_text(stat_path_);
  if (!text.ok()) return std::nullopt;
  return parse_cpu_line(*text);
}

std::optional<double> DeviceSensors::gpu_util_percent() const {
  if (gpu_load_path_.empty()) return std::nullopt;
  Result<int64_t> per_mille = sysfs::read_int(gpu_load_path_);
  if (!per_mille.ok()) return std::nullopt;
  return std::clamp(static_cast<double>(*per_mille) / 10.0, 0.0, 100.0);
}

std::optional<double> DeviceSensors::max_cpu_temp_c() const {
  std::optional<double> hottest;
  for (const std::string& path : temp_paths_) {
    Result<int64_t> millidegrees = sysfs::read_int(path);
    if (!millidegrees.ok()) continue;
    const double c = static_cast<double>(*millidegrees) / 1000.0;
    if (!hottest || c > *hottest) hottest = c;
  }
  return hottest;
}

std::string DeviceSensors::describe() const {
  std::string out = "cpu use: " + (stat_path_.empty() ? std::string("none") : stat_path_);
  out += "; gpu load: " + (gpu_load_path_.empty() ? std::string("none") : gpu_load_path_);
  out += "; cpu temperature: ";
  if (temp_paths_.empty()) out += "none";
  for (size_t i = 0; i < temp_paths_.size(); ++i) out += (i ? ", " : "") + temp_paths_[i];
  return out;
}

}  // namespace pollen
