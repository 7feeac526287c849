// The Fleet calls a node makes, each signed, with a deadline on every
// attempt, retried by one RetryPolicy and its gRPC status mapped once
// (rpc_status.h). The gRPC stub stays behind FleetRpc::Stub, so this header
// needs only the protobuf messages.
#ifndef POLLEN_TRANSPORT_FLEET_RPC_H_
#define POLLEN_TRANSPORT_FLEET_RPC_H_

#include <memory>

#include "flwr/proto/fleet.pb.h"
#include "flwr/proto/heartbeat.pb.h"
#include "flwr/proto/message.pb.h"
#include "pollen/core/signing.h"
#include "pollen/core/status.h"
#include "pollen/transport/fleet.h"
#include "retry.h"

namespace pollen::fleet {

// The limits of one call.
struct CallOptions {
  double timeout = 30.0;  // deadline of each attempt, seconds
  RetryOptions retry;     // max_retries = 0 for a single try
};

// Thread-safe: the gRPC stub and the retry policy are.
class FleetRpc {
 public:
  class Stub;  // wraps flwr::proto::Fleet::StubInterface (fleet_rpc.cc)

  FleetRpc(std::unique_ptr<Stub> stub, std::unique_ptr<RetryPolicy> retry);
  ~FleetRpc();
  FleetRpc(const FleetRpc&) = delete;
  FleetRpc& operator=(const FleetRpc&) = delete;

  // Calls the Fleet method that takes `Request` (RegisterNodeFleetRequest ->
  // RegisterNode, ...) with a fresh context per attempt carrying the three
  // signing headers made with `key` and a deadline `options.timeout` ahead.
  // Instantiated for every Fleet request type a node sends.
  template <typename Request, typename Response>
  Status call(const Request& request, Response* response, const NodeKey& key,
              const CallOptions& options);

  RetryPolicy& retry_policy() { return *retry_; }

 private:
  std::unique_ptr<Stub> stub_;
  std::unique_ptr<RetryPolicy> retry_;
};

}  // namespace pollen::fleet

#endif  // POLLEN_TRANSPORT_FLEET_RPC_H_
