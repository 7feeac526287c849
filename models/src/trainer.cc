#include "pollen/models/trainer.h"

#include <ATen/autocast_mode.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <torch/script.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <utility>

#include "model_impl.h"

namespace pollen {
namespace {

using Clock = std::chrono::steady_clock;

std::string number_text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string shape_text(c10::IntArrayRef sizes) {
  std::string text = "[";
  for (size_t i = 0; i < sizes.size(); ++i) text += (i ? ", " : "") + std::to_string(sizes[i]);
  return text + "]";
}

struct Batch {
  torch::Tensor x;  // [B, x_shape...] float32
  torch::Tensor y;  // [B] int64 class indices, or [B, y_shape...] float32
};

size_t element_count(const std::vector<int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), size_t{1},
                         [](size_t n, int64_t d) { return n * static_cast<size_t>(d); });
}

Status check_sample(const Sample& s, const Sample& first, size_t index, bool classes) {
  const std::string where = "sample " + std::to_string(index) + ": ";
  if (s.x_shape != first.x_shape || s.y_shape != first.y_shape) {
    return invalid_argument(where + "its shape differs from the first sample's");
  }
  if (s.x.size() != element_count(s.x_shape) || s.y.size() != element_count(s.y_shape)) {
    return invalid_argument(where + "the number of values does not match its shape");
  }
  if (classes && (s.y.size() != 1 || s.y[0] < 0 || std::floor(s.y[0]) != s.y[0])) {
    return invalid_argument(where + "a class label must be one non-negative integer");
  }
  return Status::Ok();
}

// Copies the samples order[begin, end) of `data` into one batch on `device`.
Result<Batch> make_batch(const Dataset& data, const std::vector<size_t>& order, size_t begin,
                         size_t end, torch::Device device) {
  const bool classes = data.labels_are_classes();
  const auto count = static_cast<int64_t>(end - begin);
  std::vector<Sample> samples;
  samples.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) {
    POLLEN_ASSIGN_OR_RETURN(Sample s, data.get(order[i]));
    POLLEN_RETURN_IF_ERROR(check_sample(s, samples.empty() ? s : samples[0], order[i], classes));
    samples.push_back(std::move(s));
  }
  std::vector<int64_t> x_shape{count};
  x_shape.insert(x_shape.end(), samples[0].x_shape.begin(), samples[0].x_shape.end());
  Batch batch{torch::empty(x_shape, torch::kFloat32), torch::Tensor()};
  float* x = batch.x.data_ptr<float>();
  for (const Sample& s : samples) x = std::copy(s.x.begin(), s.x.end(), x);
  if (classes) {
    batch.y = torch::empty({count}, torch::kInt64);
    int64_t* y = batch.y.data_ptr<int64_t>();
    for (const Sample& s : samples) *y++ = static_cast<int64_t>(s.y[0]);
  } else {
    std::vector<int64_t> y_shape{count};
    y_shape.insert(y_shape.end(), samples[0].y_shape.begin(), samples[0].y_shape.end());
    batch.y = torch::empty(y_shape, torch::kFloat32);
    float* y = batch.y.data_ptr<float>();
    for (const Sample& s : samples) y = std::copy(s.y.begin(), s.y.end(), y);
  }
  batch.x = batch.x.to(device);
  batch.y = batch.y.to(device);
  return batch;
}

enum class LossKind { kModule, kCrossEntropy, kMse };

Result<LossKind> resolve_loss(const torch::jit::Module& module, const std::string& name,
                              bool classes) {
  if (name == "cross_entropy") return LossKind::kCrossEntropy;
  if (name == "mse") return LossKind::kMse;
  if (name != "auto") {
    return invalid_argument("unknown loss '" + name + "': expected auto, cross_entropy or mse");
  }
  if (module.find_method("loss")) return LossKind::kModule;
  return classes ? LossKind::kCrossEntropy : LossKind::kMse;
}

// The batch's mean loss. Errors are the data's fault far more often than
// the model's, so the message shows the shapes the model was given.
Result<torch::Tensor> forward_loss(torch::jit::Module& module, LossKind kind, const Batch& batch,
                                   torch::Tensor* output) {
  try {
    c10::IValue result = module.forward({batch.x});
    if (!result.isTensor()) {
      return invalid_argument("the model's forward returned " + result.tagKind() +
                              ", not a tensor");
    }
    *output = result.toTensor();
  } catch (const std::exception& e) {
    return invalid_argument(
        "the model's forward failed on a batch of shape " + shape_text(batch.x.sizes()) +
        " (does the data's feature shape match what the model expects?): " + exception_message(e));
  }
  try {
    const torch::Tensor out = output->to(torch::kFloat32);
    if (kind == LossKind::kCrossEntropy) return at::cross_entropy_loss(out, batch.y);
    if (kind == LossKind::kMse) {
      if (out.sizes() != batch.y.sizes()) {
        return invalid_argument("mse loss needs targets shaped like the output " +
                                shape_text(out.sizes()) + ", got " + shape_text(batch.y.sizes()));
      }
      return at::mse_loss(out, batch.y);
    }
    c10::IValue loss = module.get_method("loss")({*output, batch.y});
    if (!loss.isTensor()) return invalid_argument("the model's loss method returned no tensor");
    return loss.toTensor();
  } catch (const std::exception& e) {
    return invalid_argument("the loss failed on output " + shape_text(output->sizes()) +
                            " and targets " + shape_text(batch.y.sizes()) + ": " +
                            exception_message(e));
  }
}

int64_t count_correct(const torch::Tensor& output, const Batch& batch) {
  return (output.argmax(1) == batch.y).sum().item<int64_t>();
}

bool has_accuracy(const torch::Tensor& output, const Batch& batch) {
  return batch.y.scalar_type() == torch::kInt64 && output.dim() == 2 &&
         output.size(0) == batch.y.size(0);
}

bool selected(const std::string& name, const std::vector<std::string>& prefixes) {
  if (prefixes.empty()) return true;
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& p) { return name.rfind(p, 0) == 0; });
}

// Turns requires_grad off for the parameters left out of training, so that
// autograd spends nothing on them, and back on when training ends.
// A layer whose parameters are all frozen is put in eval mode for training,
// as PyTorch fine-tuning recipes do: a frozen BatchNorm then normalises with
// its stored statistics instead of updating them, and comes back unchanged
// like its weights.
void keep_frozen_layers_in_eval_mode(torch::jit::Module& module) {
  for (torch::jit::Module child : module.modules()) {
    bool has_parameters = false;
    bool any_trained = false;
    for (const torch::Tensor& p : child.parameters(/*recurse=*/false)) {
      has_parameters = true;
      any_trained = any_trained || p.requires_grad();
    }
    if (has_parameters && !any_trained) child.eval();
  }
}

class FreezeGuard {
 public:
  FreezeGuard() = default;
  FreezeGuard(const FreezeGuard&) = delete;
  FreezeGuard& operator=(const FreezeGuard&) = delete;
  ~FreezeGuard() {
    for (torch::Tensor& t : frozen_) t.requires_grad_(true);
  }
  void freeze(torch::Tensor t) {
    t.requires_grad_(false);
    frozen_.push_back(std::move(t));
  }

 private:
  std::vector<torch::Tensor> frozen_;
};

Result<std::vector<torch::Tensor>> select_parameters(const torch::jit::Module& module,
                                                     const std::vector<std::string>& prefixes,
                                                     FreezeGuard* guard) {
  std::vector<torch::Tensor> params;
  for (const StateEntry& entry : state_entries(module)) {
    if (!entry.is_parameter || !entry.tensor.requires_grad()) continue;
    if (selected(entry.name, prefixes)) {
      params.push_back(entry.tensor);
    } else {
      guard->freeze(entry.tensor);
    }
  }
  if (params.empty()) {
    return invalid_argument(
        "no trainable parameter's name starts with one of the "
        "trainable_prefixes");
  }
  return params;
}

Result<std::unique_ptr<torch::optim::Optimizer>> make_optimizer(
    const std::vector<torch::Tensor>& params, const TrainConfig& c) {
  if (c.optimizer == "sgd") {
    if (c.nesterov && c.momentum <= 0) return invalid_argument("nesterov needs momentum > 0");
    return std::unique_ptr<torch::optim::Optimizer>(
        new torch::optim::SGD(params, torch::optim::SGDOptions(c.lr)
                                          .momentum(c.momentum)
                                          .weight_decay(c.weight_decay)
                                          .nesterov(c.nesterov)));
  }
  if (c.optimizer == "adam") {
    return std::unique_ptr<torch::optim::Optimizer>(new torch::optim::Adam(
        params, torch::optim::AdamOptions(c.lr).weight_decay(c.weight_decay)));
  }
  if (c.optimizer == "adamw") {
    return std::unique_ptr<torch::optim::Optimizer>(new torch::optim::AdamW(
        params, torch::optim::AdamWOptions(c.lr).weight_decay(c.weight_decay)));
  }
  return invalid_argument("unknown optimizer '" + c.optimizer + "': expected sgd, adam or adamw");
}

Status check_config(const TrainConfig& c) {
  if (c.batch_size < 1) return invalid_argument("batch_size must be at least 1");
  if (c.local_steps < 0) return invalid_argument("local_steps must not be negative");
  if (c.local_steps == 0 && c.local_epochs < 1) {
    return invalid_argument("local_epochs must be at least 1 (or set local_steps)");
  }
  for (double v : {c.lr, c.momentum, c.weight_decay, c.proximal_mu, c.clip_norm}) {
    if (!std::isfinite(v) || v < 0) {
      return invalid_argument(
          "lr, momentum, weight_decay, proximal_mu and clip_norm must be "
          "finite and not negative");
    }
  }
  return Status::Ok();
}

// Rescales the gradients so that their total L2 norm is at most max_norm,
// as torch.nn.utils.clip_grad_norm_ does.
void clip_gradients(const std::vector<torch::Tensor>& params, double max_norm) {
  std::vector<torch::Tensor> norms;
  for (const torch::Tensor& p : params) {
    if (p.grad().defined()) norms.push_back(p.grad().detach().norm(2));
  }
  if (norms.empty()) return;
  const double total = torch::stack(norms).norm(2).item<double>();
  if (total <= max_norm) return;
  const double scale = max_norm / (total + 1e-6);
  for (const torch::Tensor& p : params) {
    if (p.grad().defined()) p.grad().mul_(scale);
  }
}

// Turns CUDA autocast on for its lifetime when asked to.
class AutocastGuard {
 public:
  explicit AutocastGuard(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
    previous_ = at::autocast::is_enabled();
    at::autocast::set_enabled(true);
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;
  ~AutocastGuard() {
    if (!enabled_) return;
    at::autocast::set_enabled(previous_);
    at::autocast::clear_cache();
  }

 private:
  bool enabled_;
  bool previous_ = false;
};

// float16 gradients underflow without loss scaling, and the C++ frontend has
// no GradScaler: this is its dynamic scheme (start at 2^16, halve and skip
// the step on overflow, double after 2000 clean steps).
class LossScaler {
 public:
  explicit LossScaler(bool enabled) : enabled_(enabled), scale_(enabled ? 65536.0 : 1.0) {}
  double scale() const { return scale_; }

  // Divides the gradients by the scale. False when they overflowed: the
  // caller must skip this step.
  bool unscale(const std::vector<torch::Tensor>& params) {
    if (!enabled_) return true;
    bool finite = true;
    for (const torch::Tensor& p : params) {
      if (!p.grad().defined()) continue;
      p.grad().div_(scale_);
      finite = finite && torch::isfinite(p.grad()).all().item<bool>();
    }
    if (!finite) {
      scale_ /= 2;
      clean_steps_ = 0;
      return false;
    }
    if (++clean_steps_ == 2000) {
      scale_ *= 2;
      clean_steps_ = 0;
    }
    return true;
  }

 private:
  bool enabled_;
  double scale_;
  int64_t clean_steps_ = 0;
};

struct EpochStats {
  double loss_sum = 0;  // per-sample losses, summed
  int64_t samples = 0;
  int64_t correct = 0;
  bool accuracy = true;  // every batch's output was [B, classes]

  void add(double batch_loss, const torch::Tensor& output, const Batch& batch) {
    const int64_t size = batch.x.size(0);
    loss_sum += batch_loss * static_cast<double>(size);
    samples += size;
    accuracy = accuracy && has_accuracy(output, batch);
    if (accuracy) correct += count_correct(output, batch);
  }
  double mean_loss() const { return loss_sum / static_cast<double>(samples); }
  std::optional<double> accuracy_or_none() const {
    if (!accuracy || samples == 0) return std::nullopt;
    return static_cast<double>(correct) / static_cast<double>(samples);
  }
};

// What one training run holds across its steps.
struct Loop {
  torch::jit::Module& module;
  const TrainConfig& config;
  LossKind loss;
  std::vector<torch::Tensor> params;
  std::vector<torch::Tensor> start;  // for FedProx
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  LossScaler scaler;
  int64_t steps = 0;
};

torch::Tensor proximal_term(const Loop& loop) {
  torch::Tensor sum = torch::zeros({}, loop.params[0].options());
  for (size_t i = 0; i < loop.params.size(); ++i) {
    sum = sum + (loop.params[i] - loop.start[i]).pow(2).sum();
  }
  return sum * (loop.config.proximal_mu / 2);
}

Status train_step(Loop& loop, const Batch& batch, EpochStats* stats) {
  torch::Tensor output;
  torch::Tensor loss;
  {
    AutocastGuard autocast(loop.config.mixed_precision);
    POLLEN_ASSIGN_OR_RETURN(loss, forward_loss(loop.module, loop.loss, batch, &output));
  }
  const double value = loss.item<double>();
  if (!std::isfinite(value)) {
    const char* what = std::isnan(value) ? "NaN" : value > 0 ? "infinite" : "-infinite";
    return invalid_argument(std::string("the loss is ") + what + " at step " +
                            std::to_string(loop.steps + 1) +
                            "; lower the learning rate or set a clip norm");
  }
  // The proximal term steers the update only; the reported loss is the data's.
  torch::Tensor objective = loop.config.proximal_mu > 0 ? loss + proximal_term(loop) : loss;
  loop.optimizer->zero_grad();
  (loop.scaler.scale() == 1.0 ? objective : objective * loop.scaler.scale()).backward();
  if (loop.scaler.unscale(loop.params)) {
    if (loop.config.clip_norm > 0) clip_gradients(loop.params, loop.config.clip_norm);
    loop.optimizer->step();
  }
  ++loop.steps;
  stats->add(value, output.detach(), batch);
  return Status::Ok();
}

std::string epoch_line(int64_t epoch, int64_t epochs, const EpochStats& stats, double seconds) {
  char accuracy[48] = "";
  if (std::optional<double> acc = stats.accuracy_or_none()) {
    std::snprintf(accuracy, sizeof(accuracy), ", accuracy %.4f", *acc);
  }
  char line[192];
  std::snprintf(line, sizeof(line), "epoch %lld/%lld: loss %.3f%s, %.0f samples/s, %.1f s",
                static_cast<long long>(epoch), static_cast<long long>(epochs), stats.mean_loss(),
                accuracy, static_cast<double>(stats.samples) / std::max(seconds, 1e-9), seconds);
  return line;
}

Result<TrainResult> run_training(Model::Impl& impl, const Dataset& data, const TrainConfig& config,
                                 const std::function<void(const std::string&)>& progress) {
  POLLEN_ASSIGN_OR_RETURN(LossKind kind,
                          resolve_loss(impl.module, config.loss, data.labels_are_classes()));
  FreezeGuard frozen;
  POLLEN_ASSIGN_OR_RETURN(std::vector<torch::Tensor> params,
                          select_parameters(impl.module, config.trainable_prefixes, &frozen));
  POLLEN_ASSIGN_OR_RETURN(auto optimizer, make_optimizer(params, config));
  Loop loop{impl.module,
            config,
            kind,
            params,
            {},
            std::move(optimizer),
            LossScaler(config.mixed_precision)};
  if (config.proximal_mu > 0) {
    for (const torch::Tensor& p : params) loop.start.push_back(p.detach().clone());
  }
  at::manual_seed(config.seed);
  std::mt19937_64 rng(config.seed);
  impl.module.train();
  keep_frozen_layers_in_eval_mode(impl.module);

  const size_t n = data.size();
  const auto batch_size = static_cast<size_t>(config.batch_size);
  const auto batches = static_cast<int64_t>((n + batch_size - 1) / batch_size);
  const int64_t epochs =
      config.local_steps > 0 ? (config.local_steps + batches - 1) / batches : config.local_epochs;
  const int64_t total_steps = config.local_steps > 0 ? config.local_steps : epochs * batches;
  if (config.max_steps > 0 && total_steps > config.max_steps) {
    return resource_exhausted(
        "the round asks for " + std::to_string(total_steps) + " optimizer steps (" +
        (config.local_steps > 0 ? "local-steps"
                                : "local-epochs " + std::to_string(epochs) + " x " +
                                      std::to_string(batches) + " batches") +
        "); this node takes at most " + std::to_string(config.max_steps) +
        " per instruction (--max-steps)");
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  TrainResult result;
  result.num_examples = static_cast<int64_t>(n);
  int64_t samples_seen = 0;
  const Clock::time_point start = Clock::now();
  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    if (config.shuffle) std::shuffle(order.begin(), order.end(), rng);
    EpochStats stats;
    const Clock::time_point epoch_start = Clock::now();
    for (size_t begin = 0; begin < n; begin += batch_size) {
      if (config.local_steps > 0 && loop.steps == config.local_steps) break;
      if (config.max_seconds > 0 && seconds_since(start) > config.max_seconds) {
        return resource_exhausted("training took longer than " + number_text(config.max_seconds) +
                                  " s, the most this node gives one instruction "
                                  "(--max-train-seconds); stopped at step " +
                                  std::to_string(loop.steps + 1));
      }
      if (config.stop_requested && config.stop_requested()) {
        return cancelled("training stopped at step " + std::to_string(loop.steps + 1) + " (epoch " +
                         std::to_string(epoch) + " of " + std::to_string(epochs) +
                         "): the node was asked to stop");
      }
      POLLEN_ASSIGN_OR_RETURN(
          Batch batch,
          make_batch(data, order, begin, std::min(n, begin + batch_size), impl.device));
      POLLEN_RETURN_IF_ERROR(train_step(loop, batch, &stats));
    }
    samples_seen += stats.samples;
    result.loss = stats.mean_loss();
    result.accuracy = stats.accuracy_or_none();
    if (progress) progress(epoch_line(epoch, epochs, stats, seconds_since(epoch_start)));
  }
  result.steps = loop.steps;
  result.seconds = seconds_since(start);
  result.samples_per_second = static_cast<double>(samples_seen) / std::max(result.seconds, 1e-9);
  return result;
}

Result<EvalResult> run_evaluation(Model::Impl& impl, const Dataset& data, int64_t batch_size,
                                  const std::string& loss,
                                  const std::function<bool()>& stop_requested) {
  POLLEN_ASSIGN_OR_RETURN(LossKind kind,
                          resolve_loss(impl.module, loss, data.labels_are_classes()));
  torch::NoGradGuard no_grad;
  impl.module.eval();
  const size_t n = data.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  EpochStats stats;
  for (size_t begin = 0; begin < n; begin += static_cast<size_t>(batch_size)) {
    if (stop_requested && stop_requested()) {
      return cancelled("evaluation stopped at sample " + std::to_string(begin) + " of " +
                       std::to_string(n) + ": the node was asked to stop");
    }
    const size_t end = std::min(n, begin + static_cast<size_t>(batch_size));
    POLLEN_ASSIGN_OR_RETURN(Batch batch, make_batch(data, order, begin, end, impl.device));
    torch::Tensor output;
    POLLEN_ASSIGN_OR_RETURN(torch::Tensor value, forward_loss(impl.module, kind, batch, &output));
    stats.add(value.item<double>(), output, batch);
  }
  const double loss_value = stats.mean_loss();
  if (!std::isfinite(loss_value)) {
    // Reported as a metric, NaN would pass for a result (eval_loss=-nan).
    return invalid_argument("the evaluation loss is " + number_text(loss_value) +
                            ": the model's outputs are not finite on this data (diverged "
                            "weights?)");
  }
  return EvalResult{static_cast<int64_t>(n), loss_value, stats.accuracy_or_none()};
}

}  // namespace

Result<TrainResult> train(Model& model, const Dataset& data, const TrainConfig& config,
                          const std::function<void(const std::string&)>& progress) {
  POLLEN_RETURN_IF_ERROR(check_config(config));
  if (data.size() == 0) return invalid_argument("the dataset is empty: nothing to train on");
  Model::Impl& impl = model.impl();
  if (config.mixed_precision && !impl.device.is_cuda()) {
    return failed_precondition("mixed_precision needs a CUDA device; the model is on " +
                               impl.device.str() + " (turn mixed precision off for CPU training)");
  }
  return guarded(impl.path, [&] { return run_training(impl, data, config, progress); });
}

Result<EvalResult> evaluate(Model& model, const Dataset& data, int64_t batch_size,
                            const std::string& loss, const std::function<bool()>& stop_requested) {
  if (batch_size < 1) return invalid_argument("batch_size must be at least 1");
  if (data.size() == 0) return invalid_argument("the dataset is empty: nothing to evaluate");
  Model::Impl& impl = model.impl();
  return guarded(impl.path,
                 [&] { return run_evaluation(impl, data, batch_size, loss, stop_requested); });
}

}  // namespace pollen
