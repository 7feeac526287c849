// A raw Fleet API client for testing SuperLinkLite: the generated stub,
// signing done here (so tests can sign badly on purpose), and shorthands
// for the calls a SuperNode makes.
#ifndef POLLEN_TESTS_SUPERLINK_FLEET_TEST_CLIENT_H_
#define POLLEN_TESTS_SUPERLINK_FLEET_TEST_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "flwr/proto/fleet.grpc.pb.h"
#include "pollen/core/message.h"
#include "pollen/core/object.h"
#include "pollen/core/signing.h"

namespace pollen::testing {

namespace fp = flwr::proto;

// How one call is signed.
struct Signing {
  enum Mode {
    kValid,
    kNone,       // no flwr-* metadata at all
    kWrongData,  // a valid signature of another string
    kNotDer,     // signature bytes that are not DER
  };
  Mode mode = kValid;
  std::chrono::seconds clock_offset{0};  // added to the signed timestamp
  bool zulu = false;                     // "...Z" instead of "...+00:00"
  const NodeKey* key = nullptr;          // sign with this key instead of the client's
};

class FleetTestClient {
 public:
  // Connects to `target` with a fresh P-384 key.
  explicit FleetTestClient(
      const std::string& target,
      std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials());

  const NodeKey& key() const { return key_; }
  uint64_t node_id() const { return node_id_; }
  void set_node_id(uint64_t id) { node_id_ = id; }

  // Any Fleet method through the generated stub.
  template <typename Request, typename Response>
  grpc::Status call(grpc::Status (fp::Fleet::Stub::*method)(grpc::ClientContext*, const Request&,
                                                            Response*),
                    const Request& request, Response* response, const Signing& signing = {}) {
    grpc::ClientContext context;
    prepare(&context, signing);
    return (stub_.get()->*method)(&context, request, response);
  }

  // Any path with raw request bytes (unknown methods, undecodable requests).
  grpc::Status raw_call(const std::string& path, const std::string& request,
                        const Signing& signing = {});

  // Shorthands with this client's key and node id. activate() remembers
  // the node id it is given.
  grpc::Status register_node(const Signing& signing = {});
  grpc::Status activate(double heartbeat_interval = 30.0);
  grpc::Status heartbeat(double heartbeat_interval = 30.0, bool* success = nullptr);
  grpc::Status deactivate();
  grpc::Status unregister();
  grpc::Status pull_messages(fp::PullMessagesResponse* response);
  grpc::Status pull_object(uint64_t run_id, const std::string& object_id,
                           fp::PullObjectResponse* response);
  grpc::Status push_object(uint64_t run_id, const std::string& object_id,
                           const std::string& content, bool* stored);
  grpc::Status confirm(uint64_t run_id, const std::string& message_id);
  grpc::Status push_messages(const fp::Message& message, const fp::ObjectTree& tree,
                             fp::PushMessagesResponse* response);

  // Pulls every object of the instruction (checking ids) into `objects`
  // and inflates it. Does not confirm.
  Result<Message> fetch(const fp::Message& wire, const fp::ObjectTree& tree, ObjectStore* objects);

  // Deflates `reply` (setting its message_id), pushes it and every object
  // the server asks for. Returns the PushMessages response.
  Result<fp::PushMessagesResponse> send_reply(Message* reply);

 private:
  void prepare(grpc::ClientContext* context, const Signing& signing) const;

  NodeKey key_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<fp::Fleet::Stub> stub_;
  uint64_t node_id_ = 0;
};

// "CODE: details" of a gRPC status, for assertion messages.
std::string describe(const grpc::Status& status);

}  // namespace pollen::testing

#endif  // POLLEN_TESTS_SUPERLINK_FLEET_TEST_CLIENT_H_
