#include "client_command.h"

#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>

#include "keygen.h"
#include "pollen/models/trainer.h"
#include "pollen/runtime/power.h"
#include "pollen/runtime/state_dir.h"

namespace pollen::cli {

namespace {

// The first `n` samples of a dataset, for a dry run before connecting.
class HeadView final : public Dataset {
 public:
  HeadView(const Dataset& base, size_t n) : base_(base), n_(std::min(n, base.size())) {}
  size_t size() const override { return n_; }
  Result<Sample> get(size_t index) const override {
    if (index >= n_) return out_of_range("sample index out of range");
    return base_.get(index);
  }
  bool labels_are_classes() const override { return base_.labels_are_classes(); }

 private:
  const Dataset& base_;
  size_t n_;
};

std::string shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

// The node's data, with its partition applied.
struct Data {
  std::unique_ptr<Dataset> train;
  std::unique_ptr<Dataset> eval;
};

Result<std::unique_ptr<Dataset>> open_partitioned(const ClientOptions& o) {
  POLLEN_ASSIGN_OR_RETURN(std::unique_ptr<Dataset> data, open_dataset(o.train_data, o.data));
  POLLEN_ASSIGN_OR_RETURN(NodeConfig config, parse_node_config(o.node_config));
  const ConfigValue* id = config.find("partition-id");
  const ConfigValue* count = config.find("num-partitions");
  if (id == nullptr && count == nullptr) return data;
  if (id == nullptr || count == nullptr) {
    return invalid_argument("--node-config: partition-id and num-partitions go together");
  }
  Result<int64_t> id_value = config_as_int(*id);
  Result<int64_t> count_value = config_as_int(*count);
  if (!id_value.ok() || !count_value.ok()) {
    return invalid_argument("--node-config: partition-id and num-partitions must be integers");
  }
  return partition(std::move(data), *id_value, *count_value);
}

Result<Data> open_data(const ClientOptions& o) {
  Data data;
  POLLEN_ASSIGN_OR_RETURN(data.train, open_partitioned(o));
  if (!o.eval_data.empty()) {
    POLLEN_ASSIGN_OR_RETURN(data.eval, open_dataset(o.eval_data, o.data));
  }
  return data;
}

// Runs the model on the first samples of each dataset, so that data that
// does not fit the model is reported now, naming the flag, rather than as
// an error reply in every round.
Status dry_run(Model& model, const Data& data, const ClientOptions& o) {
  const std::pair<const char*, const Dataset*> sets[] = {{"--train-data", data.train.get()},
                                                         {"--eval-data", data.eval.get()}};
  for (const auto& [flag, set] : sets) {
    if (set == nullptr) continue;
    HeadView head(*set, 2);
    Result<EvalResult> result = evaluate(model, head, 2, o.client.train.loss);
    if (!result.ok()) {
      POLLEN_ASSIGN_OR_RETURN(std::vector<int64_t> shape, feature_shape(*set));
      return invalid_argument(std::string(flag) + ": samples of shape " + shape_text(shape) +
                              " do not fit the model: " + result.status().message());
    }
  }
  return Status::Ok();
}

void log_setup(const ClientOptions& o, const Model& model, const Data& data) {
  Result<std::vector<int64_t>> shape = feature_shape(*data.train);
  const std::vector<std::string>& prefixes = o.client.train.trainable_prefixes;
  POLLEN_LOG(Info) << "Model " << o.model << " on " << model.device_name() << ": "
                   << model.num_trainable_parameters(prefixes) << " of "
                   << model.num_trainable_parameters() << " trainable parameters trained"
                   << (prefixes.empty() ? "" : " (--trainable)");
  POLLEN_LOG(Info) << "Train data " << o.train_data
                   << (o.node_config.empty() ? "" : " (" + o.node_config + ")") << ": "
                   << data.train->size() << " samples of "
                   << (shape.ok() ? shape_text(*shape) : "?")
                   << (data.train->labels_are_classes() ? ", class labels" : ", regression");
  if (data.eval) {
    POLLEN_LOG(Info) << "Eval data " << o.eval_data << ": " << data.eval->size() << " samples";
  }
}

// Loads the last local model from the state directory, if there is one.
Status resume(StateDir& dir, Model& model) {
  POLLEN_ASSIGN_OR_RETURN(SavedState state, dir.read_state());
  POLLEN_ASSIGN_OR_RETURN(std::optional<ArrayRecord> local, dir.load_local());
  if (!local) return Status::Ok();
  Status loaded = model.load_arrays(*local);
  if (!loaded.ok()) {
    return invalid_argument("--state-dir: " + dir.local_path() + " does not fit this model (" +
                            loaded.message() + "); use another --state-dir or delete it");
  }
  POLLEN_LOG(Info) << "Resumed the local model of run " << state.local->run_id << ", round "
                   << state.local->server_round << " from " << dir.local_path();
  return Status::Ok();
}

// Makes STATE_DIR/node.key on first use and points the connection at it.
Status use_persistent_key(const StateDir& dir, NodeCommandOptions* node) {
  const std::string key = dir.key_path();
  if (!std::filesystem::exists(key)) {
    std::ostringstream out, err;
    if (run_keygen(key, out, err) != 0) return failed_precondition(err.str());
    POLLEN_LOG(Info) << "Made a node key; register " << key
                     << ".pub with `flwr supernode register` before the SuperLink accepts it";
  }
  node->fleet.auth_private_key = key;
  return Status::Ok();
}

void log_metering(const MeteredClient& metered) {
  std::string keys;
  for (const std::string& key : metered.metric_keys()) keys += (keys.empty() ? "" : ", ") + key;
  // The source (or why there is none) is logged by MeteredClient itself.
  POLLEN_LOG(Info) << "Energy metrics in train replies: " << keys;
}

int fail(const Status& status) {
  POLLEN_LOG(Error) << status.message();
  return 1;
}

}  // namespace

int run_client_command(const ClientOptions& options) {
  set_log_level(options.node.log_level);
  StopFlag stop;
  // Until the node serves, a signal ends the process at once: loading a
  // model or a large CSV has nothing to clean up and no stop check.
  SignalStop signals(&stop, /*exit_on_signal=*/true);
  ClientOptions o = options;
  Result<std::unique_ptr<Model>> model = Model::load(o.model, o.model_options);
  if (!model.ok()) return fail(model.status());
  Result<Data> data = open_data(o);
  if (!data.ok()) return fail(data.status());
  if (Status s = dry_run(**model, *data, o); !s.ok()) return fail(s);
  if ((*model)->num_trainable_parameters(o.client.train.trainable_prefixes) == 0) {
    return fail(
        invalid_argument("--trainable: no trainable parameter's name starts with one of "
                         "the given prefixes; `pollen inspect " +
                         o.model + "` lists the names"));
  }
  log_setup(o, **model, *data);
  signals.exit_on_signal(false);  // from here on state files may be written

  std::optional<StateDir> dir;
  if (!o.state_dir.empty()) {
    Result<StateDir> opened = StateDir::open(o.state_dir);
    if (!opened.ok()) return fail(opened.status());
    dir.emplace(std::move(*opened));
    if (Status s = resume(*dir, **model); !s.ok()) return fail(s);
    if (o.persistent_key) {
      if (Status s = use_persistent_key(*dir, &o.node); !s.ok()) return fail(s);
    }
  }

  o.client.progress = [](const std::string& line) { POLLEN_LOG(Info) << line; };
  o.client.train.stop_requested = [&stop] { return stop.stop_requested(); };
  TorchClient torch_client(**model, *data->train, data->eval.get(), o.client);
  Client* client = &torch_client;
  std::optional<MeteredClient> metered;
  if (o.energy_metrics != "off") {
    MeteredClient::Options metering;
    metering.every_key = o.energy_metrics == "all";
    metered.emplace(*client, "/", metering);
    log_metering(*metered);
    client = &*metered;
  }
  std::optional<StatefulClient> stateful;
  if (dir) client = &stateful.emplace(*client, *dir);
  return run_node_command(o.node, *client, stop, signals);
}

}  // namespace pollen::cli
