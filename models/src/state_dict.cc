#include "pollen/models/state_dict.h"

#include <torch/script.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <utility>
#include <vector>

namespace pollen {

// .npy data is little-endian and tensor memory is native: the bytes are
// copied as they are, which is only right on little-endian hosts.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "Pollen needs a little-endian host");

namespace {

struct Entry {
  std::string name;
  torch::Tensor tensor;
  bool is_parameter = false;
};

// Module.state_dict()'s walk: own parameters, own buffers, then children.
// named_parameters()/named_buffers() with recurse=true would list every
// parameter before any buffer, so each module is visited by hand. Both skip
// None slots, as state_dict() does.
void collect_entries(const torch::jit::Module& module, const std::string& prefix,
                     std::vector<Entry>* out) {
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

std::optional<DType> npy_dtype(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Half:
      return DType::kFloat16;
    case c10::ScalarType::Float:
      return DType::kFloat32;
    case c10::ScalarType::Double:
      return DType::kFloat64;
    case c10::ScalarType::Char:
      return DType::kInt8;
    case c10::ScalarType::Short:
      return DType::kInt16;
    case c10::ScalarType::Int:
      return DType::kInt32;
    case c10::ScalarType::Long:
      return DType::kInt64;
    case c10::ScalarType::Byte:
      return DType::kUInt8;
    case c10::ScalarType::Bool:
      return DType::kBool;
    default:
      return std::nullopt;
  }
}

// Copies the tensor's elements once, straight into the .npy buffer.
// contiguous() returns the tensor itself when it already is (no copy).
Result<Array> to_array(const torch::Tensor& tensor) {
  if (tensor.layout() != c10::kStrided) {
    return invalid_argument("tensor is not dense (layout " + c10::str(tensor.layout()) + ")");
  }
  std::optional<DType> dtype = npy_dtype(tensor.scalar_type());
  if (!dtype) {
    return unimplemented(std::string("dtype ") + c10::toString(tensor.scalar_type()) +
                         " has no .npy form Flower can carry (supported: float16/32/64, "
                         "int8/16/32/64, uint8, bool); convert the model before export");
  }
  const torch::Tensor dense = tensor.detach().cpu().contiguous();
  const std::vector<int64_t> shape(dense.sizes().begin(), dense.sizes().end());
  return Array::from_elements(*dtype, shape, dense.data_ptr(), dense.nbytes());
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

// LibTorch errors carry a C++ backtrace in what(); users need the message.
std::string exception_message(const std::exception& e) {
  if (const auto* error = dynamic_cast<const c10::Error*>(&e)) {
    return error->what_without_backtrace();
  }
  return e.what();
}

Result<torch::jit::Module> load_module(const std::string& path) {
  try {
    return torch::jit::load(path, torch::kCPU);
  } catch (const std::exception& e) {
    return invalid_argument(
        "model file '" + path +
        "' is not a TorchScript file LibTorch can load: " + exception_message(e));
  } catch (...) {
    return invalid_argument("model file '" + path +
                            "' is not a TorchScript file LibTorch can load");
  }
}

Result<ArrayRecord> to_record(const std::vector<Entry>& entries) {
  ArrayRecord record;
  for (const Entry& entry : entries) {
    Result<Array> array = to_array(entry.tensor);
    if (!array.ok()) return array.status().with_context("tensor '" + entry.name + "'");
    record.set(entry.name, std::move(array).value());
  }
  return record;
}

Result<ArrayRecord> convert(const torch::jit::Module& module) {
  std::vector<Entry> entries;
  collect_entries(module, "", &entries);
  const bool has_parameters =
      std::any_of(entries.begin(), entries.end(), [](const Entry& e) { return e.is_parameter; });
  if (!has_parameters) return invalid_argument("the model has no parameters, nothing to train");
  return to_record(entries);
}

}  // namespace

Result<ArrayRecord> load_state_dict(const std::string& path) {
  POLLEN_RETURN_IF_ERROR(check_readable(path));
  POLLEN_ASSIGN_OR_RETURN(torch::jit::Module module, load_module(path));
  try {
    Result<ArrayRecord> record = convert(module);
    if (!record.ok()) return record.status().with_context("model file '" + path + "'");
    return record;
  } catch (const std::exception& e) {
    return internal_error("model file '" + path + "': " + exception_message(e));
  } catch (...) {
    return internal_error("model file '" + path + "': unknown error while reading tensors");
  }
}

}  // namespace pollen
