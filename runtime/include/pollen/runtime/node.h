// The node loop: connect, then pull an instruction, hand it to the Client,
// push the reply, and keep going until asked to stop; heartbeats run on
// their own thread the whole time.
#ifndef POLLEN_RUNTIME_NODE_H_
#define POLLEN_RUNTIME_NODE_H_

#include <cstdint>

#include "pollen/core/client.h"
#include "pollen/core/connection.h"
#include "pollen/core/status.h"
#include "pollen/runtime/stop.h"

namespace pollen {

struct NodeOptions {
  // Seconds between polls when no instruction is waiting (Flower: 3 s).
  double poll_interval = 3.0;
  // Stop after this many replies (0 = run until stopped). Used by demos and
  // tests that know how many rounds a run has.
  int64_t max_replies = 0;
  // After the last reply, keep heartbeating this long before disconnecting,
  // so the ServerApp can still collect it (it polls every 3 s and masks
  // replies of nodes that went offline).
  double linger = 10.0;
  // Give up after this many consecutive failed reconnects (0 = never).
  int max_reconnects = 0;
};

// What a run of the node did.
struct NodeStats {
  int64_t instructions = 0;   // received
  int64_t replies = 0;        // sent and accepted
  int64_t error_replies = 0;  // of those, Error replies
  int64_t dropped = 0;        // instructions not answered (run stopped, expired)
  int64_t reconnects = 0;
};

// Runs the node until `stop` is requested or `options.max_replies` replies
// were sent. On the way out it stops the heartbeat thread and disconnects.
// Returns OK on a requested stop; an error when the connection cannot be
// (re)established or its retry limits are exhausted. `stats` may be null.
Status run_node(Connection& connection, Client& client, const NodeOptions& options,
                const StopFlag& stop, NodeStats* stats = nullptr);

}  // namespace pollen

#endif  // POLLEN_RUNTIME_NODE_H_
