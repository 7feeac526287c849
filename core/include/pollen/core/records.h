// Flower's records: Array, ArrayRecord, MetricRecord, ConfigRecord and the
// RecordDict that holds them, with Flower's ordering and value rules.
#ifndef POLLEN_CORE_RECORDS_H_
#define POLLEN_CORE_RECORDS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "pollen/core/bytes.h"
#include "pollen/core/npy.h"
#include "pollen/core/status.h"

namespace pollen {

// The only array serialization Flower defines: data is a whole .npy file.
inline constexpr std::string_view kNumpyStype = "numpy.ndarray";

// One array as Flower carries it. `dtype` and `shape` mirror the .npy header
// for arrays made by Message-API strategies; legacy strategies send "" and
// [] there, so readers must trust the .npy header, never these fields.
struct Array {
  std::string dtype;
  std::vector<int64_t> shape;
  std::string stype = std::string(kNumpyStype);
  Bytes data;

  // An Array over a complete .npy file; dtype and shape come from its header.
  static Result<Array> from_npy(Bytes npy);
  // Encodes little-endian C-order elements as .npy (one copy of `data`).
  static Result<Array> from_elements(DType dtype, const std::vector<int64_t>& shape,
                                     const void* data, size_t size);
  // Decodes `data`; fails unless stype is "numpy.ndarray" and the .npy is valid.
  Result<NpyArray> to_npy() const;

  friend bool operator==(const Array& a, const Array& b) {
    return a.dtype == b.dtype && a.shape == b.shape && a.stype == b.stype && a.data == b.data;
  }
};

// An insertion-ordered mapping with unique string keys, like a Python dict:
// setting an existing key replaces the value in place.
template <typename V>
class OrderedDict {
 public:
  using Item = std::pair<std::string, V>;

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  auto begin() { return items_.begin(); }
  auto end() { return items_.end(); }
  const std::vector<Item>& items() const { return items_; }

  const V* find(std::string_view key) const {
    for (const auto& item : items_) {
      if (item.first == key) return &item.second;
    }
    return nullptr;
  }
  V* find(std::string_view key) {
    return const_cast<V*>(static_cast<const OrderedDict*>(this)->find(key));
  }
  bool contains(std::string_view key) const { return find(key) != nullptr; }

  V& set(std::string key, V value) {
    if (V* existing = find(key)) return *existing = std::move(value);
    items_.emplace_back(std::move(key), std::move(value));
    return items_.back().second;
  }
  bool erase(std::string_view key) {
    for (auto it = items_.begin(); it != items_.end(); ++it) {
      if (it->first == key) {
        items_.erase(it);
        return true;
      }
    }
    return false;
  }

  friend bool operator==(const OrderedDict& a, const OrderedDict& b) {
    return a.items_ == b.items_;
  }
  friend bool operator!=(const OrderedDict& a, const OrderedDict& b) { return !(a == b); }

 private:
  std::vector<Item> items_;
};

using ArrayRecord = OrderedDict<Array>;

// Python ints become int64 (uint64 only above 2^63-1), floats double.
using MetricValue = std::variant<int64_t, uint64_t, double, std::vector<int64_t>,
                                 std::vector<uint64_t>, std::vector<double>>;
using MetricRecord = OrderedDict<MetricValue>;

// Raw bytes in a ConfigRecord, distinct from text.
struct Blob {
  std::string bytes;
  friend bool operator==(const Blob& a, const Blob& b) { return a.bytes == b.bytes; }
};

using ConfigValue = std::variant<int64_t, uint64_t, double, bool, std::string, Blob,
                                 std::vector<int64_t>, std::vector<uint64_t>, std::vector<double>,
                                 std::vector<bool>, std::vector<std::string>, std::vector<Blob>>;
using ConfigRecord = OrderedDict<ConfigValue>;

using Record = std::variant<ArrayRecord, MetricRecord, ConfigRecord>;
using RecordDict = OrderedDict<Record>;

// Typed lookups: nullptr when the key is missing or holds another record kind.
const ArrayRecord* find_array_record(const RecordDict& dict, std::string_view key);
const MetricRecord* find_metric_record(const RecordDict& dict, std::string_view key);
const ConfigRecord* find_config_record(const RecordDict& dict, std::string_view key);

// Numeric config/metric value as double (ints widened); error for other kinds.
Result<double> config_as_double(const ConfigValue& value);
// Integer config value; error for non-integers and out-of-range values.
Result<int64_t> config_as_int(const ConfigValue& value);

// "ArrayRecord", "MetricRecord" or "ConfigRecord".
std::string_view record_kind(const Record& record);

}  // namespace pollen

#endif  // POLLEN_CORE_RECORDS_H_
