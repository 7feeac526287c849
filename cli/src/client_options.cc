#include "client_options.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <memory>
#include <thread>

#include "json_config.h"
#include "validators.h"

namespace pollen::cli {

namespace {

constexpr char kModel[] = "Model and data";
constexpr char kTraining[] = "Training defaults (the server's config overrides them each round)";
constexpr char kState[] = "State on the device";

void add_model_options(CLI::App& app, ClientOptions* o) {
  app.add_option("--model", o->model, "TorchScript file (torch.jit.script(model).save)")
      ->group(kModel);
  app.add_option("--device", o->model_options.device, "auto, cpu, cuda or cuda:N")
      ->capture_default_str()
      ->group(kModel);
  app.add_option("--threads", o->model_options.threads,
                 "LibTorch intra-op threads (0: one per physical core)")
      ->check(kNonNegative)
      ->group(kModel);
  app.add_option("--trainable", o->client.train.trainable_prefixes,
                 "train only parameters whose names start with these prefixes (comma-separated;"
                 " default: every parameter with requires_grad)")
      ->delimiter(',')
      ->group(kModel);
  app.add_option("--train-data", o->train_data,
                 "training data: a torch.save({'x': X, 'y': Y}) file (.pt), a CSV file or a"
                 " directory of them")
      ->group(kModel);
  app.add_option("--eval-data", o->eval_data, "evaluation data, same formats (default: train data)")
      ->group(kModel);
  app.add_option("--label-column", o->data.label_column,
                 "CSV label column, by header name or index (default: the last)")
      ->group(kModel);
  app.add_option("--node-config", o->node_config,
                 "as flower-supernode: \"partition-id=0 num-partitions=4\" trains on that"
                 " partition of --train-data")
      ->group(kModel);
}

void add_training_options(CLI::App& app, ClientOptions* o) {
  TrainConfig& t = o->client.train;
  app.add_option("--lr", t.lr, "learning rate (server key: lr)")
      ->capture_default_str()
      ->check(kPositive)
      ->group(kTraining);
  app.add_option("--local-epochs", t.local_epochs, "epochs per round (local-epochs)")
      ->capture_default_str()
      ->check(kPositive)
      ->group(kTraining);
  app.add_option("--local-steps", t.local_steps,
                 "optimizer steps per round instead of epochs (local-steps; 0: use epochs)")
      ->check(kNonNegative)
      ->group(kTraining);
  app.add_option("--batch-size", t.batch_size, "batch size (batch-size)")
      ->capture_default_str()
      ->check(kPositive)
      ->group(kTraining);
  app.add_option("--optimizer", t.optimizer, "sgd, adam or adamw (optimizer)")
      ->capture_default_str()
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}))
      ->group(kTraining);
  app.add_option("--momentum", t.momentum, "SGD momentum (momentum)")
      ->check(kNonNegative)
      ->group(kTraining);
  app.add_option("--weight-decay", t.weight_decay, "weight decay (weight-decay)")
      ->check(kNonNegative)
      ->group(kTraining);
  app.add_flag("--nesterov", t.nesterov, "Nesterov momentum for SGD")->group(kTraining);
  app.add_option("--proximal-mu", t.proximal_mu, "FedProx proximal term (proximal-mu)")
      ->check(kNonNegative)
      ->group(kTraining);
  app.add_option("--clip-norm", t.clip_norm, "clip gradients to this L2 norm (clip-norm)")
      ->check(kNonNegative)
      ->group(kTraining);
  app.add_option("--loss", t.loss,
                 "auto (the model's own loss() method, else cross_entropy for class labels,"
                 " mse otherwise), cross_entropy or mse")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "cross_entropy", "mse"}))
      ->group(kTraining);
  app.add_option("--seed", t.seed, "shuffle and dropout seed (seed)")->group(kTraining);
  app.add_flag("--mixed-precision", t.mixed_precision, "float16 autocast (CUDA only)")
      ->group(kTraining);
  app.add_option("--max-steps", t.max_steps,
                 "most optimizer steps one instruction may ask for; more is an error reply"
                 " (0: no limit)")
      ->capture_default_str()
      ->check(kNonNegative)
      ->group(kTraining);
  app.add_option("--max-train-seconds", t.max_seconds,
                 "longest one instruction may train; longer stops with an error reply"
                 " (0: no limit)")
      ->capture_default_str()
      ->check(kNonNegative)
      ->group(kTraining);
  app.add_option("--eval-batch-size", o->client.eval_batch_size, "batch size for evaluation")
      ->capture_default_str()
      ->check(kPositive)
      ->group(kTraining);
}

// --train-metrics / --evaluate-metrics: parsed on the spot, so that a bad
// list is a usage error naming the flag (or config key).
void add_metric_keys_option(CLI::App& app, const std::string& flag, bool train, MetricKeys* out,
                            const std::string& help) {
  app.add_option_function<std::string>(
         flag,
         [flag, train, out](const std::string& text) {
           Result<MetricKeys> keys = parse_metric_keys(text, train);
           if (!keys.ok()) throw CLI::ValidationError(flag, keys.status().message());
           *out = std::move(keys).value();
         },
         help)
      ->default_str(to_string(*out))
      ->group(kTraining);
}

void add_metrics_options(CLI::App& app, ClientOptions* o) {
  add_metric_keys_option(
      app, "--train-metrics", true, &o->client.train_metrics,
      "metrics of train replies: loss, accuracy, num-examples, each optionally =KEY (default:"
      " what Flower's PyTorch quickstart ClientApp sends). Every node of a round must send the"
      " same keys");
  add_metric_keys_option(app, "--evaluate-metrics", false, &o->client.evaluate_metrics,
                         "metrics of evaluate replies, as --train-metrics");
  app.add_option("--energy-metrics", o->energy_metrics,
                 "add energy-joules, power-peak-watts, train-seconds, cpu-util, gpu-util and"
                 " temp-max-c to train metrics: off, device (what this device can read) or all"
                 " (every key, NaN where unreadable). Strategies need the same keys from every"
                 " node: use the same setting everywhere, and 'all' on mixed hardware")
      ->capture_default_str()
      ->check(CLI::IsMember({"off", "device", "all"}))
      ->group(kTraining);
}

void add_state_options(CLI::App& app, ClientOptions* o) {
  app.add_option("--state-dir", o->state_dir,
                 "keep the last global and local model here (global.npz, local.npz, state.json)"
                 " and resume from them on restart")
      ->group(kState);
  app.add_flag("--persistent-key", o->persistent_key,
               "keep the node key in STATE_DIR/node.key (made on first start) and use it as"
               " --auth-supernode-private-key")
      ->group(kState);
}

}  // namespace

void add_client_options(CLI::App& app, ClientOptions* o) {
  add_node_options(app, &o->node);
  add_model_options(app, o);
  add_training_options(app, o);
  add_metrics_options(app, o);
  add_state_options(app, o);
  app.set_config("--config", "", "JSON file with any of these flags as keys; flags override it");
  app.config_formatter(std::make_shared<JsonConfig>(&app));
}

Status check_client_options(const ClientOptions& o) {
  if (o.model.empty()) return invalid_argument("--model is required (a TorchScript file)");
  if (o.train_data.empty()) return invalid_argument("--train-data is required");
  if (o.persistent_key && o.state_dir.empty()) {
    return invalid_argument("--persistent-key needs --state-dir");
  }
  if (o.persistent_key && o.node.fleet.insecure) {
    return invalid_argument(
        "--persistent-key authenticates the node, which needs TLS: "
        "use --root-certificates instead of --insecure");
  }
  const int cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (o.model_options.threads > cpus) {
    return invalid_argument("--threads " + std::to_string(o.model_options.threads) +
                            ": this machine has " + std::to_string(cpus) +
                            " logical CPUs; use at most that (0: one per physical core)");
  }
  if (o.client.train.nesterov && o.client.train.momentum <= 0) {
    return invalid_argument("--nesterov needs --momentum > 0");
  }
  if (o.client.train.mixed_precision && o.model_options.device == "cpu") {
    return invalid_argument("--mixed-precision needs a CUDA device, not --device cpu");
  }
  if (o.persistent_key && !o.node.fleet.auth_private_key.empty()) {
    return invalid_argument("--persistent-key and --auth-supernode-private-key cannot be combined");
  }
  return Status::Ok();
}

}  // namespace pollen::cli
