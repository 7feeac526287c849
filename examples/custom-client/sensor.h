// A simulated machine-condition sensor: an accelerometer on a motor bearing
// (1 kHz) and a temperature probe next to it. Each reading window of 256
// vibration samples and 16 temperature samples is reduced on the device to
// kNumFeatures numbers, the way a condition-monitoring node would before
// anything leaves it.
//
// Everything is a function of (device seed, window index): the same seed
// gives the same stream on every run and every machine, and windows can be
// made in any order. Devices differ as real ones do: sensor gain, ambient
// temperature, shaft speed and how often their bearing is worn or faulty.
//
// No Pollen and no LibTorch here; both programs of this example use it.
#ifndef CUSTOM_CLIENT_SENSOR_H_
#define CUSTOM_CLIENT_SENSOR_H_

#include <array>
#include <cstdint>

namespace sensor {

inline constexpr int kNumFeatures = 8;
inline constexpr int kNumClasses = 3;

// Feature order of Window::features, each scaled to be of order 1:
//   vib_rms     RMS acceleration, g
//   vib_peak    largest |acceleration|, g / 4
//   crest       peak / RMS, / 5
//   kurtosis    4th standardized moment, / 3 (a sine is 0.5, impacts raise it)
//   hf_ratio    RMS of the first difference / RMS (high-frequency content)
//   harmonic    amplitude at 2x shaft speed / amplitude at shaft speed
//   temp        mean temperature, (celsius - 50) / 10
//   temp_slope  temperature change over the window, celsius / 2
enum Feature { kVibRms, kVibPeak, kCrest, kKurtosis, kHfRatio, kHarmonic, kTemp, kTempSlope };
extern const char* const kFeatureNames[kNumFeatures];

// Feature kTemp back in celsius.
inline double celsius(double temp_feature) { return temp_feature * 10 + 50; }

extern const char* const kClassNames[kNumClasses];  // normal, worn, faulty

struct Window {
  std::array<float, kNumFeatures> features{};
  int label = 0;  // index into kClassNames
};

class Sensor {
 public:
  explicit Sensor(uint64_t device_seed);

  // Window `index` of this device's stream.
  Window window(uint64_t index) const;

 private:
  uint64_t seed_;
  double gain_;      // accelerometer mounting and calibration
  double ambient_;   // celsius
  double shaft_hz_;  // motor speed
  double p_worn_;    // how often a window shows a worn bearing ...
  double p_faulty_;  // ... or a faulty one
};

}  // namespace sensor

#endif  // CUSTOM_CLIENT_SENSOR_H_
