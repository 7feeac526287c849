// The gRPC side of SuperLinkLite: serves Flower's Fleet API over a
// LinkState and records every call. The only header of the component that
// stands between gRPC and the rest; it includes no gRPC itself.
#ifndef POLLEN_SUPERLINK_LITE_FLEET_SERVER_H_
#define POLLEN_SUPERLINK_LITE_FLEET_SERVER_H_

#include <memory>
#include <vector>

#include "link_state.h"
#include "pollen/core/status.h"
#include "pollen/superlink_lite/superlink_lite.h"

namespace pollen {

// Thread-safe. Serves until shutdown() or destruction.
class FleetServer {
 public:
  // Listens on options.address (TLS when options name a certificate and
  // key) and answers Fleet calls from `state`, which must outlive it.
  static Result<std::unique_ptr<FleetServer>> start(const SuperLinkOptions& options,
                                                    LinkState* state);
  ~FleetServer();
  FleetServer(const FleetServer&) = delete;
  FleetServer& operator=(const FleetServer&) = delete;

  int port() const;
  std::vector<CallRecord> call_log() const;
  void clear_call_log();
  // Stops accepting calls, cancels those still running after a grace
  // period and waits for gRPC's threads. Idempotent.
  void shutdown();

 private:
  struct Impl;
  explicit FleetServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pollen

#endif  // POLLEN_SUPERLINK_LITE_FLEET_SERVER_H_
