#include "scripted_fleet.h"

#include "pollen/core/message.h"
#include "pollen/core/object.h"
#include "pollen/core/proto_convert.h"
#include "pollen/core/signing.h"

namespace pollen::testing {

namespace fp = flwr::proto;
using grpc::ServerContext;

ScriptedFleet::ScriptedFleet(uint64_t node_id, std::vector<fp::PullMessagesResponse> instructions,
                             Objects objects, PushPlan plan)
    : node_id_(node_id),
      instructions_(std::move(instructions)),
      objects_(std::move(objects)),
      plan_(std::move(plan)) {}

int ScriptedFleet::start() {
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(this);
  builder.SetMaxReceiveMessageSize(-1);
  server_ = builder.BuildAndStart();
  return port;
}

void ScriptedFleet::stop() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
    server_.reset();
  }
}

std::vector<std::string> ScriptedFleet::methods() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return methods_;
}
std::vector<fp::PushMessagesRequest> ScriptedFleet::pushes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pushes_;
}
ScriptedFleet::Objects ScriptedFleet::pushed_objects() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pushed_;
}
bool ScriptedFleet::all_served() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return next_ == instructions_.size() && !awaiting_reply_;
}

// Records the call and checks it is signed the way a SuperLink checks it.
void ScriptedFleet::log(const char* method, ServerContext* context) {
  const auto& md = context->client_metadata();
  auto value = [&](const char* key) {
    auto it = md.find(key);
    return it == md.end() ? std::string() : std::string(it->second.data(), it->second.size());
  };
  if (!verify_signature(value(kPublicKeyMetadata), value(kTimestampMetadata),
                        value(kSignatureMetadata))
           .ok()) {
    ++unsigned_calls_;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  methods_.push_back(method);
}

grpc::Status ScriptedFleet::RegisterNode(ServerContext* c, const fp::RegisterNodeFleetRequest*,
                                         fp::RegisterNodeFleetResponse* out) {
  log("RegisterNode", c);
  out->set_node_id(node_id_);
  return grpc::Status::OK;
}

grpc::Status ScriptedFleet::ActivateNode(ServerContext* c, const fp::ActivateNodeRequest*,
                                         fp::ActivateNodeResponse* out) {
  log("ActivateNode", c);
  out->set_node_id(node_id_);
  return grpc::Status::OK;
}

grpc::Status ScriptedFleet::SendNodeHeartbeat(ServerContext* c, const fp::SendNodeHeartbeatRequest*,
                                              fp::SendNodeHeartbeatResponse* out) {
  log("SendNodeHeartbeat", c);
  out->set_success(true);
  return grpc::Status::OK;
}

grpc::Status ScriptedFleet::PullMessages(ServerContext* c, const fp::PullMessagesRequest*,
                                         fp::PullMessagesResponse* out) {
  log("PullMessages", c);
  std::lock_guard<std::mutex> lock(mutex_);
  if (!awaiting_reply_ && next_ < instructions_.size()) {
    *out = instructions_[next_++];
    // No reply is due for an instruction that has already expired (the
    // SuperLink would drop one): serve the next one on the next poll.
    const fp::Metadata& m = out->messages_list(0).metadata();
    awaiting_reply_ = m.created_at() + m.ttl() > unix_now();
  }
  return grpc::Status::OK;
}

grpc::Status ScriptedFleet::PullObject(ServerContext* c, const fp::PullObjectRequest* req,
                                       fp::PullObjectResponse* out) {
  log("PullObject", c);
  auto it = objects_.find(req->object_id());
  if (it != objects_.end()) {
    out->set_object_found(true);
    out->set_object_available(true);
    out->set_object_content(it->second);
  }
  return grpc::Status::OK;
}

grpc::Status ScriptedFleet::ConfirmMessageReceived(ServerContext* c,
                                                   const fp::ConfirmMessageReceivedRequest*,
                                                   fp::ConfirmMessageReceivedResponse*) {
  log("ConfirmMessageReceived", c);
  return grpc::Status::OK;
}

grpc::Status ScriptedFleet::PushMessages(ServerContext* c, const fp::PushMessagesRequest* req,
                                         fp::PushMessagesResponse* out) {
  log("PushMessages", c);
  if (req->messages_list_size() != 1 || req->message_object_trees_size() != 1) {
    return grpc::Status(grpc::StatusCode::UNKNOWN, "expected one message and one tree");
  }
  std::vector<std::string> ids;
  if (plan_) {
    ids = plan_(*req);
  } else if (Result<ObjectTree> tree = from_proto(req->message_object_trees(0)); tree.ok()) {
    ids = post_order_ids(*tree);
  }
  for (const std::string& id : ids) out->add_objects_to_push(id);
  (*out->mutable_results())[req->messages_list(0).metadata().message_id()] = 0;
  out->mutable_reconnect()->set_reconnect(5);
  std::lock_guard<std::mutex> lock(mutex_);
  pushes_.push_back(*req);
  awaiting_reply_ = false;
  return grpc::Status::OK;
}

grpc::Status ScriptedFleet::PushObject(ServerContext* c, const fp::PushObjectRequest* req,
                                       fp::PushObjectResponse* out) {
  log("PushObject", c);
  const bool ok = verify_object_id(req->object_id(), req->object_content()).ok();
  out->set_stored(ok);
  if (ok) {
    std::lock_guard<std::mutex> lock(mutex_);
    pushed_[req->object_id()] = req->object_content();
  }
  return grpc::Status::OK;
}

grpc::Status ScriptedFleet::DeactivateNode(ServerContext* c, const fp::DeactivateNodeRequest*,
                                           fp::DeactivateNodeResponse*) {
  log("DeactivateNode", c);
  return grpc::Status::OK;
}

grpc::Status ScriptedFleet::UnregisterNode(ServerContext* c, const fp::UnregisterNodeFleetRequest*,
                                           fp::UnregisterNodeFleetResponse*) {
  log("UnregisterNode", c);
  return grpc::Status::OK;
}

}  // namespace pollen::testing
