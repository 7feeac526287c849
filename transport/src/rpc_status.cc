#include "rpc_status.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace pollen::fleet {

namespace {

bool contains_lower(std::string_view haystack, std::string_view needle) {
  auto it =
      std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                  [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
  return it != haystack.end();
}

}  // namespace

bool is_tls_handshake_failure(std::string_view details) {
  // gRPC C-core words it "Ssl handshake failed: SSL_ERROR_SSL: ...
  // CERTIFICATE_VERIFY_FAILED", "Handshake failed", "Handshake read failed";
  // Flower's Python SuperNode gives up on "handshake failed" as well.
  // A certificate that does not name the address: "Peer name X is not in
  // peer certificate".
  return contains_lower(details, "handshake") || contains_lower(details, "certificate_verify") ||
         contains_lower(details, "ssl_error") || contains_lower(details, "not in peer certificate");
}

Attempt map_rpc_status(std::string_view method, int grpc_code, std::string_view details) {
  if (grpc_code == 0) return Attempt{};
  const StatusCode code =
      grpc_code > 0 && grpc_code <= static_cast<int>(StatusCode::kUnauthenticated)
          ? static_cast<StatusCode>(grpc_code)
          : StatusCode::kUnknown;
  const std::string prefix =
      std::string(method) + ": " + std::string(status_code_name(code)) + ": ";
  const std::string plain = prefix + std::string(details);

  switch (code) {
    case StatusCode::kUnavailable:
      if (is_tls_handshake_failure(details)) {
        return Attempt{
            Status(code, std::string(method) + ": the TLS handshake with the SuperLink failed (" +
                             std::string(details) +
                             "). Check that the address names the host in the "
                             "SuperLink's certificate, that --root-certificates "
                             "holds the CA that signed it, and that the SuperLink "
                             "serves TLS (a SuperLink started with --insecure needs "
                             "--insecure here too)"),
            false};
      }
      return Attempt{Status(code, plain), true};
    case StatusCode::kDeadlineExceeded:
      return Attempt{Status(code, plain), true};
    case StatusCode::kCancelled:
      // Pollen cancels no call itself: a SuperLink that stops gracefully
      // (SIGTERM) cancels the calls in progress. It is going away, as when it
      // is unreachable.
      return Attempt{Status(code, plain), true};
    case StatusCode::kUnauthenticated:
      if (contains_lower(details, "invalid timestamp")) {
        return Attempt{
            Status(code, plain + ". This device's clock is off: the SuperLink accepts a request "
                                 "timestamp at most 5 s ahead of its own clock and about 300 s "
                                 "behind it. Synchronise the clock (check `timedatectl`)"),
            false};
      }
      if (contains_lower(details, "invalid node id")) {
        return Attempt{
            Status(code, plain + ". The SuperLink no longer knows this node (it restarted "
                                 "without persistent state, or the node was unregistered "
                                 "or is using another key); connect again"),
            false};
      }
      return Attempt{Status(code, plain), false};
    default:
      // PERMISSION_DENIED ("Run is finished.") keeps its code: the node loop
      // drops the message of a run that is not running.
      return Attempt{Status(code, plain), false};
  }
}

}  // namespace pollen::fleet
