#include "fake_fleet.h"

#include <grpcpp/test/client_context_test_peer.h>

#include <chrono>
#include <optional>

#include "pollen/core/sha256.h"
#include "pollen/core/signing.h"

namespace pollen::testing {

namespace {

namespace fp = flwr::proto;
using grpc::ClientContext;
using grpc::StatusCode;

void tree_ids(const fp::ObjectTree& tree, std::vector<std::string>* out) {
  for (const fp::ObjectTree& child : tree.children()) tree_ids(child, out);
  out->push_back(tree.object_id());
}

class FakeFleet final : public fp::Fleet::StubInterface {
 public:
  explicit FakeFleet(std::shared_ptr<FakeFleetState> state) : state_(std::move(state)) {}

  grpc::Status RegisterNode(ClientContext* c, const fp::RegisterNodeFleetRequest& request,
                            fp::RegisterNodeFleetResponse* response) override {
    std::string key;
    Lock lock = begin(c, "RegisterNode", &key);
    if (auto failure = injected("RegisterNode")) return *failure;
    if (state_->supernode_auth) {
      return grpc::Status(StatusCode::FAILED_PRECONDITION,
                          "SuperNode authentication is enabled; registration is refused");
    }
    if (state_->registered.count(request.public_key()) != 0) {
      return grpc::Status(StatusCode::FAILED_PRECONDITION, "Public key already in use");
    }
    state_->registered.insert(request.public_key());
    state_->node_of_key[request.public_key()] = state_->next_node_id++;
    response->set_node_id(state_->node_of_key[request.public_key()]);
    return grpc::Status::OK;
  }

  grpc::Status ActivateNode(ClientContext* c, const fp::ActivateNodeRequest& request,
                            fp::ActivateNodeResponse* response) override {
    std::string key;
    Lock lock = begin(c, "ActivateNode", &key);
    if (auto failure = injected("ActivateNode")) return *failure;
    if (request.heartbeat_interval() < 10 || request.heartbeat_interval() > 1800) {
      return grpc::Status(StatusCode::INVALID_ARGUMENT, "Invalid heartbeat interval");
    }
    auto it = state_->node_of_key.find(request.public_key());
    if (state_->registered.count(request.public_key()) == 0 || it == state_->node_of_key.end() ||
        key != request.public_key()) {
      return grpc::Status(StatusCode::FAILED_PRECONDITION,
                          "SuperNode with node ID 0 could not be activated.");
    }
    response->set_node_id(it->second);
    return grpc::Status::OK;
  }

  grpc::Status DeactivateNode(ClientContext* c, const fp::DeactivateNodeRequest& request,
                              fp::DeactivateNodeResponse*) override {
    std::string key;
    Lock lock = begin(c, "DeactivateNode", &key);
    if (auto failure = injected("DeactivateNode")) return *failure;
    return check_node(key, request.node_id());
  }

  grpc::Status UnregisterNode(ClientContext* c, const fp::UnregisterNodeFleetRequest& request,
                              fp::UnregisterNodeFleetResponse*) override {
    std::string key;
    Lock lock = begin(c, "UnregisterNode", &key);
    if (auto failure = injected("UnregisterNode")) return *failure;
    grpc::Status status = check_node(key, request.node_id());
    if (status.ok()) {
      state_->registered.erase(key);
      state_->node_of_key.erase(key);
    }
    return status;
  }

  grpc::Status SendNodeHeartbeat(ClientContext* c, const fp::SendNodeHeartbeatRequest& request,
                                 fp::SendNodeHeartbeatResponse* response) override {
    std::string key;
    Lock lock = begin(c, "SendNodeHeartbeat", &key);
    if (auto failure = injected("SendNodeHeartbeat")) return *failure;
    grpc::Status status = check_node(key, request.node().node_id());
    if (status.ok()) response->set_success(state_->heartbeat_success);
    return status;
  }

  grpc::Status PullMessages(ClientContext* c, const fp::PullMessagesRequest& request,
                            fp::PullMessagesResponse* response) override {
    std::string key;
    Lock lock = begin(c, "PullMessages", &key);
    if (auto failure = injected("PullMessages")) return *failure;
    grpc::Status status = check_node(key, request.node().node_id());
    if (!status.ok() || state_->messages.empty()) return status;
    *response = std::move(state_->messages.front());
    state_->messages.pop_front();
    return grpc::Status::OK;
  }

  grpc::Status PushMessages(ClientContext* c, const fp::PushMessagesRequest& request,
                            fp::PushMessagesResponse* response) override {
    std::string key;
    Lock lock = begin(c, "PushMessages", &key);
    if (auto failure = injected("PushMessages")) return *failure;
    grpc::Status status = check_node(key, request.node().node_id());
    if (!status.ok()) return status;
    state_->pushed_messages.push_back(request);
    response->mutable_reconnect()->set_reconnect(5);
    const std::string id = request.messages_list(0).metadata().message_id();
    (*response->mutable_results())[state_->reject_reply ? "None" : id] = 0;
    std::vector<std::string> ids;
    if (state_->ask_for_subset) {
      ids = state_->objects_to_push;
    } else {
      tree_ids(request.message_object_trees(0), &ids);
    }
    ids.insert(ids.end(), state_->extra_objects_to_push.begin(),
               state_->extra_objects_to_push.end());
    // The SuperLink lists them in no particular order.
    for (auto it = ids.rbegin(); it != ids.rend(); ++it) response->add_objects_to_push(*it);
    return grpc::Status::OK;
  }

  grpc::Status GetRun(ClientContext*, const fp::GetRunRequest&, fp::GetRunResponse*) override {
    return grpc::Status(StatusCode::UNIMPLEMENTED, "not faked");
  }
  grpc::Status GetFab(ClientContext*, const fp::GetFabRequest&, fp::GetFabResponse*) override {
    return grpc::Status(StatusCode::UNIMPLEMENTED, "not faked");
  }

  grpc::Status PushObject(ClientContext* c, const fp::PushObjectRequest& request,
                          fp::PushObjectResponse* response) override {
    std::string key;
    Lock lock = begin(c, "PushObject", &key);
    if (auto failure = injected("PushObject")) return *failure;
    grpc::Status status = check_node(key, request.node().node_id());
    if (!status.ok()) return status;
    state_->pushed_objects.emplace_back(request.object_id(), request.object_content());
    response->set_stored(state_->store_pushed &&
                         sha256_hex(request.object_content()) == request.object_id());
    return grpc::Status::OK;
  }

  grpc::Status PullObject(ClientContext* c, const fp::PullObjectRequest& request,
                          fp::PullObjectResponse* response) override {
    std::string key;
    Lock lock = begin(c, "PullObject", &key);
    if (auto failure = injected("PullObject")) return *failure;
    grpc::Status status = check_node(key, request.node().node_id());
    if (!status.ok()) return status;
    state_->pulled.push_back(request.object_id());
    auto it = state_->objects.find(request.object_id());
    if (it == state_->objects.end()) return grpc::Status::OK;  // found = available = false
    response->set_object_found(true);
    int& unavailable = state_->unavailable[request.object_id()];
    if (unavailable > 0) {
      --unavailable;
      return grpc::Status::OK;
    }
    response->set_object_available(true);
    response->set_object_content(it->second);
    return grpc::Status::OK;
  }

  grpc::Status ConfirmMessageReceived(ClientContext* c,
                                      const fp::ConfirmMessageReceivedRequest& request,
                                      fp::ConfirmMessageReceivedResponse*) override {
    std::string key;
    Lock lock = begin(c, "ConfirmMessageReceived", &key);
    if (auto failure = injected("ConfirmMessageReceived")) return *failure;
    grpc::Status status = check_node(key, request.node().node_id());
    if (status.ok()) state_->confirmed.push_back(request.message_object_id());
    return status;
  }

 private:
  using Lock = std::unique_lock<std::mutex>;

  // Records the call and checks its signing headers and deadline.
  Lock begin(ClientContext* context, const std::string& method, std::string* public_key) {
    Lock lock(state_->mu);
    state_->calls.push_back(method);
    auto problem = [&](const std::string& what) {
      state_->header_problems.push_back(method + ": " + what);
    };
    const auto deadline = context->deadline() - std::chrono::system_clock::now();
    if (deadline > std::chrono::hours(1)) problem("no deadline");
    state_->deadlines.push_back(std::chrono::duration<double>(deadline).count());
    const auto metadata = grpc::testing::ClientContextTestPeer(context).GetSendInitialMetadata();
    auto get = [&](const char* name) -> std::string {
      auto range = metadata.equal_range(name);
      if (range.first == range.second) problem(std::string("no ") + name);
      return range.first == range.second ? "" : range.first->second;
    };
    *public_key = get(kPublicKeyMetadata);
    const std::string timestamp = get(kTimestampMetadata);
    const std::string signature = get(kSignatureMetadata);
    if (!verify_signature(*public_key, timestamp, signature).ok()) problem("bad signature");
    return lock;
  }

  std::optional<grpc::Status> injected(const std::string& method) {
    auto& queue = state_->fail_next[method];
    if (queue.empty()) return std::nullopt;
    grpc::Status status = queue.front();
    queue.pop_front();
    return status;
  }

  grpc::Status check_node(const std::string& key, uint64_t node_id) {
    auto it = state_->node_of_key.find(key);
    if (it == state_->node_of_key.end() || it->second != node_id) {
      return grpc::Status(StatusCode::UNAUTHENTICATED, "Invalid node ID");
    }
    return grpc::Status::OK;
  }

  // The asynchronous API is not used by Pollen.
#define POLLEN_FAKE_ASYNC_(NAME, REQUEST, RESPONSE)                                \
  grpc::ClientAsyncResponseReaderInterface<fp::RESPONSE>* Async##NAME##Raw(        \
      ClientContext*, const fp::REQUEST&, grpc::CompletionQueue*) override {       \
    return nullptr;                                                                \
  }                                                                                \
  grpc::ClientAsyncResponseReaderInterface<fp::RESPONSE>* PrepareAsync##NAME##Raw( \
      ClientContext*, const fp::REQUEST&, grpc::CompletionQueue*) override {       \
    return nullptr;                                                                \
  }
  POLLEN_FAKE_ASYNC_(RegisterNode, RegisterNodeFleetRequest, RegisterNodeFleetResponse)
  POLLEN_FAKE_ASYNC_(ActivateNode, ActivateNodeRequest, ActivateNodeResponse)
  POLLEN_FAKE_ASYNC_(DeactivateNode, DeactivateNodeRequest, DeactivateNodeResponse)
  POLLEN_FAKE_ASYNC_(UnregisterNode, UnregisterNodeFleetRequest, UnregisterNodeFleetResponse)
  POLLEN_FAKE_ASYNC_(SendNodeHeartbeat, SendNodeHeartbeatRequest, SendNodeHeartbeatResponse)
  POLLEN_FAKE_ASYNC_(PullMessages, PullMessagesRequest, PullMessagesResponse)
  POLLEN_FAKE_ASYNC_(PushMessages, PushMessagesRequest, PushMessagesResponse)
  POLLEN_FAKE_ASYNC_(GetRun, GetRunRequest, GetRunResponse)
  POLLEN_FAKE_ASYNC_(GetFab, GetFabRequest, GetFabResponse)
  POLLEN_FAKE_ASYNC_(PushObject, PushObjectRequest, PushObjectResponse)
  POLLEN_FAKE_ASYNC_(PullObject, PullObjectRequest, PullObjectResponse)
  POLLEN_FAKE_ASYNC_(ConfirmMessageReceived, ConfirmMessageReceivedRequest,
                     ConfirmMessageReceivedResponse)
#undef POLLEN_FAKE_ASYNC_

  std::shared_ptr<FakeFleetState> state_;
};

}  // namespace

std::unique_ptr<fp::Fleet::StubInterface> make_fake_fleet(std::shared_ptr<FakeFleetState> state) {
  return std::make_unique<FakeFleet>(std::move(state));
}

}  // namespace pollen::testing
