#include "pollen/models/torch_client.h"

#include <unistd.h>

#include <cstdio>
#include <optional>
#include <thread>

#include "device_info.h"
#include "pollen/core/version.h"

namespace pollen {

namespace {

// The instruction's ArrayRecord: "arrays" (Flower's default key), else the
// only ArrayRecord it has.
Result<const ArrayRecord*> instruction_arrays(const Message& m) {
  if (const ArrayRecord* arrays = find_array_record(*m.content, "arrays")) return arrays;
  const ArrayRecord* found = nullptr;
  for (const auto& [name, record] : *m.content) {
    if (const auto* a = std::get_if<ArrayRecord>(&record)) {
      if (found != nullptr) return invalid_argument("instruction has several ArrayRecords");
      found = a;
    }
  }
  if (found == nullptr) return invalid_argument("instruction carries no ArrayRecord (the model)");
  return found;
}

// "config" or the only ConfigRecord; an empty one when there is none.
const ConfigRecord* instruction_config(const Message& m) {
  static const ConfigRecord kEmpty;
  if (const ConfigRecord* config = find_config_record(*m.content, "config")) return config;
  for (const auto& [name, record] : *m.content) {
    if (const auto* c = std::get_if<ConfigRecord>(&record)) return c;
  }
  return &kEmpty;
}

std::string evaluation_line(const EvalResult& result) {
  char line[160];
  if (result.accuracy) {
    std::snprintf(line, sizeof(line), "evaluate: loss %.3f, accuracy %.4f on %lld samples",
                  result.loss, *result.accuracy, static_cast<long long>(result.num_examples));
  } else {
    std::snprintf(line, sizeof(line), "evaluate: loss %.3f on %lld samples", result.loss,
                  static_cast<long long>(result.num_examples));
  }
  return line;
}

// The reply metrics `keys` asks for (accuracy only when there is one).
MetricRecord metrics_of(const MetricKeys& keys, double loss, const std::optional<double>& accuracy,
                        int64_t num_examples) {
  MetricRecord out;
  for (const MetricKey& k : keys) {
    switch (k.quantity) {
      case MetricQuantity::kLoss:
        out.set(k.key, loss);
        break;
      case MetricQuantity::kAccuracy:
        if (accuracy) out.set(k.key, *accuracy);
        break;
      case MetricQuantity::kNumExamples:
        out.set(k.key, num_examples);
        break;
    }
  }
  return out;
}

// The same for a legacy reply, whose example count has its own record.
ConfigRecord legacy_metrics_of(const MetricKeys& keys, double loss,
                               const std::optional<double>& accuracy) {
  MetricKeys without_count;
  for (const MetricKey& k : keys) {
    if (k.quantity != MetricQuantity::kNumExamples) without_count.push_back(k);
  }
  return legacy_metrics(metrics_of(without_count, loss, accuracy, 0));
}

const char* quantity_name(MetricQuantity q) {
  switch (q) {
    case MetricQuantity::kLoss:
      return "loss";
    case MetricQuantity::kAccuracy:
      return "accuracy";
    case MetricQuantity::kNumExamples:
      return "num-examples";
  }
  return "";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

MetricKeys default_train_metrics() {
  return {{MetricQuantity::kLoss, "train_loss"}, {MetricQuantity::kNumExamples, "num-examples"}};
}

MetricKeys default_evaluate_metrics() {
  return {{MetricQuantity::kLoss, "eval_loss"},
          {MetricQuantity::kAccuracy, "eval_acc"},
          {MetricQuantity::kNumExamples, "num-examples"}};
}

Result<MetricKeys> parse_metric_keys(std::string_view text, bool train) {
  MetricKeys keys;
  bool has_count = false;
  while (true) {
    const size_t comma = text.find(',');
    const std::string_view item = trim(text.substr(0, comma));
    const size_t eq = item.find('=');
    const std::string_view name = trim(item.substr(0, eq));
    MetricKey k{};
    if (name == "loss") {
      k = {MetricQuantity::kLoss, train ? "train_loss" : "eval_loss"};
    } else if (name == "accuracy") {
      k = {MetricQuantity::kAccuracy, train ? "train_acc" : "eval_acc"};
    } else if (name == "num-examples") {
      k = {MetricQuantity::kNumExamples, "num-examples"};
      has_count = true;
    } else {
      return invalid_argument("unknown metric '" + std::string(name) +
                              "' (expected loss, accuracy or num-examples, each optionally "
                              "followed by =KEY)");
    }
    if (eq != std::string_view::npos) k.key = std::string(trim(item.substr(eq + 1)));
    if (k.key.empty()) return invalid_argument("metric '" + std::string(name) + "' has no key");
    for (const MetricKey& seen : keys) {
      if (seen.quantity == k.quantity) {
        return invalid_argument("metric '" + std::string(name) + "' is listed twice");
      }
      if (seen.key == k.key) return invalid_argument("key '" + k.key + "' is used twice");
    }
    keys.push_back(std::move(k));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  if (!has_count) {
    return invalid_argument(
        "num-examples is required: strategies weight each reply by it (rename it with "
        "num-examples=KEY to match the strategy's weighted_by_key)");
  }
  return keys;
}

std::string to_string(const MetricKeys& keys) {
  std::string out;
  for (const MetricKey& k : keys) {
    if (!out.empty()) out += ',';
    out += std::string(quantity_name(k.quantity)) + "=" + k.key;
  }
  return out;
}

TorchClient::TorchClient(Model& model, const Dataset& train_data, const Dataset* eval_data,
                         TorchClientOptions options)
    : model_(model), train_data_(train_data), eval_data_(eval_data), options_(std::move(options)) {}

Result<TorchClient::Trained> TorchClient::fit(const ArrayRecord& arrays,
                                              const ConfigRecord& server_config) {
  POLLEN_ASSIGN_OR_RETURN(TrainConfig config, apply_server_config(server_config, options_.train));
  POLLEN_RETURN_IF_ERROR(model_.load_arrays(arrays));
  Trained out;
  POLLEN_ASSIGN_OR_RETURN(out.result,
                          pollen::train(model_, train_data_, config, options_.progress));
  POLLEN_ASSIGN_OR_RETURN(out.arrays, model_.reply_arrays(arrays));
  return out;
}

Result<EvalResult> TorchClient::eval(const ArrayRecord& arrays) {
  POLLEN_RETURN_IF_ERROR(model_.load_arrays(arrays));
  const Dataset& data = eval_data_ != nullptr ? *eval_data_ : train_data_;
  POLLEN_ASSIGN_OR_RETURN(
      EvalResult result,
      pollen::evaluate(model_, data, options_.eval_batch_size, options_.train.loss,
                       options_.train.stop_requested));
  if (options_.progress) options_.progress(evaluation_line(result));
  return result;
}

Result<RecordDict> TorchClient::train(const Message& instruction) {
  POLLEN_ASSIGN_OR_RETURN(const ArrayRecord* arrays, instruction_arrays(instruction));
  POLLEN_ASSIGN_OR_RETURN(Trained trained, fit(*arrays, *instruction_config(instruction)));
  RecordDict reply;
  reply.set("arrays", std::move(trained.arrays));
  reply.set("metrics", metrics_of(options_.train_metrics, trained.result.loss,
                                  trained.result.accuracy, trained.result.num_examples));
  return reply;
}

Result<RecordDict> TorchClient::evaluate(const Message& instruction) {
  POLLEN_ASSIGN_OR_RETURN(const ArrayRecord* arrays, instruction_arrays(instruction));
  POLLEN_ASSIGN_OR_RETURN(EvalResult result, eval(*arrays));
  RecordDict reply;
  reply.set("metrics", metrics_of(options_.evaluate_metrics, result.loss, result.accuracy,
                                  result.num_examples));
  return reply;
}

Result<RecordDict> TorchClient::handle(const Message& instruction) {
  const LegacyKind kind = legacy_kind(instruction);
  if (kind == LegacyKind::kNone) {
    // "train.finetune" asks for a handler the ServerApp expects by name; a
    // plain training round instead would be a silent wrong answer.
    const std::string& type = instruction.metadata.message_type;
    const std::string_view action = split_message_type(type).second;
    if (!action.empty() && validate_message_type(type).ok()) {
      return unimplemented("message type '" + type + "': this node has no '" +
                           std::string(action) +
                           "' handler (it serves train, evaluate and query without an action)");
    }
    return DispatchingClient::handle(instruction);
  }
  return handle_legacy(instruction, kind);
}

Result<RecordDict> TorchClient::handle_legacy(const Message& instruction, LegacyKind kind) {
  switch (kind) {
    case LegacyKind::kGetParameters: {
      POLLEN_ASSIGN_OR_RETURN(ArrayRecord state, model_.state_dict());
      return legacy_get_parameters_res(positional_arrays(state));
    }
    case LegacyKind::kGetProperties:
      return legacy_get_properties_res(device_properties());
    case LegacyKind::kFit: {
      POLLEN_ASSIGN_OR_RETURN(LegacyIns ins, legacy_ins(instruction, kind));
      POLLEN_ASSIGN_OR_RETURN(Trained trained, fit(*ins.parameters, *ins.config));
      return legacy_fit_res(
          std::move(trained.arrays), trained.result.num_examples,
          legacy_metrics_of(options_.train_metrics, trained.result.loss, trained.result.accuracy));
    }
    case LegacyKind::kEvaluate: {
      POLLEN_ASSIGN_OR_RETURN(LegacyIns ins, legacy_ins(instruction, kind));
      POLLEN_ASSIGN_OR_RETURN(EvalResult result, eval(*ins.parameters));
      return legacy_evaluate_res(
          result.loss, result.num_examples,
          legacy_metrics_of(options_.evaluate_metrics, result.loss, result.accuracy));
    }
    case LegacyKind::kNone:
      break;
  }
  return internal_error("not a legacy instruction");
}

Result<RecordDict> TorchClient::query(const Message&) {
  RecordDict reply;
  reply.set("config", device_properties());
  return reply;
}

ConfigRecord TorchClient::device_properties() const {
  ConfigRecord device;
  device.set("pollen-version", std::string(kPollenVersion));
  device.set("libtorch-version", libtorch_version());
  device.set("device", model_.device_name());
  device.set("cpu-model", cpu_model());
  device.set("cpu-cores", static_cast<int64_t>(std::thread::hardware_concurrency()));
  if (const std::string board = board_model(); !board.empty()) device.set("board", board);
  const std::string name = model_.device_name();
  if (name.rfind("cuda:", 0) == 0) {
    if (std::optional<GpuInfo> gpu = gpu_info(std::stoi(name.substr(5)))) {
      device.set("gpu-name", gpu->name);
      device.set("gpu-memory-bytes", gpu->memory_bytes);
    }
  }
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page_size > 0) {
    device.set("memory-bytes", static_cast<int64_t>(pages) * page_size);
  }
  device.set(
      "trainable-parameters",
      static_cast<int64_t>(model_.num_trainable_parameters(options_.train.trainable_prefixes)));
  device.set("train-examples", static_cast<int64_t>(train_data_.size()));
  return device;
}

}  // namespace pollen
