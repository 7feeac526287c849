#include "node_command.h"

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>

#include "pollen/runtime/stop.h"
#include "validators.h"

namespace pollen::cli {

namespace {

constexpr char kConnection[] = "Connection (as flower-supernode)";
constexpr char kNode[] = "Node";

}  // namespace

void add_node_options(CLI::App& app, NodeCommandOptions* o) {
  o->log_level = log_level();  // POLLEN_LOG_LEVEL, unless --log-level says otherwise
  app.add_option("--superlink", o->fleet.superlink, "SuperLink Fleet API address, HOST:PORT")
      ->capture_default_str()
      ->check([](const std::string& address) { return check_superlink_address(address).message(); })
      ->group(kConnection);
  CLI::Option* insecure =
      app.add_flag("--insecure", o->fleet.insecure, "plaintext gRPC (no TLS)")->group(kConnection);
  app.add_option("--root-certificates", o->fleet.root_certificates,
                 "PEM file of root certificates for TLS (default: the system's)")
      ->excludes(insecure)
      ->group(kConnection);
  app.add_option("--auth-supernode-private-key", o->fleet.auth_private_key,
                 "node key registered with `flwr supernode register` (PEM or OpenSSH)")
      ->group(kConnection);
  app.add_option("--max-message-bytes", o->fleet.max_message_bytes,
                 "most bytes one instruction may bring; a larger one gets an error reply"
                 " (0: no limit)")
      ->capture_default_str()
      ->group(kConnection);
  app.add_option("--max-retries", o->fleet.retry.max_retries,
                 "give up a call after N retries (default: retry forever)")
      ->check(kNonNegative)
      ->group(kConnection);
  app.add_option("--max-wait-time", o->fleet.retry.max_wait_time,
                 "give up a call after retrying this many seconds (0: no limit)")
      ->check(kNonNegative)
      ->group(kConnection);
  app.add_option("--heartbeat-interval", o->fleet.heartbeat_interval,
                 "seconds the SuperLink may wait for this node's next heartbeat before it"
                 " counts the node as offline (the SuperLink accepts 10 to 1800)")
      ->capture_default_str()
      ->check(CLI::Range(10.0, 1800.0))
      ->group(kConnection);
  app.add_option("--poll-interval", o->node.poll_interval,
                 "seconds between polls while no instruction waits")
      ->capture_default_str()
      ->check(kNonNegative)
      ->group(kNode);
  app.add_option("--max-replies", o->node.max_replies,
                 "stop after N replies (0: run until SIGINT/SIGTERM)")
      ->check(kNonNegative)
      ->group(kNode);
  app.add_option_function<std::string>(
         "--log-level",
         [o](const std::string& text) {
           Result<LogLevel> level = parse_log_level(text);
           if (!level.ok()) throw CLI::ValidationError("--log-level", level.status().message());
           o->log_level = *level;
         },
         "DEBUG, INFO, WARNING or ERROR (default: $POLLEN_LOG_LEVEL, else INFO)")
      ->group(kNode);
}

Result<NodeCommandOptions> parse_node_flags(const std::vector<std::string>& args,
                                            std::vector<std::string>* rest) {
  NodeCommandOptions options;
  CLI::App app;
  app.allow_extras();
  app.prefix_command(false);
  add_node_options(app, &options);
  // CLI11 parses a reversed vector (it pops from the back).
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return invalid_argument(e.what());
  }
  *rest = app.remaining();
  return options;
}

std::string key_permission_warning(const std::string& key_file) {
  struct stat info {};
  if (key_file.empty() || ::stat(key_file.c_str(), &info) != 0) return "";
  if ((info.st_mode & 077) == 0) return "";
  char mode[8];
  std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(info.st_mode & 07777));
  return "private key file '" + key_file + "' is open to other users (mode " + mode +
         "): whoever reads it can act as this node. chmod 600 " + key_file;
}

int run_node_command(const NodeCommandOptions& options, Client& client) {
  set_log_level(options.log_level);
  StopFlag stop;
  SignalStop signals(&stop);  // before any thread starts, so all of them block the signals
  return run_node_command(options, client, stop, signals);
}

int run_node_command(const NodeCommandOptions& options, Client& client, StopFlag& stop,
                     const SignalStop& signals) {
  set_log_level(options.log_level);
  // As ssh does, though ssh refuses such a key: a node must still start on
  // a device whose image shipped the key with loose permissions.
  if (std::string warning = key_permission_warning(options.fleet.auth_private_key);
      !warning.empty()) {
    POLLEN_LOG(Warning) << warning;
  }
  FleetOptions fleet = options.fleet;
  fleet.stop_requested = [&stop] { return stop.stop_requested(); };
  Result<std::unique_ptr<Connection>> connection = connect_fleet(fleet);
  if (!connection.ok()) {
    POLLEN_LOG(Error) << connection.status().message();
    return 1;
  }
  POLLEN_LOG(Info) << "Starting Pollen node, SuperLink " << fleet.superlink
                   << (fleet.insecure ? " (insecure)" : " (TLS)");
  Status status = run_node(**connection, client, options.node, stop);
  if (!status.ok() && !stop.stop_requested()) {
    POLLEN_LOG(Error) << status.message();
    return 1;
  }
  if (signals.signal_received() != 0) {
    POLLEN_LOG(Info) << "Stopped by signal " << signals.signal_received();
  }
  return 0;
}

}  // namespace pollen::cli
