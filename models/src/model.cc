#include "pollen/models/model.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/version.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_map>
#include <utility>

#include "model_arrays.h"
#include "model_impl.h"

namespace pollen {
namespace {

void collect_entries(const torch::jit::Module& module, const std::string& prefix,
                     std::vector<StateEntry>* out) {
  // named_parameters()/named_buffers() with recurse=true would list every
  // parameter before any buffer, so each module is visited by hand.
  for (const auto& p : module.named_parameters(/*recurse=*/false)) {
    out->push_back({prefix + p.name, p.value, true});
  }
  for (const auto& b : module.named_buffers(/*recurse=*/false)) {
    out->push_back({prefix + b.name, b.value, false});
  }
  for (const auto& child : module.named_children()) {
    collect_entries(child.value, prefix + child.name + ".", out);
  }
}

bool all_digits(const std::string& text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
}

Result<torch::Device> parse_device(const std::string& spec) {
  if (spec == "cpu") return torch::Device(torch::kCPU);
  if (spec == "auto") {
    return cuda_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  }
  int index = 0;
  if (spec.rfind("cuda:", 0) == 0) {
    const std::string digits = spec.substr(5);
    if (!all_digits(digits) || digits.size() > 4) {
      return invalid_argument("device '" + spec + "': expected auto, cpu, cuda or cuda:N");
    }
    index = std::stoi(digits);
  } else if (spec != "cuda") {
    return invalid_argument("device '" + spec + "': expected auto, cpu, cuda or cuda:N");
  }
  if (!cuda_available()) {
    return failed_precondition("device '" + spec +
                               "': CUDA is not available (no GPU visible, or LibTorch was "
                               "built without CUDA); use --device cpu");
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    return invalid_argument("device '" + spec + "': only " + std::to_string(count) +
                            " CUDA device(s) visible");
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

Status check_readable(const std::string& path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) return not_found("model file '" + path + "' not found");
  if (!std::filesystem::is_regular_file(status)) {
    return invalid_argument("model file '" + path + "' is not a regular file");
  }
  if (!std::ifstream(path, std::ios::binary)) {
    return failed_precondition("model file '" + path + "' cannot be read: " + std::strerror(errno));
  }
  return Status::Ok();
}

Result<torch::jit::Module> load_module(const std::string& path, torch::Device device) {
  try {
    return torch::jit::load(path, device);
  } catch (const std::exception& e) {
    return invalid_argument(
        "model file '" + path +
        "' is not a TorchScript file LibTorch can load: " + exception_message(e));
  } catch (...) {
    return invalid_argument("model file '" + path +
                            "' is not a TorchScript file LibTorch can load");
  }
}

std::string key_label(const std::string& key, const StateEntry& entry) {
  if (key == entry.name) return "array '" + key + "'";
  return "array '" + key + "' ('" + entry.name + "')";
}

std::string quoted(const std::string& text) { return "'" + text + "'"; }

// "'a', 'b' and 3 more": long enough to act on, short enough to read.
std::string join_list(const std::vector<std::string>& names) {
  std::string out;
  const size_t shown = std::min<size_t>(names.size(), 8);
  for (size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > shown) out += " and " + std::to_string(names.size() - shown) + " more";
  return out;
}

// For each item of `received`, in order, the index of its state entry.
// Keys are state_dict names, or the positions "0".."n-1" Flower gives a
// list of NumPy arrays.
Result<std::vector<size_t>> map_keys(const ArrayRecord& received,
                                     const std::vector<StateEntry>& entries) {
  std::unordered_map<std::string, size_t> by_name;
  for (size_t i = 0; i < entries.size(); ++i) by_name.emplace(entries[i].name, i);
  bool positional = !received.empty();
  for (const auto& item : received) {
    if (by_name.count(item.first) || !all_digits(item.first)) positional = false;
  }
  std::vector<size_t> indices;
  std::vector<std::string> extra;
  std::vector<std::string> missing;
  if (positional) {
    size_t position = 0;
    for (const auto& item : received) {
      if (item.first != std::to_string(position)) {
        return invalid_argument("positional keys must be '0'..'" +
                                std::to_string(entries.size() - 1) + "' in order; key '" +
                                item.first + "' is at position " + std::to_string(position));
      }
      if (position < entries.size()) {
        indices.push_back(position);
      } else {
        extra.push_back(quoted(item.first));
      }
      ++position;
    }
    for (size_t i = received.size(); i < entries.size(); ++i) {
      missing.push_back(quoted(std::to_string(i)) + " (" + quoted(entries[i].name) + ")");
    }
  } else {
    std::vector<bool> seen(entries.size(), false);
    for (const auto& item : received) {
      auto found = by_name.find(item.first);
      if (found == by_name.end()) {
        extra.push_back(quoted(item.first));
      } else {
        indices.push_back(found->second);
        seen[found->second] = true;
      }
    }
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!seen[i]) missing.push_back(quoted(entries[i].name));
    }
  }
  if (extra.empty() && missing.empty()) return indices;
  std::string message = "the arrays do not match the model's state_dict:";
  if (!extra.empty()) message += " unknown key(s) " + join_list(extra) + ";";
  if (!missing.empty()) message += " missing key(s) " + join_list(missing) + ";";
  message.pop_back();
  return invalid_argument(message);
}

}  // namespace

std::vector<StateEntry> state_entries(const torch::jit::Module& module) {
  std::vector<StateEntry> entries;
  collect_entries(module, "", &entries);
  return entries;
}

namespace {

// The interpreter prefixes the error with a traceback of the serialized
// TorchScript code, many lines that name generated files; the error itself
// is the last line ("RuntimeError: shape '[2, 1, 8, 8]' is invalid ...").
std::string without_script_traceback(const std::string& text) {
  if (text.find("Traceback of TorchScript") == std::string::npos) return text;
  size_t end = text.find_last_not_of(" \n");
  if (end == std::string::npos) return text;
  const size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1, end - start);
}

}  // namespace

std::string exception_message(const std::exception& e) {
  if (const auto* error = dynamic_cast<const c10::Error*>(&e)) {
    return without_script_traceback(error->what_without_backtrace());
  }
  return without_script_traceback(e.what());
}

std::string libtorch_version() { return TORCH_VERSION; }

bool cuda_available() {
  try {
    return torch::cuda::is_available();
  } catch (...) {
    return false;  // a broken driver counts as no GPU
  }
}

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

Result<std::unique_ptr<Model>> Model::load(const std::string& path, const ModelOptions& options) {
  if (options.threads < 0) {
    return invalid_argument("threads must be 0 (automatic) or positive, not " +
                            std::to_string(options.threads));
  }
  // LibTorch starts every thread asked for (100000 made about 6800 before
  // the process stalled), and more than the machine has only slows it down.
  const int cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (options.threads > cpus) {
    return invalid_argument("threads " + std::to_string(options.threads) + ": this machine has " +
                            std::to_string(cpus) + " logical CPUs; use at most " +
                            std::to_string(cpus) + " (0 picks one per physical core)");
  }
  POLLEN_ASSIGN_OR_RETURN(torch::Device device, parse_device(options.device));
  POLLEN_RETURN_IF_ERROR(check_readable(path));
  return guarded(path, [&]() -> Result<std::unique_ptr<Model>> {
    if (options.threads > 0) at::set_num_threads(options.threads);
    POLLEN_ASSIGN_OR_RETURN(torch::jit::Module module, load_module(path, device));
    bool trainable = false;
    for (const auto& p : module.named_parameters(/*recurse=*/true)) {
      trainable = trainable || p.value.requires_grad();
    }
    if (!trainable) {
      return invalid_argument("model file '" + path +
                              "': the model has no parameters with requires_grad, nothing "
                              "to train");
    }
    return std::unique_ptr<Model>(
        new Model(std::make_unique<Impl>(std::move(module), device, path)));
  });
}

std::string Model::device_name() const { return impl_->device.str(); }

Result<ArrayRecord> Model::state_dict() const {
  return guarded(impl_->path, [&]() -> Result<ArrayRecord> {
    ArrayRecord record;
    for (const StateEntry& entry : state_entries(impl_->module)) {
      Result<Array> array = encode_tensor(entry.tensor);
      if (!array.ok()) {
        return array.status().with_context("model file '" + impl_->path + "': tensor '" +
                                           entry.name + "'");
      }
      record.set(entry.name, std::move(array).value());
    }
    return record;
  });
}

Status Model::load_arrays(const ArrayRecord& received) {
  return guarded(impl_->path, [&]() -> Status {
    const std::vector<StateEntry> entries = state_entries(impl_->module);
    POLLEN_ASSIGN_OR_RETURN(std::vector<size_t> indices, map_keys(received, entries));
    // Every array is decoded and checked before the first tensor is written.
    std::vector<torch::Tensor> staged;
    staged.reserve(indices.size());
    size_t i = 0;
    for (const auto& item : received) {
      const StateEntry& entry = entries[indices[i++]];
      Result<torch::Tensor> tensor =
          decode_for(item.second, entry.tensor.scalar_type(), entry.tensor.sizes());
      if (!tensor.ok()) return tensor.status().with_context(key_label(item.first, entry));
      staged.push_back(std::move(tensor).value());
    }
    torch::NoGradGuard no_grad;
    for (size_t j = 0; j < staged.size(); ++j) entries[indices[j]].tensor.copy_(staged[j]);
    return Status::Ok();
  });
}

Result<ArrayRecord> Model::reply_arrays(const ArrayRecord& received) const {
  return guarded(impl_->path, [&]() -> Result<ArrayRecord> {
    const std::vector<StateEntry> entries = state_entries(impl_->module);
    POLLEN_ASSIGN_OR_RETURN(std::vector<size_t> indices, map_keys(received, entries));
    ArrayRecord reply;
    size_t i = 0;
    for (const auto& item : received) {
      const StateEntry& entry = entries[indices[i++]];
      Result<Array> array = encode_like(entry.tensor, item.second);
      if (!array.ok()) return array.status().with_context(key_label(item.first, entry));
      reply.set(item.first, std::move(array).value());
    }
    return reply;
  });
}

size_t Model::num_trainable_parameters(const std::vector<std::string>& prefixes) const {
  size_t count = 0;
  for (const StateEntry& entry : state_entries(impl_->module)) {
    if (!entry.is_parameter || !entry.tensor.requires_grad()) continue;
    const bool selected = prefixes.empty() ||
                          std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) {
                            return entry.name.rfind(p, 0) == 0;
                          });
    if (selected) count += static_cast<size_t>(entry.tensor.numel());
  }
  return count;
}

std::vector<std::string> Model::trainable_names() const {
  std::vector<std::string> names;
  for (const StateEntry& entry : state_entries(impl_->module)) {
    if (entry.is_parameter && entry.tensor.requires_grad()) names.push_back(entry.name);
  }
  return names;
}

}  // namespace pollen
