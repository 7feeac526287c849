// Facts about the machine a query reply reports, read without LibTorch.
#ifndef POLLEN_MODELS_SRC_DEVICE_INFO_H_
#define POLLEN_MODELS_SRC_DEVICE_INFO_H_

#include <cstdint>
#include <optional>
#include <string>

namespace pollen {

// /proc/cpuinfo's "model name" (x86) or "Hardware"/"Model" (ARM); "" if none.
std::string cpu_model();

// The board's name from the device tree ("NVIDIA Jetson AGX Orin Developer
// Kit"); "" where there is none (most x86 machines).
std::string board_model();

struct GpuInfo {
  std::string name;
  int64_t memory_bytes = 0;
};

// CUDA device `index` as the driver names it, through libcuda.so.1 loaded at
// run time (so CPU-only builds need no CUDA headers); nullopt without a
// driver or device.
std::optional<GpuInfo> gpu_info(int index);

}  // namespace pollen

#endif  // POLLEN_MODELS_SRC_DEVICE_INFO_H_
