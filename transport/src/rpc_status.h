// gRPC status -> Pollen status, in one place for every Fleet call. No gRPC
// headers here: codes are passed as grpc::StatusCode's integer value, which is
// the canonical code pollen::StatusCode also uses.
#ifndef POLLEN_TRANSPORT_RPC_STATUS_H_
#define POLLEN_TRANSPORT_RPC_STATUS_H_

#include <string_view>

#include "retry.h"

namespace pollen::fleet {

// True when `details` of an UNAVAILABLE status describe a failed TLS
// handshake (wrong roots, wrong host name, plaintext server): retrying
// cannot fix those.
bool is_tls_handshake_failure(std::string_view details);

// Maps the outcome of one attempt of `method` ("PullObject", ...) to a
// Status whose message names the method, e.g.
// "PullObject: UNAVAILABLE: failed to connect to all addresses", and says
// whether another try may help: UNAVAILABLE (except TLS handshake failures)
// and DEADLINE_EXCEEDED. Unknown codes become UNKNOWN.
Attempt map_rpc_status(std::string_view method, int grpc_code, std::string_view details);

}  // namespace pollen::fleet

#endif  // POLLEN_TRANSPORT_RPC_STATUS_H_
