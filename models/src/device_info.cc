#include "device_info.h"

#include <dlfcn.h>

#include <fstream>

namespace pollen {

namespace {

std::string trim(const std::string& s) {
  const size_t begin = s.find_first_not_of(" \t");
  const size_t end = s.find_last_not_of(" \t\r\n");
  return begin == std::string::npos ? "" : s.substr(begin, end - begin + 1);
}

}  // namespace

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::string fallback;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = trim(line.substr(0, colon));
    if (key == "model name") return trim(line.substr(colon + 1));
    if ((key == "Hardware" || key == "Model") && fallback.empty()) {
      fallback = trim(line.substr(colon + 1));
    }
  }
  return fallback;
}

std::string board_model() {
  std::ifstream in("/proc/device-tree/model");
  std::string model;
  std::getline(in, model, '\0');
  return trim(model);
}

std::optional<GpuInfo> gpu_info(int index) {
  // The driver API's C ABI, stable across CUDA versions.
  using Init = int (*)(unsigned);
  using Get = int (*)(int*, int);
  using Name = int (*)(char*, int, int);
  using TotalMem = int (*)(size_t*, int);
  void* lib = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (lib == nullptr) return std::nullopt;
  auto init = reinterpret_cast<Init>(dlsym(lib, "cuInit"));
  auto get = reinterpret_cast<Get>(dlsym(lib, "cuDeviceGet"));
  auto name = reinterpret_cast<Name>(dlsym(lib, "cuDeviceGetName"));
  auto total = reinterpret_cast<TotalMem>(dlsym(lib, "cuDeviceTotalMem_v2"));
  std::optional<GpuInfo> info;
  int device = 0;
  char text[256] = {};
  size_t bytes = 0;
  if (init && get && name && total && init(0) == 0 && get(&device, index) == 0 &&
      name(text, sizeof(text) - 1, device) == 0 && total(&bytes, device) == 0) {
    info = GpuInfo{text, static_cast<int64_t>(bytes)};
  }
  dlclose(lib);
  return info;
}

}  // namespace pollen
