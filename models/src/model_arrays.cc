#include "model_arrays.h"

#include <cstring>
#include <limits>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

namespace pollen {

// .npy data is little-endian and tensor memory is native: the bytes are
// copied as they are, which is only right on little-endian hosts.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "Pollen needs a little-endian host");

namespace {

std::optional<DType> npy_type(c10::ScalarType type) {
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

// The tensor dtype an array of `dtype` is read as. LibTorch 1.13 has no
// uint16/32/64, and no weight of a real-valued model is complex.
Result<c10::ScalarType> torch_type(DType dtype) {
  switch (dtype) {
    case DType::kBool:
      return c10::ScalarType::Bool;
    case DType::kInt8:
      return c10::ScalarType::Char;
    case DType::kInt16:
      return c10::ScalarType::Short;
    case DType::kInt32:
      return c10::ScalarType::Int;
    case DType::kInt64:
      return c10::ScalarType::Long;
    case DType::kUInt8:
      return c10::ScalarType::Byte;
    case DType::kFloat16:
      return c10::ScalarType::Half;
    case DType::kFloat32:
      return c10::ScalarType::Float;
    case DType::kFloat64:
      return c10::ScalarType::Double;
    case DType::kUInt16:
    case DType::kUInt32:
    case DType::kUInt64:
      return unimplemented("dtype " + std::string(dtype_name(dtype)) +
                           " has no LibTorch counterpart; send int64 or float64");
    case DType::kComplex64:
    case DType::kComplex128:
      break;
  }
  return invalid_argument("dtype " + std::string(dtype_name(dtype)) +
                          " is complex; model weights are real numbers");
}

std::string shape_string(c10::IntArrayRef shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + (shape.size() == 1 ? ",)" : ")");
}

std::string number(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

// The first element of `values` (double) where `mask` is true.
std::string first_of(const torch::Tensor& values, const torch::Tensor& mask) {
  return number(values.masked_select(mask)[0].item<double>());
}

double float_max(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Half:
      return static_cast<double>(std::numeric_limits<c10::Half>::max());
    case c10::ScalarType::BFloat16:
      return static_cast<double>(std::numeric_limits<c10::BFloat16>::max());
    case c10::ScalarType::Float:
      return std::numeric_limits<float>::max();
    default:
      return std::numeric_limits<double>::max();
  }
}

// [lo, hi] of an integer dtype.
std::pair<int64_t, int64_t> int_range(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Char:
      return {std::numeric_limits<int8_t>::min(), std::numeric_limits<int8_t>::max()};
    case c10::ScalarType::Short:
      return {std::numeric_limits<int16_t>::min(), std::numeric_limits<int16_t>::max()};
    case c10::ScalarType::Int:
      return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    case c10::ScalarType::Byte:
      return {0, std::numeric_limits<uint8_t>::max()};
    default:
      return {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  }
}

// `src` (CPU) converted to `target`, refusing values `target` cannot hold.
// FedAvg multiplies every array by a Python float, so integer and bool
// buffers come back as float64 holding (nearly) whole numbers: those are
// rounded rather than truncated, so 99.99999999 becomes 100.
Result<torch::Tensor> convert_checked(const torch::Tensor& src, c10::ScalarType target) {
  const c10::ScalarType source = src.scalar_type();
  if (source == target) return src;
  const std::string into = "a " + tensor_dtype_name(target) + " tensor";
  if (c10::isFloatingType(target)) {
    if (target != c10::ScalarType::Double) {
      const torch::Tensor d = src.to(torch::kDouble);
      const torch::Tensor too_big = d.isfinite().logical_and(d.abs() > float_max(target));
      if (too_big.any().item<bool>()) {
        return out_of_range("value " + first_of(d, too_big) + " overflows " + into);
      }
    }
    return src.to(target);
  }
  torch::Tensor values = src;
  if (c10::isFloatingType(source)) {
    const torch::Tensor d = src.to(torch::kDouble);
    const torch::Tensor not_finite = d.isfinite().logical_not();
    if (not_finite.any().item<bool>()) {
      return invalid_argument("value " + first_of(d, not_finite) + " cannot be stored in " + into);
    }
    values = d.round();  // ties to even, as numpy.rint
  }
  if (target == c10::ScalarType::Bool) return values.ne(0);
  const auto [lo, hi] = int_range(target);
  torch::Tensor outside;
  if (c10::isFloatingType(values.scalar_type())) {
    // hi + 1 in double is exact (a power of two) even for int64.
    outside =
        (values < static_cast<double>(lo)).logical_or(values >= static_cast<double>(hi) + 1.0);
  } else {
    const torch::Tensor l = values.to(torch::kLong);
    outside = (l < lo).logical_or(l > hi);
  }
  if (outside.any().item<bool>()) {
    return out_of_range("value " + first_of(values.to(torch::kDouble), outside) +
                        " is out of range for " + into);
  }
  return values.to(target);
}

Status check_shape(c10::IntArrayRef received, c10::IntArrayRef expected) {
  if (received.equals(expected)) return Status::Ok();
  return invalid_argument("shape " + shape_string(received) + " does not match the model's " +
                          shape_string(expected));
}

// Writes `tensor` into a new .npy buffer of `dtype` (the tensor dtype
// `target`): one copy, device to host and dtype conversion included.
Result<Array> write_npy(const torch::Tensor& tensor, DType dtype, c10::ScalarType target) {
  if (tensor.layout() != c10::kStrided) {
    return invalid_argument("tensor is not dense (layout " + c10::str(tensor.layout()) + ")");
  }
  const std::vector<int64_t> shape(tensor.sizes().begin(), tensor.sizes().end());
  POLLEN_ASSIGN_OR_RETURN(std::string header, npy_header(dtype, shape));
  const size_t nbytes = static_cast<size_t>(tensor.numel()) * dtype_itemsize(dtype);
  std::string npy(header.size() + nbytes, '\0');
  std::memcpy(npy.data(), header.data(), header.size());
  if (nbytes > 0) {
    // The header is a multiple of 64 bytes and the buffer comes from
    // operator new, so the element data is aligned for every dtype.
    torch::Tensor out =
        torch::from_blob(npy.data() + header.size(), shape, torch::TensorOptions().dtype(target));
    out.copy_(tensor.detach());
  }
  return Array::from_npy(Bytes(std::move(npy)));
}

}  // namespace

std::string tensor_dtype_name(c10::ScalarType type) {
  if (std::optional<DType> dtype = npy_type(type)) return std::string(dtype_name(*dtype));
  return c10::toString(type);
}

Result<Array> encode_tensor(const torch::Tensor& tensor) {
  std::optional<DType> dtype = npy_type(tensor.scalar_type());
  if (!dtype) {
    return unimplemented(std::string("dtype ") + c10::toString(tensor.scalar_type()) +
                         " has no .npy form Flower can carry (supported: float16/32/64, "
                         "int8/16/32/64, uint8, bool); convert the model before export");
  }
  return write_npy(tensor, *dtype, tensor.scalar_type());
}

Result<torch::Tensor> decode_for(const Array& array, c10::ScalarType target,
                                 c10::IntArrayRef shape) {
  POLLEN_ASSIGN_OR_RETURN(NpyArray npy, array.to_npy());
  POLLEN_ASSIGN_OR_RETURN(c10::ScalarType source, torch_type(npy.dtype));
  POLLEN_RETURN_IF_ERROR(check_shape(npy.shape, shape));
  // Integers cannot carry a floating-point parameter: every weight would be
  // truncated (usually to 0) and the model lost without a word.
  if (c10::isFloatingType(target) && !c10::isFloatingType(source)) {
    return invalid_argument("dtype " + std::string(dtype_name(npy.dtype)) +
                            " cannot carry the values of the model's " + tensor_dtype_name(target) +
                            " tensor; send it as a floating-point array");
  }
  torch::Tensor src = torch::empty(npy.shape, torch::TensorOptions().dtype(source));
  // memcpy, not from_blob: received data may sit at any offset of a buffer.
  if (!npy.data.empty()) std::memcpy(src.data_ptr(), npy.data.data(), npy.data.size());
  if (c10::isFloatingType(source)) {
    // NaN or Inf in a received model is a diverged aggregate; training on it
    // would only send it back as a success.
    const torch::Tensor not_finite = src.isfinite().logical_not();
    if (not_finite.any().item<bool>()) {
      return invalid_argument(
          "value " + first_of(src.to(torch::kDouble), not_finite) + " is not finite (" +
          std::to_string(not_finite.sum().item<int64_t>()) + " of " + std::to_string(src.numel()) +
          " values); a model with NaN or Inf is refused, not trained on");
    }
  }
  return convert_checked(src, target);
}

Result<Array> encode_like(const torch::Tensor& tensor, const Array& received) {
  if (received.stype != kNumpyStype) {
    return invalid_argument("stype '" + received.stype + "' is not '" + std::string(kNumpyStype) +
                            "'");
  }
  POLLEN_ASSIGN_OR_RETURN(NpyHeader header, parse_npy_header(received.data.view()));
  POLLEN_ASSIGN_OR_RETURN(c10::ScalarType target, torch_type(header.dtype));
  POLLEN_RETURN_IF_ERROR(check_shape(header.shape, tensor.sizes()));
  torch::Tensor source = tensor;
  if (c10::isIntegralType(target, /*includeBool=*/true) && tensor.scalar_type() != target) {
    POLLEN_ASSIGN_OR_RETURN(source, convert_checked(tensor.detach().to(torch::kCPU), target));
  }
  POLLEN_ASSIGN_OR_RETURN(Array array, write_npy(source, header.dtype, target));
  if (received.dtype.empty()) {  // legacy strategies: answer in their form
    array.dtype.clear();
    array.shape.clear();
  }
  return array;
}

}  // namespace pollen
