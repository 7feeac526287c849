// TorchClient: a TorchScript model and the device's data as a Flower client
// that answers a stock ServerApp (FedAvg, FedProx, ...) like a PyTorch
// ClientApp: train -> {"arrays", "metrics"}, evaluate -> {"metrics"},
// query -> {"config"} describing the device.
#ifndef POLLEN_MODELS_TORCH_CLIENT_H_
#define POLLEN_MODELS_TORCH_CLIENT_H_

#include <functional>
#include <string>

#include "pollen/core/client.h"
#include "pollen/models/dataset.h"
#include "pollen/models/model.h"
#include "pollen/models/trainer.h"

namespace pollen {

struct TorchClientOptions {
  // Hyper-parameters; the instruction's ConfigRecord overrides them per round
  // (see apply_server_config).
  TrainConfig train;
  int64_t eval_batch_size = 64;
  // Where progress lines go (one per training epoch, one per evaluation);
  // nothing when empty.
  std::function<void(const std::string&)> progress;
};

// Uses `model`, `train_data` and `eval_data` (may be null: evaluate on the
// training data) without owning them; they must outlive the client. Metric
// keys are the same in every reply, as stock strategies require:
//   train:    train_loss, [train_acc], num-examples
//   evaluate: eval_loss, [eval_acc], num-examples   (acc for class labels)
class TorchClient final : public DispatchingClient {
 public:
  TorchClient(Model& model, const Dataset& train_data, const Dataset* eval_data,
              TorchClientOptions options);

 protected:
  Result<RecordDict> train(const Message& instruction) override;
  Result<RecordDict> evaluate(const Message& instruction) override;
  Result<RecordDict> query(const Message& instruction) override;

 private:
  Model& model_;
  const Dataset& train_data_;
  const Dataset* eval_data_;
  TorchClientOptions options_;
};

}  // namespace pollen

#endif  // POLLEN_MODELS_TORCH_CLIENT_H_
