// Local training and evaluation of a Model on a Dataset, as a Flower
// ClientApp's train and evaluate handlers do them in PyTorch.
//
// train() runs a plain PyTorch loop (shuffle, batch, forward, loss,
// backward, step) with the options Flower's strategies and examples send:
// FedProx's proximal term, client-side gradient clipping, a step budget
// instead of whole epochs. This header does not include LibTorch; no LibTorch
// exception leaves these functions. They use the Model from the calling
// thread only.
#ifndef POLLEN_MODELS_TRAINER_H_
#define POLLEN_MODELS_TRAINER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pollen/core/records.h"
#include "pollen/core/status.h"
#include "pollen/models/dataset.h"
#include "pollen/models/model.h"

namespace pollen {

struct TrainConfig {
  int64_t local_epochs = 1;
  // > 0: train for exactly this many optimizer steps (passing over the data
  // as often as needed) instead of local_epochs.
  int64_t local_steps = 0;
  int64_t batch_size = 32;
  double lr = 0.01;
  std::string optimizer = "sgd";  // sgd | adam | adamw
  double momentum = 0;            // sgd only
  double weight_decay = 0;
  bool nesterov = false;  // sgd only; needs momentum > 0
  // auto: the module's own exported loss(output, target) method when it has
  // one, else cross_entropy for class labels and mse for regression.
  std::string loss = "auto";  // auto | cross_entropy | mse
  // FedProx: adds (mu / 2) * sum ||w - w_start||^2 over the trained
  // parameters, w_start being their values when train() starts.
  double proximal_mu = 0;
  // > 0: rescale the gradients so that their total L2 norm is at most this.
  double clip_norm = 0;
  // Seeds the shuffle and LibTorch's default generator (dropout), so that
  // the same seed, data and weights give the same trained weights.
  uint64_t seed = 0;
  bool shuffle = true;
  // float16 autocast with dynamic loss scaling; CUDA devices only.
  bool mixed_precision = false;
  // Names of parameters to train, by state_dict-name prefix ("head.",
  // "classifier.weight"). Empty: every parameter with requires_grad. The
  // others are left exactly as they are.
  std::vector<std::string> trainable_prefixes;
  // Ceilings on what one instruction may cost the device, whatever the
  // server asks (not server keys): more optimizer steps than max_steps is
  // refused before the first step, training longer than max_seconds stops
  // there; both are RESOURCE_EXHAUSTED naming the limit. 0: no limit.
  int64_t max_steps = 1000000;
  double max_seconds = 86400;
  // Polled before every step (and every evaluation batch): once it returns
  // true, train() stops there and returns CANCELLED, so a node asked to stop
  // does not finish a round of a million epochs first. Not a server key.
  std::function<bool()> stop_requested;
};

// `defaults` with the keys a Flower server sends in its train config
// replaced: "lr", "local-epochs", "local-steps", "batch-size", "proximal-mu"
// (FedProx), "momentum", "weight-decay", "optimizer", "clip-norm" and
// "clipping_norm" (Flower's client-side differential privacy), "seed".
// Whole floats are accepted for integers (2.0 for 2). Other keys are
// ignored, since servers send their own ("server-round"). INVALID_ARGUMENT
// naming the key for a value of the wrong kind or out of range.
Result<TrainConfig> apply_server_config(const ConfigRecord& config, TrainConfig defaults);

struct TrainResult {
  int64_t num_examples = 0;        // samples in the dataset, what Flower weights by
  int64_t steps = 0;               // optimizer steps taken
  double loss = 0;                 // mean per-sample loss over the last epoch
  std::optional<double> accuracy;  // last epoch, class labels only
  double samples_per_second = 0;
  double seconds = 0;
};

// Trains `model` in place on `data` (model.train() mode). `progress`, when
// set, gets one line per epoch: "epoch 1/3: loss 0.512, accuracy 0.8731, 1843
// samples/s, 0.4 s" (accuracy for class labels only).
// INVALID_ARGUMENT for an empty dataset, a bad config (batch_size < 1,
// unknown optimizer or loss), data the model's forward or loss rejects (the
// message names the batch shape) and a loss that is NaN or infinite;
// FAILED_PRECONDITION for mixed_precision off CUDA. Errors found before the
// first step leave the model unchanged; a NaN loss stops training where it
// happened.
Result<TrainResult> train(Model& model, const Dataset& data, const TrainConfig& config,
                          const std::function<void(const std::string&)>& progress = {});

struct EvalResult {
  int64_t num_examples = 0;
  double loss = 0;                 // mean per-sample loss
  std::optional<double> accuracy;  // class labels only
};

// Evaluates `model` on `data` in eval() mode without gradients; `loss` as
// in TrainConfig::loss. Errors as for train().
Result<EvalResult> evaluate(Model& model, const Dataset& data, int64_t batch_size = 32,
                            const std::string& loss = "auto",
                            const std::function<bool()>& stop_requested = {});

}  // namespace pollen

#endif  // POLLEN_MODELS_TRAINER_H_
