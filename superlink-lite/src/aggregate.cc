// Flower's reply contract and weighted averaging
// (flwr/serverapp/strategy/strategy_utils.py), over Pollen's records.
#include <set>

#include "array_math.h"
#include "pollen/superlink_lite/fedavg.h"

namespace pollen {

namespace {

Status inconsistent(const std::string& reason) { return failed_precondition(reason); }

template <typename R>
std::vector<const std::pair<std::string, Record>*> records_of(const RecordDict& dict) {
  std::vector<const std::pair<std::string, Record>*> out;
  for (const auto& item : dict) {
    if (std::holds_alternative<R>(item.second)) out.push_back(&item);
  }
  return out;
}

// The keys of the record stored under `name` (of any kind, as Python's
// `msg.get(name, {}).keys()`); empty when there is none.
std::set<std::string> keys_under(const RecordDict& dict, const std::string& name) {
  std::set<std::string> keys;
  if (const Record* record = dict.find(name)) {
    std::visit(
        [&](const auto& r) {
          for (const auto& item : r) keys.insert(item.first);
        },
        *record);
  }
  return keys;
}

template <typename R>
const R& only(const RecordDict& dict) {
  return std::get<R>(records_of<R>(dict).front()->second);
}

bool is_list(const MetricValue& value) {
  return std::holds_alternative<std::vector<int64_t>>(value) ||
         std::holds_alternative<std::vector<uint64_t>>(value) ||
         std::holds_alternative<std::vector<double>>(value);
}

std::vector<double> as_doubles(const MetricValue& value) {
  return std::visit(
      [](const auto& v) -> std::vector<double> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_arithmetic_v<T>) {
          return {static_cast<double>(v)};
        } else {
          return std::vector<double>(v.begin(), v.end());
        }
      },
      value);
}

// num_examples_i / sum over the replies (checked for consistency before).
Result<std::vector<double>> weight_factors(const std::vector<const RecordDict*>& replies,
                                           const std::string& key) {
  std::vector<double> weights;
  double total = 0;
  for (const RecordDict* reply : replies) {
    const MetricValue* value = only<MetricRecord>(*reply).find(key);
    if (value == nullptr || is_list(*value)) return inconsistent("no single `" + key + "` value");
    weights.push_back(as_doubles(*value).front());
    total += weights.back();
  }
  if (!(total > 0)) return inconsistent("the `" + key + "` values of the replies sum to 0");
  for (double& w : weights) w /= total;
  return weights;
}

}  // namespace

Status check_reply_consistency(const std::vector<const RecordDict*>& replies,
                               const std::string& weighted_by_key, bool check_arrays) {
  if (replies.empty()) return Status::Ok();
  if (check_arrays) {
    for (const RecordDict* reply : replies) {
      if (records_of<ArrayRecord>(*reply).size() != 1) {
        return inconsistent("Expected exactly one ArrayRecord in replies. Skipping aggregation.");
      }
    }
    const std::string& name = records_of<ArrayRecord>(*replies[0]).front()->first;
    const std::set<std::string> keys = keys_under(*replies[0], name);
    for (size_t i = 1; i < replies.size(); ++i) {
      if (keys_under(*replies[i], name) != keys) {
        return inconsistent(
            "All ArrayRecords must have the same keys for aggregation. This condition wasn't "
            "met. Skipping aggregation.");
      }
    }
  }
  for (const RecordDict* reply : replies) {
    if (records_of<MetricRecord>(*reply).size() != 1) {
      return inconsistent(
          "Expected exactly one MetricRecord in replies, but found more. Skipping aggregation.");
    }
  }
  const std::string& name = records_of<MetricRecord>(*replies[0]).front()->first;
  const std::set<std::string> keys = keys_under(*replies[0], name);
  for (size_t i = 1; i < replies.size(); ++i) {
    if (keys_under(*replies[i], name) != keys) {
      return inconsistent(
          "All MetricRecords must have the same keys for aggregation. This condition wasn't met. "
          "Skipping aggregation.");
    }
  }
  if (keys.count(weighted_by_key) == 0) {
    return inconsistent("Missing required key `" + weighted_by_key +
                        "` in the MetricRecord of reply messages. Cannot average ArrayRecords "
                        "and MetricRecords. Skipping aggregation.");
  }
  for (const RecordDict* reply : replies) {
    const MetricRecord* metrics = find_metric_record(*reply, name);
    const MetricValue* weight = metrics ? metrics->find(weighted_by_key) : nullptr;
    if (weight == nullptr || is_list(*weight)) {
      return inconsistent("Key `" + weighted_by_key +
                          "` in the MetricRecord of reply messages must be a single value (int "
                          "or float), but a list was found. Skipping aggregation.");
    }
  }
  return Status::Ok();
}

Result<ArrayRecord> aggregate_array_records(const std::vector<const RecordDict*>& replies,
                                            const std::string& weighted_by_key, bool promote) {
  if (replies.empty()) return invalid_argument("no replies to aggregate");
  POLLEN_ASSIGN_OR_RETURN(std::vector<double> factors, weight_factors(replies, weighted_by_key));
  ArrayRecord out;
  for (const auto& [key, first] : only<ArrayRecord>(*replies[0])) {
    POLLEN_ASSIGN_OR_RETURN(NpyArray reference, first.to_npy());
    std::vector<double> sum;
    for (size_t i = 0; i < replies.size(); ++i) {
      const Array* array = only<ArrayRecord>(*replies[i]).find(key);
      if (array == nullptr) return inconsistent("a reply has no array '" + key + "'");
      POLLEN_ASSIGN_OR_RETURN(NpyArray npy, array->to_npy());
      if (npy.shape != reference.shape) {
        return inconsistent("array '" + key + "' has different shapes in the replies");
      }
      const std::vector<double> values = to_doubles(npy);
      if (sum.empty()) sum.assign(values.size(), 0.0);
      if (values.size() != sum.size()) {
        return inconsistent("array '" + key + "' has different dtypes in the replies");
      }
      for (size_t j = 0; j < values.size(); ++j) sum[j] += values[j] * factors[i];
    }
    const DType dtype =
        promote && is_integer_or_bool(reference.dtype) ? DType::kFloat64 : reference.dtype;
    POLLEN_ASSIGN_OR_RETURN(Array averaged, from_doubles(dtype, reference.shape, sum));
    out.set(key, std::move(averaged));
  }
  return out;
}

Result<MetricRecord> aggregate_metric_records(const std::vector<const RecordDict*>& replies,
                                              const std::string& weighted_by_key) {
  if (replies.empty()) return invalid_argument("no replies to aggregate");
  POLLEN_ASSIGN_OR_RETURN(std::vector<double> factors, weight_factors(replies, weighted_by_key));
  MetricRecord out;
  for (size_t i = 0; i < replies.size(); ++i) {
    for (const auto& [key, value] : only<MetricRecord>(*replies[i])) {
      if (key == weighted_by_key) continue;
      std::vector<double> values = as_doubles(value);
      for (double& v : values) v *= factors[i];
      MetricValue* current = out.find(key);
      if (current == nullptr) {
        if (is_list(value)) {
          out.set(key, std::move(values));
        } else {
          out.set(key, values.front());
        }
        continue;
      }
      if (is_list(value) != is_list(*current)) {
        return inconsistent("metric '" + key + "' is a list in some replies only");
      }
      if (auto* list = std::get_if<std::vector<double>>(current)) {
        if (list->size() != values.size()) {
          return inconsistent("metric '" + key + "' has lists of different lengths");
        }
        for (size_t j = 0; j < values.size(); ++j) (*list)[j] += values[j];
      } else {
        std::get<double>(*current) += values.front();
      }
    }
  }
  return out;
}

}  // namespace pollen
