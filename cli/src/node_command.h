// Running a node from the command line: flower-supernode's flags, signals,
// exit codes. Shared by `pollen` and by programs that bring their own Client.
#ifndef POLLEN_CLI_NODE_COMMAND_H_
#define POLLEN_CLI_NODE_COMMAND_H_

#include <string>
#include <vector>

#include "pollen/core/client.h"
#include "pollen/core/status.h"
#include "pollen/runtime/log.h"
#include "pollen/runtime/node.h"
#include "pollen/runtime/stop.h"
#include "pollen/transport/fleet.h"

namespace CLI {
class App;
}

namespace pollen::cli {

struct NodeCommandOptions {
  FleetOptions fleet;
  NodeOptions node;
  LogLevel log_level = LogLevel::kInfo;
};

// Adds the connection flags flower-supernode has, with the same names:
//   --superlink HOST:PORT  --insecure  --root-certificates FILE
//   --auth-supernode-private-key FILE  --max-retries N  --max-wait-time SECONDS
// plus Pollen's --poll-interval SECONDS, --max-replies N, --log-level LEVEL,
// to `app`, writing into `options`. Values are checked as they are parsed
// (CLI::ValidationError names the flag). options->log_level starts as
// POLLEN_LOG_LEVEL says.
void add_node_options(CLI::App& app, NodeCommandOptions* options);

// Parses the flags above from `args` (no program name). Flags it does not
// know are left in `rest`, in order, for the caller. INVALID_ARGUMENT names
// the flag and what was wrong with its value.
Result<NodeCommandOptions> parse_node_flags(const std::vector<std::string>& args,
                                            std::vector<std::string>* rest);

// Connects and runs `client` until SIGINT/SIGTERM (or --max-replies).
// Returns the process exit code: 0 after a clean stop, 1 when the node could
// not run (the reason is logged).
int run_node_command(const NodeCommandOptions& options, Client& client);
// The same with the caller's stop flag and signal wiring, made before its
// own start-up work so that a signal during that work is not lost.
int run_node_command(const NodeCommandOptions& options, Client& client, StopFlag& stop,
                     const SignalStop& signals);

// What to warn about a node key file that group or others may read or
// write ("" when it is owner-only or cannot be read at all).
std::string key_permission_warning(const std::string& key_file);

}  // namespace pollen::cli

#endif  // POLLEN_CLI_NODE_COMMAND_H_
