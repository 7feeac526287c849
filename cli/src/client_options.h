// `pollen`'s node mode: every flag (and --config JSON key) that turns a
// TorchScript model and data on the device into a Flower client.
#ifndef POLLEN_CLI_CLIENT_OPTIONS_H_
#define POLLEN_CLI_CLIENT_OPTIONS_H_

#include <string>
#include <vector>

#include "node_command.h"
#include "pollen/models/dataset.h"
#include "pollen/models/model.h"
#include "pollen/models/torch_client.h"

namespace CLI {
class App;
}

namespace pollen::cli {

struct ClientOptions {
  NodeCommandOptions node;  // connection, node loop, log level
  std::string model;        // TorchScript file
  ModelOptions model_options;
  std::string train_data;
  std::string eval_data;  // empty: evaluate on the training data
  DataOptions data;
  std::string node_config;  // flower-supernode's --node-config text
  // Defaults for training; a server's ConfigRecord overrides them per round.
  TorchClientOptions client;
  std::string state_dir;        // empty: keep nothing on disk
  bool persistent_key = false;  // node key kept in state_dir/node.key
  // Per-round energy and device metrics in train replies: "off", "device"
  // (the keys this device can read) or "all" (every key, NaN where unread).
  std::string energy_metrics = "off";
};

// Adds the node-mode flags, grouped for --help, and --config FILE (JSON,
// see json_config.h) to `app`, writing into `options`.
void add_client_options(CLI::App& app, ClientOptions* options);

// Checks what CLI11 cannot after a parse: that --model and --train-data are
// given (by flag or config file) and that --persistent-key has a
// --state-dir. INVALID_ARGUMENT naming the flag.
Status check_client_options(const ClientOptions& options);

}  // namespace pollen::cli

#endif  // POLLEN_CLI_CLIENT_OPTIONS_H_
