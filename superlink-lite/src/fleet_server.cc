// Fleet calls arrive through one generic (byte-level) handler rather than
// the generated service, because Flower's SuperLink answers in an order the
// generated service cannot: authentication is checked before the request
// is decoded, an unknown Fleet method is UNKNOWN (not UNIMPLEMENTED), and an
// undecodable request is INTERNAL "Exception deserializing request!".
#include "fleet_server.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/byte_buffer.h>

#include <chrono>
#include <climits>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "auth.h"
#include "pollen/core/signing.h"

namespace pollen {

namespace {

constexpr std::string_view kFleetPrefix = "/flwr.proto.Fleet/";

grpc::Status to_grpc(const Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message());
}

// The node id a request claims, checked against the signing key; nullopt
// for the two methods that carry the key in their body instead.
template <typename Request>
std::optional<uint64_t> claimed_node_id(const Request& request) {
  return request.node().node_id();
}
std::optional<uint64_t> claimed_node_id(const fp::DeactivateNodeRequest& request) {
  return request.node_id();
}
std::optional<uint64_t> claimed_node_id(const fp::UnregisterNodeFleetRequest& request) {
  return request.node_id();
}
std::optional<uint64_t> claimed_node_id(const fp::RegisterNodeFleetRequest&) {
  return std::nullopt;
}
std::optional<uint64_t> claimed_node_id(const fp::ActivateNodeRequest&) { return std::nullopt; }

template <typename Response>
uint64_t returned_node_id(const Response&) {
  return 0;
}
uint64_t returned_node_id(const fp::RegisterNodeFleetResponse& r) { return r.node_id(); }
uint64_t returned_node_id(const fp::ActivateNodeResponse& r) { return r.node_id(); }

// Decodes the request, checks the node id, runs the LinkState method and
// encodes its response; notes the node id (and any remark) in `record`.
using MethodHandler =
    std::function<grpc::Status(LinkState& state, const std::string& public_key,
                               grpc::ByteBuffer* in, grpc::ByteBuffer* out, CallRecord* record)>;

template <typename Request, typename Response>
using Method = std::function<Status(LinkState&, const Request&, Response*, CallRecord*)>;

template <typename Request, typename Response>
MethodHandler handler(Method<Request, Response> method) {
  return [method](LinkState& state, const std::string& public_key, grpc::ByteBuffer* in,
                  grpc::ByteBuffer* out, CallRecord* record) {
    Request request;
    if (!grpc::SerializationTraits<Request>::Deserialize(in, &request).ok()) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "Exception deserializing request!");
    }
    const std::optional<uint64_t> claimed = claimed_node_id(request);
    if (claimed) {
      record->node_id = *claimed;
      if (state.node_id_for_key(public_key) != claimed) {
        return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "Invalid node ID");
      }
    }
    Response response;
    const Status status = method(state, request, &response, record);
    if (!status.ok()) return to_grpc(status);
    if (!claimed) record->node_id = returned_node_id(response);
    bool own_buffer = false;
    return grpc::SerializationTraits<Response>::Serialize(response, out, &own_buffer);
  };
}

template <typename Request, typename Response>
MethodHandler handler(Status (LinkState::*method)(const Request&, Response*)) {
  return handler<Request, Response>(
      [method](LinkState& state, const Request& request, Response* response, CallRecord*) {
        return (state.*method)(request, response);
      });
}

std::unordered_map<std::string, MethodHandler> fleet_methods() {
  return {
      {"RegisterNode", handler(&LinkState::register_node)},
      {"ActivateNode", handler(&LinkState::activate_node)},
      {"DeactivateNode", handler(&LinkState::deactivate_node)},
      {"UnregisterNode", handler(&LinkState::unregister_node)},
      {"SendNodeHeartbeat", handler(&LinkState::send_node_heartbeat)},
      {"PullMessages", handler(&LinkState::pull_messages)},
      {"PushMessages", handler<fp::PushMessagesRequest, fp::PushMessagesResponse>(
                           [](LinkState& state, const fp::PushMessagesRequest& request,
                              fp::PushMessagesResponse* response, CallRecord* record) {
                             return state.push_messages(request, response, &record->note);
                           })},
      {"GetRun", handler(&LinkState::get_run)},
      {"GetFab", handler(&LinkState::get_fab)},
      {"PushObject", handler(&LinkState::push_object)},
      {"PullObject", handler(&LinkState::pull_object)},
      {"ConfirmMessageReceived", handler(&LinkState::confirm_message_received)},
  };
}

// The last value of `key`, as Python's dict() over the metadata keeps it.
std::optional<std::string> metadata_value(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata, const char* key) {
  std::optional<std::string> value;
  auto [begin, end] = metadata.equal_range(key);
  for (auto it = begin; it != end; ++it) value.emplace(it->second.data(), it->second.size());
  return value;
}

Result<std::string> read_pem(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return not_found("cannot read '" + path + "'");
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace

struct FleetServer::Impl : public grpc::CallbackGenericService {
  // One unary call: read the request, answer, done. Runs on gRPC's threads.
  class Call : public grpc::ServerGenericBidiReactor {
   public:
    Call(Impl* impl, grpc::GenericCallbackServerContext* context) : impl_(impl), context_(context) {
      StartRead(&request_);
    }
    void OnReadDone(bool ok) override {
      if (!ok) {  // cancelled, or no request at all
        Finish(grpc::Status(grpc::StatusCode::CANCELLED, "no request"));
        return;
      }
      const grpc::Status status = impl_->answer(*context_, &request_, &response_);
      if (status.ok()) {
        StartWriteAndFinish(&response_, grpc::WriteOptions(), status);
      } else {
        Finish(status);
      }
    }
    void OnDone() override { delete this; }

   private:
    Impl* const impl_;
    grpc::GenericCallbackServerContext* const context_;
    grpc::ByteBuffer request_;
    grpc::ByteBuffer response_;
  };

  Impl(LinkState* state, const SuperLinkOptions& options)
      : state(state),
        policy{options.timestamp_tolerance, options.clock_tolerance},
        methods(fleet_methods()) {}

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    return new Call(this, context);
  }

  grpc::Status answer(const grpc::GenericCallbackServerContext& context, grpc::ByteBuffer* in,
                      grpc::ByteBuffer* out) {
    const std::string& path = context.method();
    CallRecord record;
    const bool fleet = path.compare(0, kFleetPrefix.size(), kFleetPrefix) == 0;
    record.method = fleet ? path.substr(kFleetPrefix.size()) : path;
    const grpc::Status status =
        fleet ? dispatch(context, record.method, in, out, &record)
              : grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "Method not found!");
    record.code = static_cast<StatusCode>(status.error_code());
    record.details = status.error_message();
    record.time = unix_now();
    std::lock_guard<std::mutex> lock(log_mu);
    log.push_back(std::move(record));
    return status;
  }

  grpc::Status dispatch(const grpc::GenericCallbackServerContext& context,
                        const std::string& method, grpc::ByteBuffer* in, grpc::ByteBuffer* out,
                        CallRecord* record) {
    const auto& metadata = context.client_metadata();
    AuthMetadata auth{metadata_value(metadata, kPublicKeyMetadata),
                      metadata_value(metadata, kTimestampMetadata),
                      metadata_value(metadata, kSignatureMetadata)};
    const Status checked = check_auth(auth, std::chrono::system_clock::now(), policy);
    if (!checked.ok()) return to_grpc(checked);
    auto it = methods.find(method);
    if (it == methods.end()) {
      // Flower's interceptor wraps a missing handler and fails like this.
      return grpc::Status(grpc::StatusCode::UNKNOWN, "Error in service handler!");
    }
    return it->second(*state, *auth.public_key, in, out, record);
  }

  LinkState* const state;
  const AuthPolicy policy;
  const std::unordered_map<std::string, MethodHandler> methods;
  int port = 0;
  std::unique_ptr<grpc::Server> server;  // shut down before this service goes
  std::mutex shutdown_mu;
  mutable std::mutex log_mu;
  std::vector<CallRecord> log;
};

Result<std::unique_ptr<FleetServer>> FleetServer::start(const SuperLinkOptions& options,
                                                        LinkState* state) {
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  const bool tls = !options.ssl_certfile.empty() || !options.ssl_keyfile.empty();
  if (tls) {
    if (options.ssl_certfile.empty() || options.ssl_keyfile.empty()) {
      return invalid_argument("TLS needs both a certificate file and a key file");
    }
    POLLEN_ASSIGN_OR_RETURN(std::string cert, read_pem(options.ssl_certfile));
    POLLEN_ASSIGN_OR_RETURN(std::string key, read_pem(options.ssl_keyfile));
    // Server-side TLS only, as Flower (require_client_auth=False).
    grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    ssl.pem_key_cert_pairs.push_back({key, cert});
    credentials = grpc::SslServerCredentials(ssl);
  }
  if (options.enable_supernode_auth && !tls) {
    return failed_precondition(
        "enable_supernode_auth needs TLS (ssl_certfile and ssl_keyfile), "
        "as Flower's SuperLink does");
  }
  auto impl = std::make_unique<Impl>(state, options);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address, credentials, &impl->port);
  // Flower's server settings (generic_create_grpc_server); objects are
  // 5 MiB chunks, far above gRPC's 4 MiB default.
  builder.SetMaxReceiveMessageSize(INT_MAX);
  builder.SetMaxSendMessageSize(INT_MAX);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 210000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  // Otherwise a second server on a busy port would start without error.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterCallbackGenericService(impl.get());
  impl->server = builder.BuildAndStart();
  if (!impl->server || impl->port == 0) {
    return unavailable("cannot listen on '" + options.address + "'");
  }
  return std::unique_ptr<FleetServer>(new FleetServer(std::move(impl)));
}

FleetServer::FleetServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FleetServer::~FleetServer() { shutdown(); }

int FleetServer::port() const { return impl_->port; }

std::vector<CallRecord> FleetServer::call_log() const {
  std::lock_guard<std::mutex> lock(impl_->log_mu);
  return impl_->log;
}

void FleetServer::clear_call_log() {
  std::lock_guard<std::mutex> lock(impl_->log_mu);
  impl_->log.clear();
}

void FleetServer::shutdown() {
  std::lock_guard<std::mutex> lock(impl_->shutdown_mu);
  if (!impl_->server) return;
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  impl_->server->Wait();
  impl_->server.reset();
}

}  // namespace pollen
