#include "pollen/core/records.h"

#include <cmath>
#include <limits>

namespace pollen {

Result<Array> Array::from_npy(Bytes npy) {
  POLLEN_ASSIGN_OR_RETURN(NpyHeader header, parse_npy_header(npy.view()));
  Array array;
  // numpy names big-endian dtypes by their descr (">i4"), others by name.
  const bool swapped = header.big_endian && dtype_itemsize(header.dtype) > 1;
  array.dtype = swapped ? dtype_descr(header.dtype).replace(0, 1, ">")
                        : std::string(dtype_name(header.dtype));
  array.shape = header.shape;
  array.data = std::move(npy);
  return array;
}

Result<Array> Array::from_elements(DType dtype, const std::vector<int64_t>& shape, const void* data,
                                   size_t size) {
  POLLEN_ASSIGN_OR_RETURN(Bytes npy, encode_npy(dtype, shape, data, size));
  Array array;
  array.dtype = std::string(dtype_name(dtype));
  array.shape = shape;
  array.data = std::move(npy);
  return array;
}

Result<NpyArray> Array::to_npy() const {
  if (stype != kNumpyStype) {
    return invalid_argument("array stype is '" + stype + "'; only '" + std::string(kNumpyStype) +
                            "' is supported");
  }
  return decode_npy(data);
}

namespace {
template <typename R>
const R* find_record(const RecordDict& dict, std::string_view key) {
  const Record* record = dict.find(key);
  return record ? std::get_if<R>(record) : nullptr;
}
}  // namespace

const ArrayRecord* find_array_record(const RecordDict& dict, std::string_view key) {
  return find_record<ArrayRecord>(dict, key);
}
const MetricRecord* find_metric_record(const RecordDict& dict, std::string_view key) {
  return find_record<MetricRecord>(dict, key);
}
const ConfigRecord* find_config_record(const RecordDict& dict, std::string_view key) {
  return find_record<ConfigRecord>(dict, key);
}

Result<double> config_as_double(const ConfigValue& value) {
  if (auto* v = std::get_if<double>(&value)) return *v;
  if (auto* v = std::get_if<int64_t>(&value)) return static_cast<double>(*v);
  if (auto* v = std::get_if<uint64_t>(&value)) return static_cast<double>(*v);
  return invalid_argument("expected a number");
}

Result<int64_t> config_as_int(const ConfigValue& value) {
  if (auto* v = std::get_if<int64_t>(&value)) return *v;
  if (auto* v = std::get_if<uint64_t>(&value)) {
    if (*v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return out_of_range("integer " + std::to_string(*v) + " is too large");
    }
    return static_cast<int64_t>(*v);
  }
  // Flower configs written by hand often say 2.0 for 2: accept whole floats.
  if (auto* v = std::get_if<double>(&value)) {
    if (std::isfinite(*v) && std::floor(*v) == *v && std::fabs(*v) < 9.0e15) {
      return static_cast<int64_t>(*v);
    }
    return invalid_argument("expected an integer, got " + std::to_string(*v));
  }
  return invalid_argument("expected an integer");
}

std::string_view record_kind(const Record& record) {
  switch (record.index()) {
    case 0:
      return "ArrayRecord";
    case 1:
      return "MetricRecord";
    default:
      return "ConfigRecord";
  }
}

}  // namespace pollen
