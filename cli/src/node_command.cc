#include "node_command.h"

#include <charconv>
#include <cmath>

#include "pollen/runtime/stop.h"

namespace pollen::cli {

namespace {

Result<double> parse_number(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value) || value < 0) {
    return invalid_argument(flag + " expects a non-negative number, got '" + text + "'");
  }
  return value;
}

Result<int64_t> parse_count(const std::string& flag, const std::string& text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
    return invalid_argument(flag + " expects a non-negative integer, got '" + text + "'");
  }
  return value;
}

// Applies one flag that takes a value; false when `flag` is not ours.
Result<bool> apply_valued(const std::string& flag, const std::string& value,
                          NodeCommandOptions* o) {
  if (flag == "--superlink") {
    o->fleet.superlink = value;
  } else if (flag == "--root-certificates") {
    o->fleet.root_certificates = value;
  } else if (flag == "--auth-supernode-private-key") {
    o->fleet.auth_private_key = value;
  } else if (flag == "--max-retries") {
    POLLEN_ASSIGN_OR_RETURN(int64_t n, parse_count(flag, value));
    o->fleet.retry.max_retries = static_cast<int>(n);
  } else if (flag == "--max-wait-time") {
    POLLEN_ASSIGN_OR_RETURN(o->fleet.retry.max_wait_time, parse_number(flag, value));
  } else if (flag == "--poll-interval") {
    POLLEN_ASSIGN_OR_RETURN(o->node.poll_interval, parse_number(flag, value));
  } else if (flag == "--max-replies") {
    POLLEN_ASSIGN_OR_RETURN(o->node.max_replies, parse_count(flag, value));
  } else if (flag == "--log-level") {
    POLLEN_ASSIGN_OR_RETURN(o->log_level, parse_log_level(value));
  } else {
    return false;
  }
  return true;
}

bool takes_value(const std::string& flag) {
  for (const char* f :
       {"--superlink", "--root-certificates", "--auth-supernode-private-key", "--max-retries",
        "--max-wait-time", "--poll-interval", "--max-replies", "--log-level"}) {
    if (flag == f) return true;
  }
  return false;
}

}  // namespace

Result<NodeCommandOptions> parse_node_flags(const std::vector<std::string>& args,
                                            std::vector<std::string>* rest) {
  NodeCommandOptions options;
  options.log_level = log_level();  // POLLEN_LOG_LEVEL, unless --log-level says otherwise
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::string value;
    const size_t eq = flag.find('=');
    const bool inline_value = flag.rfind("--", 0) == 0 && eq != std::string::npos;
    if (inline_value) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    if (flag == "--insecure") {
      options.fleet.insecure = true;
      continue;
    }
    if (!takes_value(flag)) {
      rest->push_back(args[i]);
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) return invalid_argument(flag + " needs a value");
      value = args[++i];
    }
    POLLEN_ASSIGN_OR_RETURN(bool applied, apply_valued(flag, value, &options));
    (void)applied;
  }
  if (options.fleet.insecure && !options.fleet.root_certificates.empty()) {
    return invalid_argument("--insecure and --root-certificates cannot be used together");
  }
  return options;
}

const char* node_flags_usage() {
  return "connection (as flower-supernode):\n"
         "  --superlink HOST:PORT              SuperLink Fleet API address (127.0.0.1:9092)\n"
         "  --insecure                         plaintext gRPC (no TLS)\n"
         "  --root-certificates FILE           PEM roots for TLS (default: system roots)\n"
         "  --auth-supernode-private-key FILE  a key registered with `flwr supernode register`\n"
         "  --max-retries N                    give up a call after N retries (default: never)\n"
         "  --max-wait-time SECONDS            give up a call after retrying this long\n"
         "node:\n"
         "  --poll-interval SECONDS            wait between empty polls (3)\n"
         "  --max-replies N                    stop after N replies (default: run until stopped)\n"
         "  --log-level LEVEL                  DEBUG, INFO, WARNING, ERROR (or POLLEN_LOG_LEVEL)\n";
}

int run_node_command(const NodeCommandOptions& options, Client& client) {
  set_log_level(options.log_level);
  StopFlag stop;
  SignalStop signals(&stop);  // before any thread starts, so all of them block the signals
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
