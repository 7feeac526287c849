// connect_fleet(): the gRPC channel (credentials, message limits, keepalive)
// and a Fleet stub on it.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "fleet_stub.h"
#include "pollen/transport/fleet.h"

namespace pollen {

namespace {

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
  if (options.superlink.empty()) return invalid_argument("no SuperLink address (host:port)");
  POLLEN_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> creds, credentials(options));

  grpc::ChannelArguments args;
  // Object chunks are 5 MiB and more; gRPC's default receive limit is 4 MiB.
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  // The SuperLink permits no pings without calls and, like every gRPC
  // server by default, answers pings more frequent than every 5 min without
  // data with GOAWAY "too_many_pings". So: pings only during calls, and
  // never more often than that.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 300000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  // Reconnect no slower than our own retries (gRPC's default backs off to
  // 120 s), so a restarted SuperLink is found again within max_delay.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(std::clamp(options.retry.max_delay, 1.0, 120.0) * 1000));

  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.superlink, creds, args);
  if (!channel) return internal_error("cannot create a gRPC channel to " + options.superlink);
  return fleet::make_fleet_connection(flwr::proto::Fleet::NewStub(channel), options, nullptr);
}

}  // namespace pollen
