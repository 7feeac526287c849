// Connection: how the node loop talks to a Flower server, whatever the
// transport (gRPC Fleet API today; the legacy stream plugs in the same way).
#ifndef POLLEN_CORE_CONNECTION_H_
#define POLLEN_CORE_CONNECTION_H_

#include <cstdint>
#include <optional>

#include "pollen/core/message.h"
#include "pollen/core/status.h"

namespace pollen {

// One instruction from the server. `metadata` always comes from the server's
// envelope; `message` is the inflated instruction when `status` is OK.
// A non-OK status means the instruction arrived but could not be read
// (missing or corrupt objects, malformed records): the node answers it with
// an error reply instead of dropping it.
struct Instruction {
  Metadata metadata;
  Status status;
  std::optional<Message> message;
};

// Error codes a Connection reports, and what the node loop does with them:
//   UNAVAILABLE / DEADLINE_EXCEEDED  retried inside the connection; surfaced
//                                    only when retry limits are exhausted
//   PERMISSION_DENIED                the run is not running: drop the message
//   UNAUTHENTICATED                  the server no longer knows this node
//                                    (e.g. it restarted): connect() again
//   anything else                    logged; the node stays up
//
// Thread-safety: heartbeat() may be called from another thread while any
// other method runs; the other methods are called from one thread.
class Connection {
 public:
  virtual ~Connection() = default;

  // Registers (unless the key is pre-registered) and activates this node.
  // Calling it again after UNAUTHENTICATED starts over as a new node.
  virtual Status connect() = 0;

  // The node id the server gave at connect(); 0 before.
  virtual uint64_t node_id() const = 0;

  // Seconds between heartbeats the server expects (as sent in connect()).
  virtual double heartbeat_interval() const = 0;

  // Tells the server this node is alive. Safe to call concurrently.
  virtual Status heartbeat() = 0;

  // Fetches at most one waiting instruction with all its objects and
  // confirms its receipt; nullopt when none is waiting.
  virtual Result<std::optional<Instruction>> receive() = 0;

  // Sends a reply and every object the server asks for. `runtime_seconds`
  // is the time spent computing it. Fails if the server rejected the reply.
  virtual Status send(const Message& reply, double runtime_seconds) = 0;

  // Deactivates (and, if self-registered, unregisters) the node. Best
  // effort, no retries: the server drops silent nodes by itself.
  virtual Status disconnect() = 0;
};

}  // namespace pollen

#endif  // POLLEN_CORE_CONNECTION_H_
