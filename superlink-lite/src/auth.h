// The request authentication every Fleet call goes through (Flower's
// NodeAuthServerInterceptor): three metadata entries, a valid signature and
// a fresh timestamp. The node-id binding is checked once the request is
// decoded (see fleet_service.cc).
#ifndef POLLEN_SUPERLINK_LITE_AUTH_H_
#define POLLEN_SUPERLINK_LITE_AUTH_H_

#include <chrono>
#include <optional>
#include <string>

#include "pollen/core/status.h"

namespace pollen {

// The values of flwr-public-key-bin, flwr-timestamp, flwr-signature-bin
// (the last value of each key, as Python's dict() keeps it).
struct AuthMetadata {
  std::optional<std::string> public_key;
  std::optional<std::string> timestamp;
  std::optional<std::string> signature;
};

struct AuthPolicy {
  std::chrono::milliseconds timestamp_tolerance{300'000};
  std::chrono::milliseconds clock_tolerance{5'000};
};

// OK, or UNAUTHENTICATED with Flower's details: "Missing authentication
// metadata", "Invalid signature", "Invalid timestamp" (checked in that
// order). A timestamp is fresh when
//   -clock_tolerance < now - timestamp < timestamp_tolerance + clock_tolerance.
Status check_auth(const AuthMetadata& metadata, std::chrono::system_clock::time_point now,
                  const AuthPolicy& policy);

}  // namespace pollen

#endif  // POLLEN_SUPERLINK_LITE_AUTH_H_
