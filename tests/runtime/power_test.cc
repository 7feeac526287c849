// Power sources and sensors over fake sysfs trees (JetPack 4/5/6 Jetsons,
// RAPL machines, machines with neither), and once over this machine's own.
#include "pollen/runtime/power.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>

#include "fake_sysfs.h"
#include "support/test_data.h"

namespace pollen {
namespace {

using pollen::testing::contains;
using pollen::testing::FakeSysfs;

double watts(PowerSource& source) {
  Result<PowerSample> sample = source.read();
  EXPECT_TRUE(sample.ok()) << sample.status();
  if (!sample.ok() || !sample->watts) return -1;
  return *sample->watts;
}

double joules(PowerSource& source) {
  Result<PowerSample> sample = source.read();
  EXPECT_TRUE(sample.ok()) << sample.status();
  if (!sample.ok() || !sample->joules) return -1;
  return *sample->joules;
}

// One INA3221 channel as the hwmon driver shows it (JetPack 5/6).
void hwmon_rail(const FakeSysfs& fs, const std::string& hwmon, int n, const std::string& label,
                int millivolts, int milliamps) {
  const std::string c = std::to_string(n);
  fs.write(hwmon + "/in" + c + "_label", label);
  fs.write(hwmon + "/in" + c + "_input", millivolts);
  fs.write(hwmon + "/in" + c + "_enable", 1);
  fs.write(hwmon + "/curr" + c + "_input", milliamps);
}

// The rest of a hwmon directory: shunt voltages (in4-6), their sum (in7,
// labelled) and the summed current (curr4), none of them rails.
void hwmon_extras(const FakeSysfs& fs, const std::string& hwmon) {
  fs.write(hwmon + "/name", "ina3221");
  for (int n = 4; n <= 6; ++n) fs.write(hwmon + "/in" + std::to_string(n) + "_input", 12);
  fs.write(hwmon + "/in7_label", "sum of shunt voltages");
  fs.write(hwmon + "/in7_input", 36);
  fs.write(hwmon + "/curr4_input", 3000);
}

const char kOrinHwmon[] = "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3";

TEST(PowerSourceTest, Ina3221HwmonUsesTheTotalInputRail) {
  FakeSysfs fs("hwmon-orin-nano");
  fs.write("sys/bus/i2c/drivers/ina3221/uevent", "DRIVER=ina3221");  // files beside devices
  fs.write("sys/bus/i2c/drivers/ina3221/bind", "");
  hwmon_rail(fs, kOrinHwmon, 1, "VDD_IN", 5000, 1200);
  hwmon_rail(fs, kOrinHwmon, 2, "VDD_CPU_GPU_CV", 5000, 400);
  hwmon_rail(fs, kOrinHwmon, 3, "VDD_SOC", 5000, 300);
  hwmon_extras(fs, kOrinHwmon);

  DetectedPower found = detect_power_source(fs.root());
  ASSERT_NE(found.source, nullptr) << found.reason;
  EXPECT_EQ(found.source->name(), "ina3221:VDD_IN");
  EXPECT_DOUBLE_EQ(watts(*found.source), 6.0);  // 5000 mV x 1200 mA

  fs.write(std::string(kOrinHwmon) + "/curr1_input", 2500);
  EXPECT_DOUBLE_EQ(watts(*found.source), 12.5);
}

TEST(PowerSourceTest, Ina3221HwmonSumsTheRailsWhenThereIsNoTotal) {
  // AGX Orin's two monitors: no VDD_IN, unconnected channels named NC, and
  // one channel whose current cannot be read (disabled).
  FakeSysfs fs("hwmon-agx-orin");
  const std::string a = "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1";
  const std::string b = "sys/bus/i2c/drivers/ina3221/1-0041/hwmon/hwmon2";
  hwmon_rail(fs, a, 1, "VDD_GPU_SOC", 5000, 1000);
  hwmon_rail(fs, a, 2, "VDD_CPU_CV", 5000, 200);
  hwmon_rail(fs, a, 3, "VIN_SYS_5V0", 5000, 600);
  hwmon_extras(fs, a);
  hwmon_rail(fs, b, 1, "NC", 0, 0);
  hwmon_rail(fs, b, 2, "VDDQ_VDD2_1V8AO", 5000, 100);
  hwmon_rail(fs, b, 3, "SPARE", 5000, 100);
  fs.unreadable(b + "/curr3_input");
  hwmon_extras(fs, b);

  DetectedPower found = detect_power_source(fs.root());
  ASSERT_NE(found.source, nullptr) << found.reason;
  EXPECT_EQ(found.source->name(),
            "ina3221:sum(VDD_GPU_SOC+VDD_CPU_CV+VIN_SYS_5V0+VDDQ_VDD2_1V8AO)");
  EXPECT_DOUBLE_EQ(watts(*found.source), 5.0 + 1.0 + 3.0 + 0.5);
}

TEST(PowerSourceTest, Ina3221IioOnJetPack4) {
  // Jetson Nano, JetPack 4: power in mW per channel, names in rail_name_N.
  FakeSysfs fs("iio-nano");
  const std::string iio = "sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0";
  fs.write(iio + "/rail_name_0", "POM_5V_IN");
  fs.write(iio + "/in_power0_input", 4321);
  fs.write(iio + "/in_voltage0_input", 5080);
  fs.write(iio + "/in_current0_input", 850);
  fs.write(iio + "/rail_name_1", "POM_5V_GPU");
  fs.write(iio + "/in_power1_input", 120);
  fs.write(iio + "/rail_name_2", "POM_5V_CPU");
  fs.write(iio + "/in_power2_input", 1500);

  DetectedPower found = detect_power_source(fs.root());
  ASSERT_NE(found.source, nullptr) << found.reason;
  EXPECT_EQ(found.source->name(), "ina3221:POM_5V_IN");
  EXPECT_DOUBLE_EQ(watts(*found.source), 4.321);

  // A rail that disappears later is an error the caller sees, not a crash.
  fs.remove(iio + "/in_power0_input");
  Result<PowerSample> gone = found.source->read();
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(contains(gone.status().message(), "in_power0_input"));
}

TEST(PowerSourceTest, Ina3221IioSumsXavierRails) {
  FakeSysfs fs("iio-xavier");
  const std::string iio = "sys/bus/i2c/drivers/ina3221x/1-0040/iio:device0";
  fs.write(iio + "/rail_name_0", "GPU");
  fs.write(iio + "/in_power0_input", 2000);
  fs.write(iio + "/rail_name_1", "CPU");
  fs.write(iio + "/in_power1_input", 1000);
  fs.write(iio + "/rail_name_2", "SOC");
  fs.write(iio + "/in_power2_input", 500);

  DetectedPower found = detect_power_source(fs.root());
  ASSERT_NE(found.source, nullptr) << found.reason;
  EXPECT_EQ(found.source->name(), "ina3221:sum(GPU+CPU+SOC)");
  EXPECT_DOUBLE_EQ(watts(*found.source), 3.5);
}

void rapl_zone(const FakeSysfs& fs, const std::string& zone, const std::string& name,
               long long energy_uj, long long range_uj) {
  const std::string dir = "sys/class/powercap/" + zone;
  fs.write(dir + "/name", name);
  fs.write(dir + "/energy_uj", energy_uj);
  fs.write(dir + "/max_energy_range_uj", range_uj);
}

TEST(PowerSourceTest, RaplSumsPackagesAndHandlesTheCounterWrapping) {
  FakeSysfs fs("rapl");
  const long long range = 10'000'000;  // 10 J, so the test can wrap it
  rapl_zone(fs, "intel-rapl:0", "package-0", 1'000'000, range);
  rapl_zone(fs, "intel-rapl:1", "package-1", 9'000'000, range);
  rapl_zone(fs, "intel-rapl:0:0", "core", 123, range);   // inside package-0
  fs.write("sys/class/powercap/intel-rapl/enabled", 1);  // the control type

  DetectedPower found = detect_power_source(fs.root());
  ASSERT_NE(found.source, nullptr) << found.reason;
  EXPECT_EQ(found.source->name(), "rapl");
  EXPECT_DOUBLE_EQ(joules(*found.source), 0.0);  // counts from the first read
  Result<PowerSample> sample = found.source->read();
  ASSERT_TRUE(sample.ok());
  EXPECT_FALSE(sample->watts.has_value());  // the meter derives power

  fs.write("sys/class/powercap/intel-rapl:0/energy_uj", 3'000'000);    // +2 J
  fs.write("sys/class/powercap/intel-rapl:0:0/energy_uj", 9'999'999);  // ignored
  EXPECT_DOUBLE_EQ(joules(*found.source), 2.0);

  fs.write("sys/class/powercap/intel-rapl:1/energy_uj", 500'000);  // wrapped: +1.5 J
  EXPECT_DOUBLE_EQ(joules(*found.source), 3.5);
  fs.write("sys/class/powercap/intel-rapl:1/energy_uj", 1'500'000);  // +1 J after the wrap
  EXPECT_DOUBLE_EQ(joules(*found.source), 4.5);
}

TEST(PowerSourceTest, RaplLeavesPsysOutBesideAPackage) {
  FakeSysfs fs("rapl-psys");
  rapl_zone(fs, "intel-rapl:0", "package-0", 0, 1'000'000'000);
  rapl_zone(fs, "intel-rapl:1", "psys", 0, 1'000'000'000);
  DetectedPower found = detect_power_source(fs.root());
  ASSERT_NE(found.source, nullptr) << found.reason;
  EXPECT_DOUBLE_EQ(joules(*found.source), 0.0);
  fs.write("sys/class/powercap/intel-rapl:0/energy_uj", 1'000'000);
  fs.write("sys/class/powercap/intel-rapl:1/energy_uj", 5'000'000);
  EXPECT_DOUBLE_EQ(joules(*found.source), 1.0);
}

TEST(PowerSourceTest, NoneSaysWhatWasTried) {
  FakeSysfs fs("none");
  DetectedPower found = detect_power_source(fs.root());
  EXPECT_EQ(found.source, nullptr);
  EXPECT_TRUE(contains(found.reason, "ina3221"));
  EXPECT_TRUE(contains(found.reason, "ina3221x"));
  EXPECT_TRUE(contains(found.reason, "intel-rapl"));
}

TEST(PowerSourceTest, AnUnreadableRaplCounterMeansNoSource) {
  FakeSysfs fs("rapl-unreadable");
  rapl_zone(fs, "intel-rapl:0", "package-0", 0, 1'000'000);
  fs.unreadable("sys/class/powercap/intel-rapl:0/energy_uj");
  DetectedPower found = detect_power_source(fs.root());
  EXPECT_EQ(found.source, nullptr);
  EXPECT_TRUE(contains(found.reason, "intel-rapl:0/energy_uj"));
}

TEST(PowerSourceTest, PermissionDeniedOnRaplExplainsTheFix) {
  // root reads a file whatever its mode, so as root there is nothing to see.
  if (geteuid() == 0) GTEST_SKIP() << "running as root, which reads mode-000 files";
  FakeSysfs fs("rapl-denied");
  rapl_zone(fs, "intel-rapl:0", "package-0", 0, 1'000'000);
  const std::string energy = fs.path("sys/class/powercap/intel-rapl:0/energy_uj");
  ASSERT_EQ(chmod(energy.c_str(), 0), 0);
  DetectedPower found = detect_power_source(fs.root());
  EXPECT_EQ(found.source, nullptr);
  EXPECT_TRUE(contains(found.reason, "energy_uj"));
  EXPECT_TRUE(contains(found.reason, "Permission denied"));
  EXPECT_TRUE(contains(found.reason, "CVE-2020-8694"));
  chmod(energy.c_str(), 0644);
}

TEST(PowerSourceTest, Ina3221WinsOverRapl) {
  FakeSysfs fs("both");
  hwmon_rail(fs, kOrinHwmon, 1, "VDD_IN", 5000, 1000);
  rapl_zone(fs, "intel-rapl:0", "package-0", 0, 1'000'000);
  DetectedPower found = detect_power_source(fs.root());
  ASSERT_NE(found.source, nullptr);
  EXPECT_EQ(found.source->name(), "ina3221:VDD_IN");
}

TEST(DeviceSensorsTest, ReadsCpuZonesOnly) {
  FakeSysfs fs("thermal");
  fs.write("sys/class/thermal/thermal_zone0/type", "CPU-therm");
  fs.write("sys/class/thermal/thermal_zone0/temp", 45500);
  fs.write("sys/class/thermal/thermal_zone1/type", "GPU-therm");
  fs.write("sys/class/thermal/thermal_zone1/temp", 70000);
  fs.write("sys/class/thermal/thermal_zone2/type", "x86_pkg_temp");
  fs.write("sys/class/thermal/thermal_zone2/temp", 51000);
  fs.write("sys/class/thermal/thermal_zone3/type", "cpu-thermal");
  fs.unreadable("sys/class/thermal/thermal_zone3/temp");  // a sensor that is off
  fs.write("sys/class/thermal/thermal_zone4/type", "acpitz");
  fs.write("sys/class/thermal/thermal_zone4/temp", 90000);

  DeviceSensors sensors(fs.root());
  ASSERT_TRUE(sensors.has_cpu_temperature());
  EXPECT_DOUBLE_EQ(*sensors.max_cpu_temp_c(), 51.0);
  fs.write("sys/class/thermal/thermal_zone0/temp", 66250);
  EXPECT_DOUBLE_EQ(*sensors.max_cpu_temp_c(), 66.25);
  EXPECT_TRUE(contains(sensors.describe(), "thermal_zone0/temp"));
  EXPECT_FALSE(contains(sensors.describe(), "thermal_zone1"));
}

TEST(DeviceSensorsTest, ReadsJetsonGpuLoadInPerMille) {
  FakeSysfs fs("gpu-load");
  fs.write("sys/devices/gpu.0/load", 345);
  DeviceSensors sensors(fs.root());
  ASSERT_TRUE(sensors.has_gpu_load());
  EXPECT_DOUBLE_EQ(*sensors.gpu_util_percent(), 34.5);

  FakeSysfs platform("gpu-load-platform");
  platform.write("sys/devices/platform/gpu.0/load", 1000);
  EXPECT_DOUBLE_EQ(*DeviceSensors(platform.root()).gpu_util_percent(), 100.0);
}

TEST(DeviceSensorsTest, ReadsCpuUseFromProcStat) {
  FakeSysfs fs("proc-stat");
  fs.write("proc/stat",
           "cpu  100 0 50 800 50 0 0 0 0 0\n"
           "cpu0 50 0 25 400 25 0 0 0 0 0\n"
           "intr 12345\n");
  DeviceSensors sensors(fs.root());
  ASSERT_TRUE(sensors.has_cpu_times());
  std::optional<CpuTimes> begin = sensors.cpu_times();
  ASSERT_TRUE(begin.has_value());
  EXPECT_EQ(begin->total, 1000u);
  EXPECT_EQ(begin->busy, 150u);  // idle and iowait are not busy

  // +150 busy (user 100, system 50), +50 idle: 75 % busy.
  fs.write("proc/stat", "cpu  200 0 100 850 50 0 0 0 0 0\n");
  std::optional<CpuTimes> end = sensors.cpu_times();
  ASSERT_TRUE(end.has_value());
  EXPECT_DOUBLE_EQ(*cpu_util_percent(*begin, *end), 75.0);
  EXPECT_FALSE(cpu_util_percent(*end, *end).has_value());  // no tick passed
}

TEST(DeviceSensorsTest, AnEmptyTreeHasNothing) {
  FakeSysfs fs("sensors-none");
  fs.write("proc/stat", "garbage\n");
  DeviceSensors sensors(fs.root());
  EXPECT_FALSE(sensors.has_cpu_times());
  EXPECT_FALSE(sensors.has_gpu_load());
  EXPECT_FALSE(sensors.has_cpu_temperature());
  EXPECT_FALSE(sensors.cpu_times().has_value());
  EXPECT_FALSE(sensors.gpu_util_percent().has_value());
  EXPECT_FALSE(sensors.max_cpu_temp_c().has_value());
}

// Not a check: prints what this machine offers, so a test log shows it.
TEST(PowerThisMachineTest, PrintsWhatItDetects) {
  DetectedPower found = detect_power_source("/");
  DeviceSensors sensors("/");
  std::cout << "power source: "
            << (found.source ? found.source->name() : "none (" + found.reason + ")") << "\n"
            << "sensors: " << sensors.describe() << "\n";
  if (found.source) {
    Result<PowerSample> sample = found.source->read();
    EXPECT_TRUE(sample.ok()) << sample.status();
  }
}

}  // namespace
}  // namespace pollen
