// The seam between the Fleet connection and gRPC: a Connection over any
// implementation of the generated stub interface (a real stub from
// connect_fleet(), a fake in tests).
#ifndef POLLEN_TRANSPORT_FLEET_STUB_H_
#define POLLEN_TRANSPORT_FLEET_STUB_H_

#include <functional>
#include <memory>

#include "flwr/proto/fleet.grpc.pb.h"
#include "pollen/core/connection.h"
#include "pollen/core/status.h"
#include "pollen/transport/fleet.h"
#include "retry.h"

namespace pollen::fleet {

// Returns a Connection that calls `stub` (not null) and waits between
// retries with `sleep` (empty: a real sleep that options.stop_requested can
// end). `wait_connected` (may be empty): waits for the stub's channel to be
// up, so that waits to retry end when it comes back (see RetryPolicy).
// Ignores the channel options (superlink, insecure, certificates).
Result<std::unique_ptr<Connection>> make_fleet_connection(
    std::unique_ptr<flwr::proto::Fleet::StubInterface> stub, const FleetOptions& options,
    SleepFn sleep, std::function<bool(double seconds)> wait_connected = nullptr);

}  // namespace pollen::fleet

#endif  // POLLEN_TRANSPORT_FLEET_STUB_H_
