#include "pollen/models/torch_client.h"

#include <unistd.h>

#include <cstdio>
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

}  // namespace

TorchClient::TorchClient(Model& model, const Dataset& train_data, const Dataset* eval_data,
                         TorchClientOptions options)
    : model_(model), train_data_(train_data), eval_data_(eval_data), options_(std::move(options)) {}

Result<RecordDict> TorchClient::train(const Message& instruction) {
  POLLEN_ASSIGN_OR_RETURN(const ArrayRecord* arrays, instruction_arrays(instruction));
  POLLEN_ASSIGN_OR_RETURN(TrainConfig config,
                          apply_server_config(*instruction_config(instruction), options_.train));
  POLLEN_RETURN_IF_ERROR(model_.load_arrays(*arrays));
  POLLEN_ASSIGN_OR_RETURN(TrainResult result,
                          pollen::train(model_, train_data_, config, options_.progress));
  POLLEN_ASSIGN_OR_RETURN(ArrayRecord reply_arrays, model_.reply_arrays(*arrays));
  MetricRecord metrics;
  metrics.set("train_loss", result.loss);
  if (result.accuracy) metrics.set("train_acc", *result.accuracy);
  metrics.set("num-examples", result.num_examples);
  RecordDict reply;
  reply.set("arrays", std::move(reply_arrays));
  reply.set("metrics", std::move(metrics));
  return reply;
}

Result<RecordDict> TorchClient::evaluate(const Message& instruction) {
  POLLEN_ASSIGN_OR_RETURN(const ArrayRecord* arrays, instruction_arrays(instruction));
  POLLEN_RETURN_IF_ERROR(model_.load_arrays(*arrays));
  const Dataset& data = eval_data_ != nullptr ? *eval_data_ : train_data_;
  POLLEN_ASSIGN_OR_RETURN(
      EvalResult result,
      pollen::evaluate(model_, data, options_.eval_batch_size, options_.train.loss));
  if (options_.progress) options_.progress(evaluation_line(result));
  MetricRecord metrics;
  metrics.set("eval_loss", result.loss);
  if (result.accuracy) metrics.set("eval_acc", *result.accuracy);
  metrics.set("num-examples", result.num_examples);
  RecordDict reply;
  reply.set("metrics", std::move(metrics));
  return reply;
}

Result<RecordDict> TorchClient::query(const Message&) {
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
  RecordDict reply;
  reply.set("config", std::move(device));
  return reply;
}

}  // namespace pollen
