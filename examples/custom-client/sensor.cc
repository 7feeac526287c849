#include "sensor.h"

#include <algorithm>
#include <cmath>
#include <complex>

namespace sensor {

const char* const kFeatureNames[kNumFeatures] = {"vib_rms",  "vib_peak", "crest", "kurtosis",
                                                 "hf_ratio", "harmonic", "temp",  "temp_slope"};
const char* const kClassNames[kNumClasses] = {"normal", "worn", "faulty"};

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kVibrationSamples = 256;  // at 1 kHz
constexpr double kSampleRate = 1000.0;
constexpr int kTemperatureSamples = 16;  // over the reporting period

// SplitMix64: small, fast and the same on every platform (unlike the
// distributions of <random>, whose output the standard leaves open).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal(double mean = 0, double stddev = 1) {  // Box-Muller
    const double u1 = (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53;
    const double u2 = uniform();
    return mean + stddev * std::sqrt(-2 * std::log(u1)) * std::cos(2 * kPi * u2);
  }

 private:
  uint64_t state_;
};

// Amplitude of the component at `hz` (a single-bin DFT).
double amplitude_at(const std::array<double, kVibrationSamples>& x, double hz) {
  std::complex<double> sum = 0;
  for (int k = 0; k < kVibrationSamples; ++k) {
    sum += x[k] * std::polar(1.0, -2 * kPi * hz * k / kSampleRate);
  }
  return 2 * std::abs(sum) / kVibrationSamples;
}

}  // namespace

Sensor::Sensor(uint64_t device_seed) : seed_(device_seed) {
  Rng rng(device_seed * 0xD1B54A32D192ED03ULL + 1);
  gain_ = rng.uniform(0.8, 1.2);
  ambient_ = rng.uniform(18, 32);
  shaft_hz_ = rng.uniform(20, 40);
  p_worn_ = rng.uniform(0.15, 0.40);
  p_faulty_ = rng.uniform(0.05, 0.20);
}

Window Sensor::window(uint64_t index) const {
  Rng seeder(seed_ ^ (index * 0x9E3779B97F4A7C15ULL));
  Rng rng(seeder.next());
  Window w;
  const double draw = rng.uniform();
  w.label = draw < p_faulty_ ? 2 : draw < p_faulty_ + p_worn_ ? 1 : 0;
  const double severity = w.label == 0 ? 0.0 : rng.uniform(0.3, 1.0);

  // Vibration: shaft frequency and harmonics; wear raises the harmonics and
  // the noise floor, a bearing defect adds decaying impacts at its
  // characteristic frequency (3.58x shaft speed here) ringing at 280 Hz.
  const double f = shaft_hz_ * (1 + rng.normal(0, 0.01));
  const double phase = rng.uniform(0, 2 * kPi);
  double a1 = 0.5, a2 = 0.04, a3 = 0.02, noise = 0.04, impact = 0;
  if (w.label == 1) {
    a1 = 0.55, a2 = 0.08 + 0.22 * severity, a3 = 0.03 + 0.10 * severity;
    noise = 0.05 + 0.06 * severity;
  } else if (w.label == 2) {
    a1 = 0.55, a2 = 0.06 + 0.10 * severity, noise = 0.06 + 0.04 * severity;
    impact = 0.6 + 1.2 * severity;
  }
  const double defect_period = 1 / (3.58 * f);
  const double impact_offset = rng.uniform(0, defect_period);
  std::array<double, kVibrationSamples> x{};
  for (int k = 0; k < kVibrationSamples; ++k) {
    const double t = k / kSampleRate;
    double v = a1 * std::sin(2 * kPi * f * t + phase) + a2 * std::sin(4 * kPi * f * t + 2 * phase) +
               a3 * std::sin(6 * kPi * f * t + 3 * phase) + rng.normal(0, noise);
    if (impact > 0) {
      const double since = std::fmod(t + defect_period - impact_offset, defect_period);
      v += impact * std::exp(-since / 0.003) * std::sin(2 * kPi * 280 * since);
    }
    x[k] = gain_ * v;
  }

  double mean = 0;
  for (double v : x) mean += v;
  mean /= kVibrationSamples;
  double m2 = 0, m4 = 0, peak = 0, diff2 = 0;
  for (int k = 0; k < kVibrationSamples; ++k) {
    const double d = x[k] - mean;
    m2 += d * d;
    m4 += d * d * d * d;
    peak = std::max(peak, std::abs(x[k]));
    if (k > 0) diff2 += (x[k] - x[k - 1]) * (x[k] - x[k - 1]);
  }
  m2 /= kVibrationSamples;
  m4 /= kVibrationSamples;
  const double rms = std::sqrt(m2);
  const double hf = std::sqrt(diff2 / (kVibrationSamples - 1));

  // Temperature: ambient plus operating heat; a worn or faulty bearing runs
  // hotter and keeps heating up.
  const double heat = 12 + (w.label == 1 ? 4 * severity : w.label == 2 ? 9 * severity : 0);
  const double drift = w.label == 0   ? rng.normal(0, 0.3)
                       : w.label == 1 ? rng.normal(0.3 * severity, 0.3)
                                      : rng.normal(1.0 * severity, 0.4);
  const double level = ambient_ + heat + rng.normal(0, 0.8);
  double t_mean = 0, slope_num = 0, slope_den = 0;
  std::array<double, kTemperatureSamples> temp{};
  for (int j = 0; j < kTemperatureSamples; ++j) {
    const double pos = static_cast<double>(j) / (kTemperatureSamples - 1) - 0.5;
    temp[j] = level + drift * pos + rng.normal(0, 0.15);
    t_mean += temp[j];
  }
  t_mean /= kTemperatureSamples;
  for (int j = 0; j < kTemperatureSamples; ++j) {
    const double pos = static_cast<double>(j) / (kTemperatureSamples - 1) - 0.5;
    slope_num += pos * (temp[j] - t_mean);
    slope_den += pos * pos;
  }

  w.features = {static_cast<float>(rms),
                static_cast<float>(peak / 4),
                static_cast<float>(peak / rms / 5),
                static_cast<float>(m4 / (m2 * m2) / 3),
                static_cast<float>(hf / rms),
                static_cast<float>(amplitude_at(x, 2 * shaft_hz_) / amplitude_at(x, shaft_hz_)),
                static_cast<float>((t_mean - 50) / 10),
                static_cast<float>(slope_num / slope_den / 2)};
  return w;
}

}  // namespace sensor
