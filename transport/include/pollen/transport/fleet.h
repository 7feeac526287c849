// A pollen::Connection over Flower's Fleet API (gRPC request/response, the
// "grpc-rere" transport of flower-supernode), and the node key files it reads.
//
// This header includes no gRPC: cli/ and runtime/ include it.
#ifndef POLLEN_TRANSPORT_FLEET_H_
#define POLLEN_TRANSPORT_FLEET_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "pollen/core/connection.h"
#include "pollen/core/signing.h"
#include "pollen/core/status.h"

namespace pollen {

// How calls that fail with UNAVAILABLE or DEADLINE_EXCEEDED are retried:
// exponential backoff base_delay * 2^n capped at max_delay, each wait drawn
// uniformly from [0, delay] ("full jitter").
struct RetryOptions {
  int max_retries = -1;      // -1 unlimited, as flower-supernode --max-retries
  double max_wait_time = 0;  // seconds, 0 = unlimited, as --max-wait-time
  double base_delay = 1.0;   // seconds
  double max_delay = 20.0;   // seconds (Flower's MAX_RETRY_DELAY)
};

struct FleetOptions {
  std::string superlink = "127.0.0.1:9092";  // host:port, IPv6 as [addr]:port
  bool insecure = false;                     // plaintext; otherwise TLS
  std::string root_certificates;             // PEM file; empty = system roots
  // A pre-registered private key file (PEM or OpenSSH EC key): the node skips
  // RegisterNode and never unregisters. Empty = a fresh P-384 key per connect().
  std::string auth_private_key;
  double heartbeat_interval = 30.0;  // seconds; the SuperLink accepts 10 ... 1800
  RetryOptions retry;
  double call_timeout = 30.0;          // deadline of each attempt of a call, seconds
  double object_call_timeout = 120.0;  // ... of PullObject / PushObject
  double heartbeat_timeout = 5.0;      // ... of SendNodeHeartbeat
  // Waiting for objects the SuperLink knows but has not received yet
  // (PullObject object_available=false): 1 s doubling up to pull_backoff_max,
  // at most pull_max_tries per object and pull_max_time per instruction.
  double pull_backoff_max = 10.0;
  int pull_max_tries = 500;
  double pull_max_time = 7200.0;
  // The most bytes of objects one instruction may bring (--max-message-bytes);
  // a larger one gets an Error reply naming the limit and is not pulled
  // further. Each object is also refused by gRPC before it is received
  // whole when it alone is larger. 0: no limit.
  uint64_t max_message_bytes = uint64_t{2} << 30;
  // Optional. Polled while waiting between retries; once it returns true the
  // waits end early and the call fails with CANCELLED, so a node asked to
  // stop (SIGINT) is not held in an unlimited retry loop. Must be thread-safe.
  std::function<bool()> stop_requested;
};

// Checks a --superlink address: HOST:PORT with a host name, an IPv4
// address or a bracketed IPv6 address, and a port 1-65535. The error names
// the address and what is wrong with it.
Status check_superlink_address(std::string_view address);

// Opens a channel to options.superlink (TLS with the given or the system
// roots; plaintext only with `insecure`) and returns a Connection on it. Does
// not contact the server: call connect() next. Fails on contradictory options
// (insecure with root certificates or with an authentication key), on an
// address check_superlink_address refuses and on an unreadable certificate
// file.
Result<std::unique_ptr<Connection>> connect_fleet(const FleetOptions& options);

// Reads a node private key: PEM (PKCS#8 or SEC1) or an unencrypted OpenSSH
// ECDSA key ("-----BEGIN OPENSSH PRIVATE KEY-----", nistp256/384/521; what
// `ssh-keygen -t ecdsa` writes and flower-supernode's
// --auth-supernode-private-key reads). Encrypted and non-EC keys are refused
// with a message saying what to do.
Result<NodeKey> load_node_key(const std::string& path);

// The public half of `key` in OpenSSH format, "ecdsa-sha2-nistp384 AAAA...
// pollen": what `flwr supernode register <file>` reads.
Result<std::string> openssh_public_key(const NodeKey& key);

}  // namespace pollen

#endif  // POLLEN_TRANSPORT_FLEET_H_
