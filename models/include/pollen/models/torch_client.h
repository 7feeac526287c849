// TorchClient: a TorchScript model and the device's data as a Flower client
// that answers a stock ServerApp (FedAvg, FedProx, ...) like a PyTorch
// ClientApp: train -> {"arrays", "metrics"}, evaluate -> {"metrics"},
// query -> {"config"} describing the device.
#ifndef POLLEN_MODELS_TORCH_CLIENT_H_
#define POLLEN_MODELS_TORCH_CLIENT_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "pollen/core/client.h"
#include "pollen/core/legacy.h"
#include "pollen/models/dataset.h"
#include "pollen/models/model.h"
#include "pollen/models/trainer.h"

namespace pollen {

// Which results a reply's MetricRecord carries, under which keys. Stock
// strategies refuse a round whose replies carry different key sets, so a
// Pollen node beside Python ClientApps must send what they send.
enum class MetricQuantity { kLoss, kAccuracy, kNumExamples };
struct MetricKey {
  MetricQuantity quantity;
  std::string key;
  friend bool operator==(const MetricKey& a, const MetricKey& b) {
    return a.quantity == b.quantity && a.key == b.key;
  }
};
using MetricKeys = std::vector<MetricKey>;

// What Flower's PyTorch quickstart ClientApp sends:
//   train:    train_loss, num-examples
//   evaluate: eval_loss, eval_acc, num-examples
MetricKeys default_train_metrics();
MetricKeys default_evaluate_metrics();

// Parses "loss=train_loss,accuracy,num-examples": a comma-separated list of
// loss, accuracy and num-examples, each optionally renamed with =KEY (else
// train_loss/train_acc or eval_loss/eval_acc, and num-examples). Each
// quantity at most once, distinct keys, num-examples required (strategies
// weight by it). INVALID_ARGUMENT naming the item otherwise.
Result<MetricKeys> parse_metric_keys(std::string_view text, bool train);
std::string to_string(const MetricKeys& keys);

struct TorchClientOptions {
  // Hyper-parameters; the instruction's ConfigRecord overrides them per round
  // (see apply_server_config).
  TrainConfig train;
  int64_t eval_batch_size = 64;
  // The metrics of train and evaluate replies (accuracy is left out when
  // the labels are not classes). Legacy replies carry the same, less
  // num-examples, in "fitres.metrics" / "evaluateres.metrics".
  MetricKeys train_metrics = default_train_metrics();
  MetricKeys evaluate_metrics = default_evaluate_metrics();
  // Where progress lines go (one per training epoch, one per evaluation);
  // nothing when empty.
  std::function<void(const std::string&)> progress;
};

// Uses `model`, `train_data` and `eval_data` (may be null: evaluate on the
// training data) without owning them; they must outlive the client. Metric
// keys are the same in every reply, as stock strategies require (see
// TorchClientOptions::train_metrics).
//
// It also answers the legacy layout of ServerApps built on flwr.server's
// strategies (see pollen/core/legacy.h) as a NumPyClient would:
// get_parameters (the state_dict by position), get_properties (the query
// record), fit and evaluate (same metrics, in "fitres.metrics" /
// "evaluateres.metrics"; the evaluation loss in "evaluateres.loss").
class TorchClient final : public DispatchingClient {
 public:
  TorchClient(Model& model, const Dataset& train_data, const Dataset* eval_data,
              TorchClientOptions options);

  Result<RecordDict> handle(const Message& instruction) override;

 protected:
  Result<RecordDict> train(const Message& instruction) override;
  Result<RecordDict> evaluate(const Message& instruction) override;
  Result<RecordDict> query(const Message& instruction) override;

 private:
  struct Trained {
    ArrayRecord arrays;  // in the keys, order and dtypes received
    TrainResult result;
  };
  Result<Trained> fit(const ArrayRecord& arrays, const ConfigRecord& config);
  Result<EvalResult> eval(const ArrayRecord& arrays);
  ConfigRecord device_properties() const;
  Result<RecordDict> handle_legacy(const Message& instruction, LegacyKind kind);

  Model& model_;
  const Dataset& train_data_;
  const Dataset* eval_data_;
  TorchClientOptions options_;
};

}  // namespace pollen

#endif  // POLLEN_MODELS_TORCH_CLIENT_H_
