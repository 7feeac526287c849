#include "auth.h"

#include "pollen/core/signing.h"

namespace pollen {

namespace {

Status unauthenticated(const char* details) {
  return Status(StatusCode::kUnauthenticated, details);
}

}  // namespace

Status check_auth(const AuthMetadata& metadata, std::chrono::system_clock::time_point now,
                  const AuthPolicy& policy) {
  if (!metadata.public_key || !metadata.timestamp || !metadata.signature) {
    return unauthenticated("Missing authentication metadata");
  }
  // Flower fails the call with an exception on a key it cannot load; a
  // refusal with the signature's message is the nearest clean answer.
  if (!verify_signature(*metadata.public_key, *metadata.timestamp, *metadata.signature).ok()) {
    return unauthenticated("Invalid signature");
  }
  Result<std::chrono::system_clock::time_point> sent = parse_flwr_timestamp(*metadata.timestamp);
  if (!sent.ok()) return unauthenticated("Invalid timestamp");
  const auto age = now - *sent;
  if (!(age > -policy.clock_tolerance &&
        age < policy.timestamp_tolerance + policy.clock_tolerance)) {
    return unauthenticated("Invalid timestamp");
  }
  return Status::Ok();
}

}  // namespace pollen
