#include "fleet_rpc.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <utility>

#include "fleet_connection.h"
#include "fleet_stub.h"
#include "rpc_status.h"

namespace pollen::fleet {

namespace fp = flwr::proto;

class FleetRpc::Stub {
 public:
  explicit Stub(std::unique_ptr<fp::Fleet::StubInterface> stub) : stub_(std::move(stub)) {}
  fp::Fleet::StubInterface* get() { return stub_.get(); }

 private:
  std::unique_ptr<fp::Fleet::StubInterface> stub_;
};

namespace {

// Method<Request>: the Fleet method that takes Request, its name and response.
template <typename Request>
struct Method;

#define POLLEN_FLEET_METHOD_(NAME, REQUEST, RESPONSE)                                  \
  template <>                                                                          \
  struct Method<fp::REQUEST> {                                                         \
    using Response = fp::RESPONSE;                                                     \
    static constexpr char kName[] = #NAME;                                             \
    static grpc::Status invoke(fp::Fleet::StubInterface* stub, grpc::ClientContext* c, \
                               const fp::REQUEST& request, fp::RESPONSE* response) {   \
      return stub->NAME(c, request, response);                                         \
    }                                                                                  \
  };

#define POLLEN_FLEET_METHODS_(X)                                             \
  X(RegisterNode, RegisterNodeFleetRequest, RegisterNodeFleetResponse)       \
  X(ActivateNode, ActivateNodeRequest, ActivateNodeResponse)                 \
  X(DeactivateNode, DeactivateNodeRequest, DeactivateNodeResponse)           \
  X(UnregisterNode, UnregisterNodeFleetRequest, UnregisterNodeFleetResponse) \
  X(SendNodeHeartbeat, SendNodeHeartbeatRequest, SendNodeHeartbeatResponse)  \
  X(PullMessages, PullMessagesRequest, PullMessagesResponse)                 \
  X(PushMessages, PushMessagesRequest, PushMessagesResponse)                 \
  X(PullObject, PullObjectRequest, PullObjectResponse)                       \
  X(PushObject, PushObjectRequest, PushObjectResponse)                       \
  X(ConfirmMessageReceived, ConfirmMessageReceivedRequest, ConfirmMessageReceivedResponse)

POLLEN_FLEET_METHODS_(POLLEN_FLEET_METHOD_)

// Seconds as a clock duration, clamped so that absurd option values cannot
// overflow the clock's integer ticks (a year is as good as forever here).
std::chrono::system_clock::duration to_duration(double seconds) {
  constexpr double kMaxSeconds = 365.0 * 24 * 3600;
  const double clamped = seconds > 0 ? std::min(seconds, kMaxSeconds) : 0.0;
  return std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::duration<double>(clamped));
}

}  // namespace

FleetRpc::FleetRpc(std::unique_ptr<Stub> stub, std::unique_ptr<RetryPolicy> retry)
    : stub_(std::move(stub)), retry_(std::move(retry)) {}

FleetRpc::~FleetRpc() = default;

template <typename Request, typename Response>
Status FleetRpc::call(const Request& request, Response* response, const NodeKey& key,
                      const CallOptions& options) {
  using M = Method<Request>;
  static_assert(std::is_same_v<typename M::Response, Response>);
  return retry_->run(options.retry, [&]() -> Attempt {
    // A fresh context and signature per attempt: a context cannot be reused,
    // and the SuperLink rejects timestamps older than ~300 s.
    grpc::ClientContext context;
    const auto now = std::chrono::system_clock::now();
    context.set_deadline(now + to_duration(options.timeout));
    Result<SignedHeaders> headers = sign_request(key, now);
    if (!headers.ok()) return Attempt{headers.status().with_context(M::kName), false};
    context.AddMetadata(kPublicKeyMetadata, headers->public_key);
    context.AddMetadata(kTimestampMetadata, headers->timestamp);
    context.AddMetadata(kSignatureMetadata, headers->signature);
    response->Clear();
    const grpc::Status status = M::invoke(stub_->get(), &context, request, response);
    return map_rpc_status(M::kName, static_cast<int>(status.error_code()), status.error_message());
  });
}

#define POLLEN_FLEET_INSTANTIATE_(NAME, REQUEST, RESPONSE)                                     \
  template Status FleetRpc::call<fp::REQUEST, fp::RESPONSE>(const fp::REQUEST&, fp::RESPONSE*, \
                                                            const NodeKey&, const CallOptions&);
POLLEN_FLEET_METHODS_(POLLEN_FLEET_INSTANTIATE_)

#undef POLLEN_FLEET_INSTANTIATE_
#undef POLLEN_FLEET_METHODS_
#undef POLLEN_FLEET_METHOD_

Result<std::unique_ptr<Connection>> make_fleet_connection(
    std::unique_ptr<fp::Fleet::StubInterface> stub, const FleetOptions& options, SleepFn sleep,
    std::function<bool(double seconds)> wait_connected) {
  if (!stub) return invalid_argument("make_fleet_connection: no stub");
  if (!sleep) sleep = real_sleep(options.stop_requested);
  auto policy = std::make_unique<RetryPolicy>(std::move(sleep), options.stop_requested,
                                              std::random_device{}(), std::move(wait_connected));
  auto rpc = std::make_unique<FleetRpc>(std::make_unique<FleetRpc::Stub>(std::move(stub)),
                                        std::move(policy));
  return std::unique_ptr<Connection>(std::make_unique<FleetConnection>(options, std::move(rpc)));
}

}  // namespace pollen::fleet
