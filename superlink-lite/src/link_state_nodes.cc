// Node life cycle and runs: Flower's in-memory LinkState and the Fleet
// message handlers for RegisterNode ... SendNodeHeartbeat, GetRun, GetFab.
#include <algorithm>
#include <chrono>

#include "link_state.h"
#include "pollen/core/signing.h"

namespace pollen {

namespace {

bool valid_heartbeat_interval(double interval) {
  // Written so that NaN is refused too.
  return interval >= kMinHeartbeatInterval && interval <= kMaxHeartbeatInterval;
}

Status invalid_heartbeat_interval() {
  return Status(StatusCode::kInvalidArgument, "Invalid heartbeat interval");
}

std::string iso_now() { return format_flwr_timestamp(std::chrono::system_clock::now()); }

}  // namespace

LinkState::LinkState(bool enable_supernode_auth)
    : enable_supernode_auth_(enable_supernode_auth), random_(std::random_device{}()) {}

void LinkState::tag_offline_locked(Node* node, double now) {
  if (node->status == NodeStatus::kOnline && node->online_until <= now) {
    node->status = NodeStatus::kOffline;
  }
}

std::optional<uint64_t> LinkState::node_id_for_key_locked(const std::string& public_key) const {
  auto it = key_to_node_.find(public_key);
  if (it == key_to_node_.end()) return std::nullopt;
  if (nodes_.at(it->second).status == NodeStatus::kUnregistered) return std::nullopt;
  return it->second;
}

std::optional<uint64_t> LinkState::node_id_for_key(const std::string& public_key) const {
  std::lock_guard<std::mutex> lock(mu_);
  return node_id_for_key_locked(public_key);
}

Result<uint64_t> LinkState::create_node_locked(const std::string& public_key) {
  // A key stays bound after unregistration: it can never register again.
  if (key_to_node_.count(public_key) != 0) {
    return Status(StatusCode::kFailedPrecondition, "Public key already in use");
  }
  uint64_t id = 0;
  while (id == 0 || id == kSuperLinkNodeId || nodes_.count(id) != 0) id = random_();
  Node& node = nodes_[id];
  node.id = id;
  node.public_key = public_key;
  key_to_node_[public_key] = id;
  return id;
}

Status LinkState::register_node(const fp::RegisterNodeFleetRequest& request,
                                fp::RegisterNodeFleetResponse* response) {
  if (enable_supernode_auth_) {
    return Status(StatusCode::kFailedPrecondition,
                  "SuperNode authentication is enabled. All SuperNodes must be registered via "
                  "the CLI.");
  }
  std::lock_guard<std::mutex> lock(mu_);
  POLLEN_ASSIGN_OR_RETURN(uint64_t id, create_node_locked(request.public_key()));
  response->set_node_id(id);
  return Status::Ok();
}

Status LinkState::activate_node(const fp::ActivateNodeRequest& request,
                                fp::ActivateNodeResponse* response) {
  std::lock_guard<std::mutex> lock(mu_);
  // The key in the body counts here, not the one the call was signed with.
  std::optional<uint64_t> id = node_id_for_key_locked(request.public_key());
  if (!id) {
    return Status(StatusCode::kFailedPrecondition, "No SuperNode found with the given public key.");
  }
  if (!valid_heartbeat_interval(request.heartbeat_interval())) return invalid_heartbeat_interval();
  Node& node = nodes_.at(*id);
  const double now = unix_now();
  tag_offline_locked(&node, now);
  if (node.status != NodeStatus::kRegistered && node.status != NodeStatus::kOffline) {
    return Status(StatusCode::kFailedPrecondition,
                  "SuperNode with node ID " + std::to_string(*id) + " could not be activated.");
  }
  node.status = NodeStatus::kOnline;
  node.online_until = now + kHeartbeatPatience * request.heartbeat_interval();
  node.heartbeat_interval = request.heartbeat_interval();
  response->set_node_id(*id);
  return Status::Ok();
}

Status LinkState::deactivate_node(const fp::DeactivateNodeRequest& request,
                                  fp::DeactivateNodeResponse* /*response*/) {
  std::lock_guard<std::mutex> lock(mu_);
  const double now = unix_now();
  auto it = nodes_.find(request.node_id());
  if (it != nodes_.end()) tag_offline_locked(&it->second, now);
  if (it == nodes_.end() || it->second.status != NodeStatus::kOnline) {
    return Status(StatusCode::kFailedPrecondition, "SuperNode with node ID " +
                                                       std::to_string(request.node_id()) +
                                                       " could not be deactivated.");
  }
  it->second.status = NodeStatus::kOffline;
  it->second.online_until = now;
  return Status::Ok();
}

Status LinkState::unregister_node(const fp::UnregisterNodeFleetRequest& request,
                                  fp::UnregisterNodeFleetResponse* /*response*/) {
  if (enable_supernode_auth_) {
    return Status(StatusCode::kFailedPrecondition,
                  "SuperNode authentication is enabled. All SuperNodes must be unregistered via "
                  "the CLI.");
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(request.node_id());
  if (it == nodes_.end() || it->second.status == NodeStatus::kUnregistered) {
    return Status(StatusCode::kFailedPrecondition,
                  "Node ID " + std::to_string(request.node_id()) +
                      " already unregistered, not found or the request was unauthorized.");
  }
  it->second.status = NodeStatus::kUnregistered;
  it->second.online_until = std::min(it->second.online_until, unix_now());
  return Status::Ok();
}

Status LinkState::send_node_heartbeat(const fp::SendNodeHeartbeatRequest& request,
                                      fp::SendNodeHeartbeatResponse* response) {
  if (!valid_heartbeat_interval(request.heartbeat_interval())) return invalid_heartbeat_interval();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(request.node().node_id());
  if (it == nodes_.end() || it->second.status == NodeStatus::kUnregistered) {
    response->set_success(false);
    return Status::Ok();
  }
  // A heartbeat also brings a deactivated (or never activated) node online.
  it->second.status = NodeStatus::kOnline;
  it->second.online_until = unix_now() + kHeartbeatPatience * request.heartbeat_interval();
  it->second.heartbeat_interval = request.heartbeat_interval();
  response->set_success(true);
  return Status::Ok();
}

Status LinkState::check_run_locked(uint64_t run_id) const {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) {
    return Status(StatusCode::kUnknown, "Exception calling application: " + std::to_string(run_id));
  }
  if (it->second.finished) return Status(StatusCode::kPermissionDenied, "Run is finished.");
  return Status::Ok();
}

Status LinkState::get_run(const fp::GetRunRequest& request, fp::GetRunResponse* response) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = runs_.find(request.run_id());
  if (it == runs_.end()) {
    return Status(StatusCode::kPermissionDenied,
                  "Run ID not found: " + std::to_string(request.run_id()));
  }
  POLLEN_RETURN_IF_ERROR(check_run_locked(request.run_id()));
  const Run& run = it->second;
  fp::Run* out = response->mutable_run();
  out->set_run_id(run.id);
  out->set_pending_at(run.created_at);
  out->set_starting_at(run.created_at);
  out->set_running_at(run.created_at);
  out->mutable_status()->set_status("running");
  // What Flower's SuperLink reports without accounts and federations.
  out->set_flwr_aid("<id:none>");
  out->set_federation("@none/default");
  out->set_bytes_sent(run.bytes_sent);
  out->set_bytes_recv(run.bytes_recv);
  out->set_clientapp_runtime(run.clientapp_runtime);
  out->set_run_type("serverapp");
  return Status::Ok();
}

Status LinkState::get_fab(const fp::GetFabRequest& request, fp::GetFabResponse* /*response*/) {
  std::lock_guard<std::mutex> lock(mu_);
  if (runs_.count(request.run_id()) == 0) {
    return Status(StatusCode::kPermissionDenied,
                  "Run ID not found: " + std::to_string(request.run_id()));
  }
  POLLEN_RETURN_IF_ERROR(check_run_locked(request.run_id()));
  // Runs here have no FAB (their fab_hash is ""), so every hash is unknown.
  return Status(StatusCode::kPermissionDenied, "Found no FAB with hash: " + request.hash_str());
}

uint64_t LinkState::create_run() {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id = 0;
  while (id == 0 || runs_.count(id) != 0) id = random_();
  Run& run = runs_[id];
  run.id = id;
  run.created_at = iso_now();
  return id;
}

Status LinkState::finish_run(uint64_t run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return not_found("no run " + std::to_string(run_id));
  if (it->second.finished) return Status::Ok();
  it->second.finished = true;
  it->second.finished_at = iso_now();
  std::vector<std::string> ids;
  for (const Instruction& ins : instructions_) {
    if (ins.metadata.run_id == run_id) ids.push_back(ins.metadata.message_id);
  }
  for (const std::string& id : ids) delete_instruction_locked(id);
  store_.erase_run(run_id);
  return Status::Ok();
}

Result<uint64_t> LinkState::register_node_key(const std::string& public_key) {
  std::lock_guard<std::mutex> lock(mu_);
  return create_node_locked(public_key);
}

std::vector<uint64_t> LinkState::online_nodes() const {
  std::lock_guard<std::mutex> lock(mu_);
  const double now = unix_now();
  std::vector<uint64_t> ids;
  for (const auto& [id, node] : nodes_) {
    if (node.status == NodeStatus::kOnline && node.online_until > now) ids.push_back(id);
  }
  return ids;
}

}  // namespace pollen
