// What both programs of this example share: a handful of flower-supernode's
// flags, and running a pollen::Client against the SuperLink until the
// process gets SIGINT or SIGTERM.
#ifndef CUSTOM_CLIENT_NODE_MAIN_H_
#define CUSTOM_CLIENT_NODE_MAIN_H_

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>

#include "pollen/core/client.h"
#include "pollen/runtime/log.h"
#include "pollen/runtime/node.h"
#include "pollen/runtime/stop.h"
#include "pollen/transport/fleet.h"

namespace example {

struct NodeFlags {
  pollen::FleetOptions fleet;  // --superlink, --insecure, --root-certificates
  pollen::NodeOptions node;    // --poll-interval
  uint64_t device_seed = 1;    // --device-seed: which simulated machine this is
  int64_t windows = 512;       // --windows: sensor windows per training set
};

inline const char kCommonUsage[] =
    "  --superlink HOST:PORT     the SuperLink's Fleet API (default 127.0.0.1:9092)\n"
    "  --insecure                plaintext gRPC (otherwise TLS)\n"
    "  --root-certificates FILE  PEM roots to verify the SuperLink's certificate\n"
    "  --device-seed N           which simulated machine this node reads (default 1)\n"
    "  --windows N               sensor windows per round (default 512)\n"
    "  --poll-interval SECONDS   wait between polls when idle (default 3)\n";

// Parses argv into `flags`; flags it does not know go to `extra(flag, value)`
// (every flag but --insecure takes a value), which returns false to reject
// them. Prints what was wrong and returns false on a bad command line.
inline bool parse_flags(int argc, char** argv, NodeFlags* flags,
                        const std::function<bool(const std::string&, const std::string&)>& extra) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--insecure") {
      flags->fleet.insecure = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::cerr << flag << ": needs a value (or is unknown)\n";
      return false;
    }
    const std::string value = argv[++i];
    char* end = nullptr;
    const double number = std::strtod(value.c_str(), &end);
    const bool positive = !value.empty() && *end == '\0' && number > 0;
    if (flag == "--superlink") {
      flags->fleet.superlink = value;
    } else if (flag == "--root-certificates") {
      flags->fleet.root_certificates = value;
    } else if (flag == "--device-seed" && positive) {
      flags->device_seed = static_cast<uint64_t>(number);
    } else if (flag == "--windows" && positive && number >= 2) {
      flags->windows = static_cast<int64_t>(number);
    } else if (flag == "--poll-interval" && positive) {
      flags->node.poll_interval = number;
    } else if (!extra(flag, value)) {
      std::cerr << "bad flag or value: " << flag << " " << value << "\n";
      return false;
    }
  }
  return true;
}

// Connects to the SuperLink and serves `client` until `stop` is requested
// (SIGINT/SIGTERM through a pollen::SignalStop made at the top of main()).
// Returns the exit code: 0 after a clean stop, 1 when the node could not run.
inline int serve(const NodeFlags& flags, pollen::Client& client, pollen::StopFlag& stop) {
  pollen::FleetOptions fleet = flags.fleet;
  // Ends retry waits early once a stop is requested, so that a signal is
  // obeyed even while the SuperLink is unreachable.
  fleet.stop_requested = [&stop] { return stop.stop_requested(); };
  pollen::Result<std::unique_ptr<pollen::Connection>> connection = pollen::connect_fleet(fleet);
  if (!connection.ok()) {
    POLLEN_LOG(Error) << connection.status();
    return 1;
  }
  POLLEN_LOG(Info) << "Connecting to " << fleet.superlink
                   << (fleet.insecure ? " (insecure)" : " (TLS)");
  pollen::NodeStats stats;
  const pollen::Status status = pollen::run_node(**connection, client, flags.node, stop, &stats);
  POLLEN_LOG(Info) << "Node stopped: " << stats.instructions << " instructions, " << stats.replies
                   << " replies (" << stats.error_replies << " errors)";
  if (!status.ok() && !stop.stop_requested()) {
    POLLEN_LOG(Error) << status;
    return 1;
  }
  return 0;
}

}  // namespace example

#endif  // CUSTOM_CLIENT_NODE_MAIN_H_
