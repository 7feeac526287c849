#include "fleet_test_client.h"

#include <grpcpp/generic/generic_stub.h>

#include <future>

#include "pollen/core/deflate.h"
#include "pollen/core/inflate.h"
#include "pollen/core/proto_convert.h"

namespace pollen::testing {

namespace {

std::shared_ptr<grpc::Channel> make_channel(const std::string& target,
                                            std::shared_ptr<grpc::ChannelCredentials> creds) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // object chunks are 5 MiB
  args.SetMaxSendMessageSize(-1);
  return grpc::CreateCustomChannel(target, std::move(creds), args);
}

Status to_status(const grpc::Status& status, const char* what) {
  if (status.ok()) return Status::Ok();
  return Status(static_cast<StatusCode>(status.error_code()),
                std::string(what) + ": " + status.error_message());
}

}  // namespace

std::string describe(const grpc::Status& status) {
  return std::string(status_code_name(static_cast<StatusCode>(status.error_code()))) + ": " +
         status.error_message();
}

FleetTestClient::FleetTestClient(const std::string& target,
                                 std::shared_ptr<grpc::ChannelCredentials> credentials)
    : key_(std::move(NodeKey::generate()).value()),
      channel_(make_channel(target, std::move(credentials))),
      stub_(fp::Fleet::NewStub(channel_)) {}

void FleetTestClient::prepare(grpc::ClientContext* context, const Signing& signing) const {
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (signing.mode == Signing::kNone) return;
  const NodeKey& key = signing.key ? *signing.key : key_;
  std::string timestamp =
      format_flwr_timestamp(std::chrono::system_clock::now() + signing.clock_offset);
  if (signing.zulu) timestamp.replace(timestamp.size() - 6, 6, "Z");
  std::string signature;
  switch (signing.mode) {
    case Signing::kWrongData:
      signature = key.sign(timestamp + "x").value();
      break;
    case Signing::kNotDer:
      signature = "not a DER signature";
      break;
    default:
      signature = key.sign(timestamp).value();
  }
  context->AddMetadata(kPublicKeyMetadata, key.public_key_pem());
  context->AddMetadata(kTimestampMetadata, timestamp);
  context->AddMetadata(kSignatureMetadata, signature);
}

grpc::Status FleetTestClient::raw_call(const std::string& path, const std::string& request,
                                       const Signing& signing) {
  grpc::GenericStub stub(channel_);
  grpc::ClientContext context;
  prepare(&context, signing);
  grpc::Slice slice(request);
  grpc::ByteBuffer in(&slice, 1);
  grpc::ByteBuffer out;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, path, grpc::StubOptions(), &in, &out,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  return done.get_future().get();
}

grpc::Status FleetTestClient::register_node(const Signing& signing) {
  fp::RegisterNodeFleetRequest request;
  request.set_public_key(key_.public_key_pem());
  fp::RegisterNodeFleetResponse response;
  return call(&fp::Fleet::Stub::RegisterNode, request, &response, signing);
}

grpc::Status FleetTestClient::activate(double heartbeat_interval) {
  fp::ActivateNodeRequest request;
  request.set_public_key(key_.public_key_pem());
  request.set_heartbeat_interval(heartbeat_interval);
  fp::ActivateNodeResponse response;
  grpc::Status status = call(&fp::Fleet::Stub::ActivateNode, request, &response);
  if (status.ok()) node_id_ = response.node_id();
  return status;
}

grpc::Status FleetTestClient::heartbeat(double heartbeat_interval, bool* success) {
  fp::SendNodeHeartbeatRequest request;
  request.mutable_node()->set_node_id(node_id_);
  request.set_heartbeat_interval(heartbeat_interval);
  fp::SendNodeHeartbeatResponse response;
  grpc::Status status = call(&fp::Fleet::Stub::SendNodeHeartbeat, request, &response);
  if (success) *success = response.success();
  return status;
}

grpc::Status FleetTestClient::deactivate() {
  fp::DeactivateNodeRequest request;
  request.set_node_id(node_id_);
  fp::DeactivateNodeResponse response;
  return call(&fp::Fleet::Stub::DeactivateNode, request, &response);
}

grpc::Status FleetTestClient::unregister() {
  fp::UnregisterNodeFleetRequest request;
  request.set_node_id(node_id_);
  fp::UnregisterNodeFleetResponse response;
  return call(&fp::Fleet::Stub::UnregisterNode, request, &response);
}

grpc::Status FleetTestClient::pull_messages(fp::PullMessagesResponse* response) {
  fp::PullMessagesRequest request;
  request.mutable_node()->set_node_id(node_id_);
  return call(&fp::Fleet::Stub::PullMessages, request, response);
}

grpc::Status FleetTestClient::pull_object(uint64_t run_id, const std::string& object_id,
                                          fp::PullObjectResponse* response) {
  fp::PullObjectRequest request;
  request.mutable_node()->set_node_id(node_id_);
  request.set_run_id(run_id);
  request.set_object_id(object_id);
  return call(&fp::Fleet::Stub::PullObject, request, response);
}

grpc::Status FleetTestClient::push_object(uint64_t run_id, const std::string& object_id,
                                          const std::string& content, bool* stored) {
  fp::PushObjectRequest request;
  request.mutable_node()->set_node_id(node_id_);
  request.set_run_id(run_id);
  request.set_object_id(object_id);
  request.set_object_content(content);
  fp::PushObjectResponse response;
  grpc::Status status = call(&fp::Fleet::Stub::PushObject, request, &response);
  if (stored) *stored = response.stored();
  return status;
}

grpc::Status FleetTestClient::confirm(uint64_t run_id, const std::string& message_id) {
  fp::ConfirmMessageReceivedRequest request;
  request.mutable_node()->set_node_id(node_id_);
  request.set_run_id(run_id);
  request.set_message_object_id(message_id);
  fp::ConfirmMessageReceivedResponse response;
  return call(&fp::Fleet::Stub::ConfirmMessageReceived, request, &response);
}

grpc::Status FleetTestClient::push_messages(const fp::Message& message, const fp::ObjectTree& tree,
                                            fp::PushMessagesResponse* response) {
  fp::PushMessagesRequest request;
  request.mutable_node()->set_node_id(node_id_);
  *request.add_messages_list() = message;
  *request.add_message_object_trees() = tree;
  request.add_clientapp_runtime_list(0.01);
  return call(&fp::Fleet::Stub::PushMessages, request, response);
}

Result<Message> FleetTestClient::fetch(const fp::Message& wire, const fp::ObjectTree& proto_tree,
                                       ObjectStore* objects) {
  POLLEN_ASSIGN_OR_RETURN(ObjectTree tree, from_proto(proto_tree));
  const uint64_t run_id = wire.metadata().run_id();
  for (const std::string& id : post_order_ids(tree)) {
    fp::PullObjectResponse response;
    POLLEN_RETURN_IF_ERROR(to_status(pull_object(run_id, id, &response), "PullObject"));
    if (!response.object_found() || !response.object_available()) {
      return not_found("object " + id + " is not available");
    }
    POLLEN_RETURN_IF_ERROR(objects->put(id, Bytes(response.object_content())));
  }
  return inflate_message(tree, *objects);
}

Result<fp::PushMessagesResponse> FleetTestClient::send_reply(Message* reply) {
  reply->metadata.message_id.clear();
  POLLEN_ASSIGN_OR_RETURN(DeflatedMessage deflated, deflate_message(*reply));
  reply->metadata.message_id = deflated.message_id;
  fp::ObjectTree tree;
  to_proto(deflated.tree, &tree);
  fp::PushMessagesResponse response;
  POLLEN_RETURN_IF_ERROR(
      to_status(push_messages(to_wire_message(*reply), tree, &response), "PushMessages"));
  for (const std::string& id : response.objects_to_push()) {
    const DeflatedObject* object = deflated.objects.find(id);
    if (object == nullptr) return internal_error("server asked for unknown object " + id);
    bool stored = false;
    POLLEN_RETURN_IF_ERROR(
        to_status(push_object(reply->metadata.run_id, id, object->bytes(), &stored), "PushObject"));
    if (!stored) return internal_error("object " + id + " was not stored");
  }
  return response;
}

}  // namespace pollen::testing
