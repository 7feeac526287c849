// Tensor files written by Python's torch.save({"x": X, "y": Y}), read with
// LibTorch's unpickler (torch::jit::pickle_load, present in 1.13 and 2.x).
#include <torch/script.h>

#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dataset_internal.h"

namespace pollen::internal {
namespace {

bool is_integer_type(c10::ScalarType type) {
  return c10::isIntegralType(type, /*includeBool=*/false);
}

bool is_supported_x(c10::ScalarType type) {
  return is_integer_type(type) || c10::isFloatingType(type);
}

// Flattens `tensor` (already checked: dense, at least one dimension) into
// float32 elements, one copy.
std::vector<float> to_floats(const torch::Tensor& tensor) {
  torch::Tensor flat = tensor.to(torch::kCPU).to(torch::kFloat).contiguous();
  const float* begin = flat.data_ptr<float>();
  return std::vector<float>(begin, begin + flat.numel());
}

std::vector<int64_t> sample_shape(const torch::Tensor& tensor) {
  return std::vector<int64_t>(tensor.sizes().begin() + 1, tensor.sizes().end());
}

// Finds the tensor stored under `key`; errors say what was expected.
Result<torch::Tensor> entry(const c10::impl::GenericDict& dict, const std::string& key,
                            const std::string& path) {
  for (const auto& item : dict) {
    if (!item.key().isString() || item.key().toStringRef() != key) continue;
    if (!item.value().isTensor()) {
      return invalid_argument("'" + path + "': \"" + key + "\" is a " + item.value().tagKind() +
                              ", not a tensor");
    }
    torch::Tensor tensor = item.value().toTensor();
    if (tensor.layout() != c10::kStrided) {
      return invalid_argument("'" + path + "': \"" + key + "\" is not a dense tensor");
    }
    if (tensor.dim() == 0) {
      return invalid_argument("'" + path + "': \"" + key +
                              "\" is a scalar; it needs one row per sample");
    }
    return tensor;
  }
  return invalid_argument("'" + path + "': the dict has no \"" + key +
                          "\" tensor (write torch.save({\"x\": X, \"y\": Y}))");
}

Result<DenseData> to_dense(const c10::IValue& value, const std::string& path) {
  if (!value.isGenericDict()) {
    return invalid_argument("'" + path + "': holds a " + value.tagKind() +
                            ", not a dict {\"x\": X, \"y\": Y}");
  }
  const c10::impl::GenericDict dict = value.toGenericDict();
  POLLEN_ASSIGN_OR_RETURN(torch::Tensor x, entry(dict, "x", path));
  POLLEN_ASSIGN_OR_RETURN(torch::Tensor y, entry(dict, "y", path));
  if (!is_supported_x(x.scalar_type())) {
    return unimplemented("'" + path + "': x has dtype " + c10::toString(x.scalar_type()) +
                         "; supported are floating and integer types");
  }
  const bool y_integer = is_integer_type(y.scalar_type());
  if (!y_integer && !c10::isFloatingType(y.scalar_type())) {
    return unimplemented("'" + path + "': y has dtype " + c10::toString(y.scalar_type()) +
                         "; supported are integer (classes) and floating (regression) types");
  }
  if (x.size(0) != y.size(0)) {
    return invalid_argument("'" + path + "': x has " + std::to_string(x.size(0)) +
                            " samples but y has " + std::to_string(y.size(0)));
  }
  DenseData data;
  data.size = static_cast<size_t>(x.size(0));
  data.x_shape = sample_shape(x);
  data.y_shape = sample_shape(y);
  data.labels_are_classes = y_integer;
  data.x = to_floats(x);
  data.y = to_floats(y);
  return data;
}

// The unpickler's messages alone ("Unknown opcode for unpickling at 0x73")
// do not tell the user what to write instead. LibTorch 1.13 also fails that
// way on a one-entry dict (pickled with SETITEM), e.g. {"x": X} alone.
Status not_torch_save(const std::string& path, const std::string& why) {
  const bool opcode = why.find("Unknown opcode") != std::string::npos;
  return invalid_argument(
      "'" + path + "': cannot read as torch.save({\"x\": X, \"y\": Y}): " + why +
      (opcode ? " (a dict with one entry, such as {\"x\": X} without \"y\", reads this way; "
                "save both tensors)"
              : ""));
}

}  // namespace

Result<std::unique_ptr<Dataset>> read_pt_dataset(const std::string& path,
                                                 const DataOptions& options) {
  POLLEN_ASSIGN_OR_RETURN(std::string bytes, read_data_file(path));
  std::optional<DenseData> data;
  try {
    c10::IValue value = torch::jit::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
    POLLEN_ASSIGN_OR_RETURN(data, to_dense(value, path));
  } catch (const c10::Error& e) {
    return not_torch_save(path, e.what_without_backtrace());
  } catch (const std::exception& e) {
    return not_torch_save(path, e.what());
  }
  return make_dense_dataset(std::move(*data), path, options);
}

}  // namespace pollen::internal
