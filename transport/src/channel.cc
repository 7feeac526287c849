// connect_fleet(): the gRPC channel (credentials, message limits, keepalive)
// and a Fleet stub on it.
#include <grpc/support/time.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <fstream>
#include <sstream>

#include "fleet_stub.h"
#include "pollen/transport/fleet.h"

namespace pollen {

namespace {

// How long the channel waits before it tries to connect again after a failed
// attempt (see connect_fleet()).
constexpr int kReconnectBackoffMs = 1000;

// Waits at most `seconds` for `channel` to be READY, asking an idle one to
// connect. A call waiting to retry while the SuperLink is unreachable waits
// here (RetryPolicy), so it tries again as soon as the SuperLink is back.
// Waiting on the channel, rather than sleeping, also lets gRPC see a
// connection attempt complete at once: without a call in progress it would
// notice only at its next backup poll, up to 5 s later.
// The deadline is on gRPC's monotonic clock: a wall-clock one moves with the
// calendar (a device's first NTP sync steps it by years), and a wait against
// it could last years or nothing.
bool wait_connected(grpc::Channel* channel, double seconds) {
  const gpr_timespec deadline = gpr_time_add(
      gpr_now(GPR_CLOCK_MONOTONIC),
      gpr_time_from_micros(static_cast<int64_t>(std::max(0.0, seconds) * 1e6), GPR_TIMESPAN));
  grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    if (!channel->WaitForStateChange(state, deadline)) return false;  // the time is up
    state = channel->GetState(/*try_to_connect=*/true);
  }
  return true;
}

Result<std::string> read_text_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found(std::string("cannot read ") + what + " '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().empty()) return invalid_argument(std::string(what) + " '" + path + "' is empty");
  return text.str();
}

Result<std::shared_ptr<grpc::ChannelCredentials>> credentials(const FleetOptions& options) {
  if (options.insecure) {
    if (!options.root_certificates.empty()) {
      return invalid_argument(
          "--insecure and --root-certificates contradict each other: root certificates are "
          "for TLS, --insecure turns TLS off");
    }
    if (!options.auth_private_key.empty()) {
      return invalid_argument(
          "SuperNode authentication (--auth-supernode-private-key) needs TLS; remove "
          "--insecure (a SuperLink with --enable-supernode-auth always serves TLS)");
    }
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions ssl;  // empty roots: gRPC's default (system) roots
  if (!options.root_certificates.empty()) {
    POLLEN_ASSIGN_OR_RETURN(ssl.pem_root_certs,
                            read_text_file(options.root_certificates, "root certificates file"));
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace

Result<std::unique_ptr<Connection>> connect_fleet(const FleetOptions& options) {
  POLLEN_RETURN_IF_ERROR(check_superlink_address(options.superlink));
  POLLEN_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> creds, credentials(options));

  grpc::ChannelArguments args;
  // Object chunks are 5 MiB and more; gRPC's default receive limit is 4 MiB.
  // Above max_message_bytes (plus room for the response's own fields) gRPC
  // refuses an object before receiving it whole.
  constexpr uint64_t kEnvelope = 1 << 20;
  const uint64_t receive_limit = options.max_message_bytes + kEnvelope;
  args.SetMaxReceiveMessageSize(options.max_message_bytes == 0 || receive_limit > INT_MAX
                                    ? -1
                                    : static_cast<int>(receive_limit));
  args.SetMaxSendMessageSize(-1);
  // The SuperLink permits no pings without calls and, like every gRPC
  // server by default, answers pings more frequent than every 5 min without
  // data with GOAWAY "too_many_pings". So: pings only during calls, and
  // never more often than that.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 300000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  // A call waiting to retry while the SuperLink is away waits on the channel
  // (wait_connected) and tries again once it is up. While the channel waits
  // out its own reconnect backoff it neither connects nor lets calls through,
  // and that backoff grows with every failed attempt (to 120 s by default).
  // Capped at 20 s, nodes found a restarted Flower SuperLink 1 to 11 s after
  // it was back; trying every second, within about a second, at the cost of
  // one connection attempt a second while it is away.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kReconnectBackoffMs);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kReconnectBackoffMs);

  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.superlink, creds, args);
  if (!channel) return internal_error("cannot create a gRPC channel to " + options.superlink);
  return fleet::make_fleet_connection(
      flwr::proto::Fleet::NewStub(channel), options, nullptr,
      [channel](double seconds) { return wait_connected(channel.get(), seconds); });
}

}  // namespace pollen
