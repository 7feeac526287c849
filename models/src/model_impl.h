// Private to models/: the LibTorch state behind a Model, for the other
// sources of this component (the trainer and evaluator use the module and
// device directly). Includes LibTorch; never include it from a public header.
#ifndef POLLEN_MODELS_SRC_MODEL_IMPL_H_
#define POLLEN_MODELS_SRC_MODEL_IMPL_H_

#include <torch/script.h>

#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "pollen/models/model.h"

namespace pollen {

struct Model::Impl {
  Impl(torch::jit::Module m, torch::Device d, std::string p)
      : module(std::move(m)), device(d), path(std::move(p)) {}

  torch::jit::Module module;  // already on `device`
  torch::Device device;
  std::string path;  // the file it came from, for error messages
};

// One state_dict entry. `tensor` shares storage with the module's slot, so
// writing into it (under NoGradGuard) changes the model.
struct StateEntry {
  std::string name;
  torch::Tensor tensor;
  bool is_parameter = false;
};

// Module.state_dict()'s walk: own parameters, own buffers, then children in
// registration order, names joined with '.'; None slots skipped.
std::vector<StateEntry> state_entries(const torch::jit::Module& module);

// LibTorch errors carry a C++ backtrace in what(); users need the message.
std::string exception_message(const std::exception& e);

// Runs `body` (returning a Status or Result), turning any exception that
// escapes LibTorch into INTERNAL naming the model file: no exception leaves
// models/.
template <typename F>
auto guarded(const std::string& path, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::exception& e) {
    return internal_error("model file '" + path + "': " + exception_message(e));
  } catch (...) {
    return internal_error("model file '" + path + "': unknown LibTorch error");
  }
}

}  // namespace pollen

#endif  // POLLEN_MODELS_SRC_MODEL_IMPL_H_
