#include "pollen/core/legacy.h"

#include <string>
#include <utility>

namespace pollen {

namespace {

// The record-name prefix of each kind's instruction and reply.
const char* ins_prefix(LegacyKind kind) {
  switch (kind) {
    case LegacyKind::kGetParameters:
      return "getparametersins";
    case LegacyKind::kGetProperties:
      return "getpropertiesins";
    case LegacyKind::kFit:
      return "fitins";
    case LegacyKind::kEvaluate:
      return "evaluateins";
    case LegacyKind::kNone:
      break;
  }
  return "";
}

ConfigRecord ok_status() {
  ConfigRecord status;
  status.set("code", int64_t{0});  // flwr.common.Code.OK
  status.set("message", std::string("Success"));
  return status;
}

MetricRecord num_examples_record(int64_t num_examples) {
  MetricRecord record;
  record.set("num_examples", num_examples);
  return record;
}

}  // namespace

LegacyKind legacy_kind(const Message& m) {
  const std::string& type = m.metadata.message_type;
  if (type == "get_parameters") return LegacyKind::kGetParameters;
  if (type == "get_properties") return LegacyKind::kGetProperties;
  if (!m.content) return LegacyKind::kNone;
  if (type == "train" && m.content->contains("fitins.parameters")) return LegacyKind::kFit;
  if (type == "evaluate" && m.content->contains("evaluateins.parameters")) {
    return LegacyKind::kEvaluate;
  }
  return LegacyKind::kNone;
}

Result<LegacyIns> legacy_ins(const Message& m, LegacyKind kind) {
  const std::string prefix = ins_prefix(kind);
  if (!m.content) return invalid_argument("legacy instruction without content");
  LegacyIns ins;
  ins.parameters = find_array_record(*m.content, prefix + ".parameters");
  if (ins.parameters == nullptr) {
    return invalid_argument("legacy instruction without the ArrayRecord '" + prefix +
                            ".parameters'");
  }
  ins.config = &legacy_config(m, kind);
  return ins;
}

const ConfigRecord& legacy_config(const Message& m, LegacyKind kind) {
  static const ConfigRecord kEmpty;
  if (!m.content) return kEmpty;
  const ConfigRecord* config =
      find_config_record(*m.content, std::string(ins_prefix(kind)) + ".config");
  return config != nullptr ? *config : kEmpty;
}

ArrayRecord positional_arrays(const ArrayRecord& arrays) {
  ArrayRecord out;
  size_t i = 0;
  for (const auto& [key, array] : arrays) out.set(std::to_string(i++), array);
  if (out.empty()) {
    Array empty;
    empty.stype = "numpy.ndarray";
    out.set("_empty", std::move(empty));
  }
  return out;
}

ConfigRecord legacy_metrics(const MetricRecord& metrics) {
  ConfigRecord out;
  for (const auto& [key, value] : metrics) {
    if (const auto* i = std::get_if<int64_t>(&value)) {
      out.set(key, *i);
    } else if (const auto* u = std::get_if<uint64_t>(&value)) {
      out.set(key, *u);
    } else if (const auto* d = std::get_if<double>(&value)) {
      out.set(key, *d);
    }
  }
  return out;
}

RecordDict legacy_fit_res(ArrayRecord parameters, int64_t num_examples, ConfigRecord metrics) {
  RecordDict reply;
  reply.set("fitres.parameters", std::move(parameters));
  reply.set("fitres.num_examples", num_examples_record(num_examples));
  reply.set("fitres.metrics", std::move(metrics));
  reply.set("fitres.status", ok_status());
  return reply;
}

RecordDict legacy_evaluate_res(double loss, int64_t num_examples, ConfigRecord metrics) {
  MetricRecord loss_record;
  loss_record.set("loss", loss);
  RecordDict reply;
  reply.set("evaluateres.loss", std::move(loss_record));
  reply.set("evaluateres.num_examples", num_examples_record(num_examples));
  reply.set("evaluateres.metrics", std::move(metrics));
  reply.set("evaluateres.status", ok_status());
  return reply;
}

RecordDict legacy_get_parameters_res(ArrayRecord parameters) {
  RecordDict reply;
  reply.set("getparametersres.parameters", std::move(parameters));
  reply.set("getparametersres.status", ok_status());
  return reply;
}

RecordDict legacy_get_properties_res(ConfigRecord properties) {
  RecordDict reply;
  reply.set("getpropertiesres.properties", std::move(properties));
  reply.set("getpropertiesres.status", ok_status());
  return reply;
}

}  // namespace pollen
