// The node life cycle: connect(), heartbeat(), disconnect(). Instructions and
// replies are in fleet_objects.cc.
#include "fleet_connection.h"

#include <algorithm>
#include <utility>

namespace pollen::fleet {

namespace fp = flwr::proto;

FleetConnection::FleetConnection(FleetOptions options, std::unique_ptr<FleetRpc> rpc)
    : options_(std::move(options)), rpc_(std::move(rpc)) {}

FleetConnection::Session FleetConnection::session() const {
  std::lock_guard<std::mutex> lock(mu_);
  return session_;
}

uint64_t FleetConnection::node_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return session_.node_id;
}

CallOptions FleetConnection::call_options() const {
  return CallOptions{options_.call_timeout, options_.retry};
}

CallOptions FleetConnection::object_call_options() const {
  return CallOptions{options_.object_call_timeout, options_.retry};
}

CallOptions FleetConnection::heartbeat_call_options() const {
  // A heartbeat retries for at most one interval: the node loop sends the
  // next one anyway, and its heartbeat thread must stay joinable.
  CallOptions options{options_.heartbeat_timeout, options_.retry};
  double& limit = options.retry.max_wait_time;
  limit = limit > 0 ? std::min(limit, options_.heartbeat_interval) : options_.heartbeat_interval;
  return options;
}

CallOptions FleetConnection::single_try_options() const {
  RetryOptions once;
  once.max_retries = 0;
  return CallOptions{options_.call_timeout, once};
}

std::string FleetConnection::activation_refused(std::string message) const {
  // Flower 1.28 refuses a pre-registered key's ActivateNode with "No
  // SuperNode found with the given public key." (never registered, or
  // unregistered since) or "SuperNode with node ID N could not be
  // activated." (that node is online already); other releases may word it
  // otherwise, so anything else gets both explanations.
  if (!message.empty() && message.back() == '.') message.pop_back();
  const std::string& key = options_.auth_private_key;
  if (message.find("No SuperNode found") != std::string::npos) {
    // pollen keygen, --persistent-key and ssh-keygen all put the public
    // key beside the private one, as FILE.pub.
    return message + ". The key in '" + key +
           "' is not registered with this SuperLink: register its public key with `flwr "
           "supernode register " +
           key + ".pub [SUPERLINK]`, then start the node again";
  }
  if (message.find("could not be activated") != std::string::npos) {
    return message + ". A node using the key in '" + key +
           "' is online already: two devices cannot share a key, and a node stopped without "
           "deactivating stays online until two heartbeat intervals after its last heartbeat";
  }
  return message + ". Either the key in '" + key +
         "' is not registered with the SuperLink (`flwr supernode register <key.pub>`) or a "
         "node using it is still online (it goes offline two heartbeat intervals after its "
         "last heartbeat)";
}

Status FleetConnection::connect() {
  // A new session every time: after "Invalid node ID" (a SuperLink restarted
  // with in-memory state) a self-registered node starts over with a new key;
  // a pre-registered key is read again and re-activated.
  Session next;
  if (!options_.auth_private_key.empty()) {
    POLLEN_ASSIGN_OR_RETURN(NodeKey key, load_node_key(options_.auth_private_key));
    next.key = std::make_shared<const NodeKey>(std::move(key));
  } else {
    POLLEN_ASSIGN_OR_RETURN(NodeKey key, NodeKey::generate());
    next.key = std::make_shared<const NodeKey>(std::move(key));
    next.self_registered = true;
  }
  {
    // Node id 0 until activation: a concurrent heartbeat fails meanwhile.
    std::lock_guard<std::mutex> lock(mu_);
    session_ = next;
  }
  const NodeKey& key = *next.key;

  if (next.self_registered) {
    fp::RegisterNodeFleetRequest request;
    request.set_public_key(key.public_key_pem());
    fp::RegisterNodeFleetResponse response;  // its node_id is not used, as in Flower
    Status status = rpc_->call(request, &response, key, call_options());
    if (status.code() == StatusCode::kFailedPrecondition) {
      return Status(
          status.code(),
          status.message() +
              ". The SuperLink does not let nodes register themselves: it runs with "
              "--enable-supernode-auth. Register a key with `flwr supernode register "
              "<key.pub> [SUPERLINK]` and pass its private key with --auth-supernode-private-key");
    }
    POLLEN_RETURN_IF_ERROR(status);
  }

  fp::ActivateNodeRequest request;
  request.set_public_key(key.public_key_pem());
  request.set_heartbeat_interval(options_.heartbeat_interval);
  fp::ActivateNodeResponse response;
  Status status = rpc_->call(request, &response, key, call_options());
  if (status.code() == StatusCode::kFailedPrecondition && !next.self_registered) {
    return Status(status.code(), activation_refused(status.message()));
  }
  POLLEN_RETURN_IF_ERROR(status);
  if (response.node_id() == 0) {
    return data_loss("ActivateNode: the SuperLink answered with node id 0");
  }
  std::lock_guard<std::mutex> lock(mu_);
  session_.node_id = response.node_id();
  return Status::Ok();
}

Status FleetConnection::heartbeat() {
  const Session s = session();
  if (s.node_id == 0 || !s.key) {
    return failed_precondition("SendNodeHeartbeat: the node is not connected");
  }
  fp::SendNodeHeartbeatRequest request;
  request.mutable_node()->set_node_id(s.node_id);
  request.set_heartbeat_interval(options_.heartbeat_interval);
  fp::SendNodeHeartbeatResponse response;
  POLLEN_RETURN_IF_ERROR(rpc_->call(request, &response, *s.key, heartbeat_call_options()));
  if (!response.success()) {
    return Status(StatusCode::kUnauthenticated,
                  "SendNodeHeartbeat: the SuperLink does not recognize this node (success = "
                  "false); connect again");
  }
  return Status::Ok();
}

Status FleetConnection::disconnect() {
  Session s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = session_;
    session_.node_id = 0;
  }
  if (s.node_id == 0 || !s.key) return Status::Ok();
  // No retries, as Flower's cleanup: the SuperLink turns a silent node
  // offline by itself. Both calls are made; the first error is returned.
  fp::DeactivateNodeRequest deactivate;
  deactivate.set_node_id(s.node_id);
  fp::DeactivateNodeResponse deactivated;
  Status status = rpc_->call(deactivate, &deactivated, *s.key, single_try_options());
  if (s.self_registered) {
    fp::UnregisterNodeFleetRequest unregister;
    unregister.set_node_id(s.node_id);
    fp::UnregisterNodeFleetResponse unregistered;
    Status u = rpc_->call(unregister, &unregistered, *s.key, single_try_options());
    if (status.ok()) status = std::move(u);
  }
  return status;
}

}  // namespace pollen::fleet
