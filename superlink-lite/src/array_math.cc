#include "array_math.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

namespace pollen {

float half_to_float(uint16_t half) {
  const int sign = (half >> 15) & 1;
  const int exponent = (half >> 10) & 0x1f;
  const int mantissa = half & 0x3ff;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);  // zero or subnormal
  } else if (exponent == 31) {
    magnitude = mantissa == 0 ? std::numeric_limits<float>::infinity()
                              : std::numeric_limits<float>::quiet_NaN();
  } else {
    magnitude = std::ldexp(static_cast<float>(mantissa + 1024), exponent - 25);
  }
  return sign ? -magnitude : magnitude;
}

uint16_t float_to_half(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const uint32_t magnitude = bits & 0x7fffffff;
  if (magnitude >= 0x7f800000) {  // inf or NaN
    return sign | (magnitude > 0x7f800000 ? 0x7e00 : 0x7c00);
  }
  if (magnitude >= 0x477ff000) return sign | 0x7c00;  // rounds beyond 65504
  if (magnitude < 0x38800000) {                       // below 2^-14: subnormal half
    float abs_value;
    std::memcpy(&abs_value, &magnitude, sizeof(abs_value));
    return sign | static_cast<uint16_t>(std::nearbyint(abs_value * 16777216.0f));
  }
  // Rebias the exponent and round the 13 dropped mantissa bits to even.
  const uint32_t rounded = magnitude + 0xfff + ((magnitude >> 13) & 1);
  return sign | static_cast<uint16_t>((rounded - 0x38000000) >> 13);
}

bool is_integer_or_bool(DType dtype) {
  switch (dtype) {
    case DType::kFloat16:
    case DType::kFloat32:
    case DType::kFloat64:
    case DType::kComplex64:
    case DType::kComplex128:
      return false;
    default:
      return true;
  }
}

namespace {

template <typename T>
void read_all(const uint8_t* data, size_t count, std::vector<double>* out) {
  for (size_t i = 0; i < count; ++i) {
    T value;
    std::memcpy(&value, data + i * sizeof(T), sizeof(T));
    out->push_back(static_cast<double>(value));
  }
}

template <typename T>
void write_all(const std::vector<double>& values, std::string* out) {
  out->resize(values.size() * sizeof(T));
  for (size_t i = 0; i < values.size(); ++i) {
    T value;
    if constexpr (std::is_floating_point_v<T>) {
      value = static_cast<T>(values[i]);
    } else {
      // Round, then clamp in double: casting an out-of-range double is UB.
      double v = std::nearbyint(values[i]);
      if (std::isnan(v)) v = 0;
      const double lo = static_cast<double>(std::numeric_limits<T>::lowest());
      const double hi = static_cast<double>(std::numeric_limits<T>::max());
      value = v <= lo   ? std::numeric_limits<T>::lowest()
              : v >= hi ? std::numeric_limits<T>::max()
                        : static_cast<T>(v);
    }
    std::memcpy(out->data() + i * sizeof(T), &value, sizeof(T));
  }
}

}  // namespace

std::vector<double> to_doubles(const NpyArray& array) {
  const uint8_t* data = array.data.data();
  const size_t n = array.num_elements();
  std::vector<double> out;
  out.reserve(n * 2);
  switch (array.dtype) {
    case DType::kBool:
      for (size_t i = 0; i < n; ++i) out.push_back(data[i] != 0 ? 1.0 : 0.0);
      break;
    case DType::kInt8:
      read_all<int8_t>(data, n, &out);
      break;
    case DType::kInt16:
      read_all<int16_t>(data, n, &out);
      break;
    case DType::kInt32:
      read_all<int32_t>(data, n, &out);
      break;
    case DType::kInt64:
      read_all<int64_t>(data, n, &out);
      break;
    case DType::kUInt8:
      read_all<uint8_t>(data, n, &out);
      break;
    case DType::kUInt16:
      read_all<uint16_t>(data, n, &out);
      break;
    case DType::kUInt32:
      read_all<uint32_t>(data, n, &out);
      break;
    case DType::kUInt64:
      read_all<uint64_t>(data, n, &out);
      break;
    case DType::kFloat16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t half;
        std::memcpy(&half, data + 2 * i, sizeof(half));
        out.push_back(half_to_float(half));
      }
      break;
    case DType::kFloat32:
      read_all<float>(data, n, &out);
      break;
    case DType::kFloat64:
      read_all<double>(data, n, &out);
      break;
    case DType::kComplex64:
      read_all<float>(data, 2 * n, &out);
      break;
    case DType::kComplex128:
      read_all<double>(data, 2 * n, &out);
      break;
  }
  return out;
}

Result<Array> from_doubles(DType dtype, const std::vector<int64_t>& shape,
                           const std::vector<double>& values) {
  std::string bytes;
  switch (dtype) {
    case DType::kBool: {
      bytes.resize(values.size());
      for (size_t i = 0; i < values.size(); ++i) bytes[i] = std::nearbyint(values[i]) != 0;
      break;
    }
    case DType::kInt8:
      write_all<int8_t>(values, &bytes);
      break;
    case DType::kInt16:
      write_all<int16_t>(values, &bytes);
      break;
    case DType::kInt32:
      write_all<int32_t>(values, &bytes);
      break;
    case DType::kInt64:
      write_all<int64_t>(values, &bytes);
      break;
    case DType::kUInt8:
      write_all<uint8_t>(values, &bytes);
      break;
    case DType::kUInt16:
      write_all<uint16_t>(values, &bytes);
      break;
    case DType::kUInt32:
      write_all<uint32_t>(values, &bytes);
      break;
    case DType::kUInt64:
      write_all<uint64_t>(values, &bytes);
      break;
    case DType::kFloat16: {
      bytes.resize(values.size() * 2);
      for (size_t i = 0; i < values.size(); ++i) {
        const uint16_t half = float_to_half(static_cast<float>(values[i]));
        std::memcpy(&bytes[2 * i], &half, sizeof(half));
      }
      break;
    }
    case DType::kFloat32:
    case DType::kComplex64:
      write_all<float>(values, &bytes);
      break;
    case DType::kFloat64:
    case DType::kComplex128:
      write_all<double>(values, &bytes);
      break;
  }
  return Array::from_elements(dtype, shape, bytes.data(), bytes.size());
}

}  // namespace pollen
