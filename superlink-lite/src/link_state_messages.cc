// Messages and objects on the Fleet side: PullMessages, PushMessages (with
// Flower's reply validation), PushObject, PullObject, ConfirmMessageReceived.
#include <set>

#include "link_state.h"
#include "pollen/core/proto_convert.h"
#include "pollen/core/sha256.h"

namespace pollen {

namespace {

Status application_error(const std::string& what) {
  // How grpcio reports an exception escaping a Python handler.
  return Status(StatusCode::kUnknown, "Exception calling application: " + what);
}

bool expired(const Metadata& metadata, double now) {
  return metadata.created_at + metadata.ttl <= now;
}

}  // namespace

bool is_valid_message_type(const std::string& type) {
  return validate_message_type(type).ok() || type == "get_parameters" || type == "get_properties" ||
         type == "reconnect";
}

LinkState::Instruction* LinkState::find_instruction_locked(const std::string& id) {
  for (Instruction& ins : instructions_) {
    if (ins.metadata.message_id == id) return &ins;
  }
  return nullptr;
}

void LinkState::delete_instruction_locked(const std::string& id) {
  for (auto it = instructions_.begin(); it != instructions_.end(); ++it) {
    if (it->metadata.message_id != id) continue;
    if (!it->reply_id.empty()) replies_.erase(it->reply_id);
    instructions_.erase(it);
    return;
  }
}

void LinkState::delete_expired_locked(double now) {
  std::vector<std::string> ids;
  for (const Instruction& ins : instructions_) {
    if (expired(ins.metadata, now)) ids.push_back(ins.metadata.message_id);
  }
  for (const std::string& id : ids) delete_instruction_locked(id);
}

Status LinkState::pull_messages(const fp::PullMessagesRequest& request,
                                fp::PullMessagesResponse* response) {
  std::lock_guard<std::mutex> lock(mu_);
  delete_expired_locked(unix_now());
  for (Instruction& ins : instructions_) {
    if (ins.delivered || ins.metadata.dst_node_id != request.node().node_id()) continue;
    ins.delivered = true;
    // Flower rebuilds the tree from the store and drops a message whose
    // objects are gone.
    if (store_.find(ins.metadata.message_id) == nullptr) {
      const std::string id = ins.metadata.message_id;
      delete_instruction_locked(id);
      return Status::Ok();
    }
    Message placeholder;
    placeholder.metadata = ins.metadata;
    placeholder.content = RecordDict();
    *response->add_messages_list() = to_wire_message(placeholder);
    *response->add_message_object_trees() = ins.tree;
    Run& run = runs_.at(ins.metadata.run_id);
    run.bytes_recv += request.ByteSizeLong();
    run.bytes_sent += response->ByteSizeLong();
    return Status::Ok();
  }
  return Status::Ok();
}

Status LinkState::validate_reply_locked(const fp::PushMessagesRequest& request, double now) {
  const fp::Metadata& md = request.messages_list(0).metadata();
  // Flower's validate_message(is_reply_message=True).
  if (md.message_id().empty()) return invalid_argument("empty message_id");
  if (md.created_at() < kMinCreatedAt) {
    return invalid_argument("created_at " + std::to_string(md.created_at()) +
                            " is before 2025-02-28 (1740700800)");
  }
  if (md.ttl() <= 0) return invalid_argument("ttl is not positive");
  if (md.created_at() + md.ttl() <= now) return invalid_argument("the reply has expired");
  if (md.src_node_id() == 0 || md.src_node_id() == kSuperLinkNodeId) {
    return invalid_argument("src_node_id is 0 or 1");
  }
  if (md.dst_node_id() != kSuperLinkNodeId) return invalid_argument("dst_node_id is not 1");
  if (md.reply_to_message_id().empty()) return invalid_argument("no reply_to_message_id");
  // Flower finds the reply's objects by its message_id, so a reply whose id
  // is not the root of its tree could never be collected.
  if (request.message_object_trees_size() == 0 ||
      request.message_object_trees(0).object_id() != md.message_id()) {
    return invalid_argument("message_id is not the root of the pushed tree");
  }
  // Flower's store_message_res.
  Instruction* ins = find_instruction_locked(md.reply_to_message_id());
  if (ins != nullptr && expired(ins->metadata, now)) {
    delete_instruction_locked(md.reply_to_message_id());
    ins = nullptr;
  }
  if (ins == nullptr) return invalid_argument("the instruction does not exist or has expired");
  if (ins->metadata.dst_node_id != md.src_node_id()) {
    return invalid_argument("src_node_id is not the instruction's dst_node_id");
  }
  const double max_ttl = ins->metadata.created_at + ins->metadata.ttl - md.created_at();
  if (md.ttl() - max_ttl > kTtlTolerance) {
    return invalid_argument("ttl " + std::to_string(md.ttl()) +
                            " s exceeds the instruction's remaining " + std::to_string(max_ttl) +
                            " s by more than 0.1 s");
  }
  if (md.run_id() != ins->metadata.run_id) return invalid_argument("run_id differs");
  return Status::Ok();
}

Status LinkState::push_messages(const fp::PushMessagesRequest& request,
                                fp::PushMessagesResponse* response, std::string* rejection) {
  if (request.messages_list_size() == 0) return application_error("list index out of range");
  const fp::Message& message = request.messages_list(0);
  const std::string& type = message.metadata().message_type();
  if (!is_valid_message_type(type)) {
    return application_error("Invalid message type: '" + type +
                             "'. Expected format: '<category>' or '<category>.<action>', where "
                             "<category> must be 'train', 'evaluate', or 'query', and <action> "
                             "must be a valid Python identifier.");
  }
  if (message.has_content() == message.has_error()) {
    return application_error(
        "Invalid arguments for Message. Expected one of the documented signatures: "
        "Message(content: RecordDict, dst_node_id: int, message_type: str, *, [ttl: float, "
        "group_id: str]) or Message(content: RecordDict | error: Error, *, reply_to: Message, "
        "[ttl: float]).");
  }
  const uint64_t run_id = message.metadata().run_id();
  std::lock_guard<std::mutex> lock(mu_);
  POLLEN_RETURN_IF_ERROR(check_run_locked(run_id));
  // Preregistered before validation: even a rejected reply gets its list.
  std::vector<std::string> to_push;
  std::set<std::string> seen;
  for (const fp::ObjectTree& tree : request.message_object_trees()) {
    Result<std::vector<std::string>> ids = store_.preregister(run_id, tree);
    if (!ids.ok()) return application_error(ids.status().message());
    for (std::string& id : *ids) {
      if (seen.insert(id).second) to_push.push_back(std::move(id));
    }
  }
  const Status valid = validate_reply_locked(request, unix_now());
  if (!valid.ok() && rejection != nullptr) *rejection = "reply rejected: " + valid.message();
  if (valid.ok()) {
    const Metadata metadata = from_proto(message.metadata());
    Instruction* ins = find_instruction_locked(metadata.reply_to_message_id);
    // A newer reply to the same instruction replaces the older one.
    if (!ins->reply_id.empty() && ins->reply_id != metadata.message_id) {
      replies_.erase(ins->reply_id);
    }
    ins->reply_id = metadata.message_id;
    replies_[metadata.message_id] = Reply{metadata, request.message_object_trees(0)};
  }
  response->mutable_reconnect()->set_reconnect(5);
  (*response->mutable_results())[valid.ok() ? message.metadata().message_id() : "None"] = 0;
  for (std::string& id : to_push) response->add_objects_to_push(std::move(id));
  Run& run = runs_.at(run_id);
  run.bytes_recv += request.ByteSizeLong();
  run.bytes_sent += response->ByteSizeLong();
  if (request.clientapp_runtime_list_size() > 0) {
    run.clientapp_runtime += request.clientapp_runtime_list(0);
  }
  return Status::Ok();
}

Status LinkState::push_object(const fp::PushObjectRequest& request,
                              fp::PushObjectResponse* response) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    POLLEN_RETURN_IF_ERROR(check_run_locked(request.run_id()));
  }
  // Hash and framing are checked without the lock: chunks are 5 MiB.
  const std::string& content = request.object_content();
  if (sha256_hex(content) != request.object_id()) {
    response->set_stored(false);
    return Status::Ok();
  }
  if (std::optional<std::string> error = object_structure_error(content)) {
    return Status(StatusCode::kFailedPrecondition, "Object with ID '" + request.object_id() +
                                                       "' has an unexpected structure. " + *error);
  }
  std::lock_guard<std::mutex> lock(mu_);
  const bool stored = store_.put(request.object_id(), Bytes(content));
  if (stored) {
    auto run = runs_.find(request.run_id());
    if (run != runs_.end()) run->second.bytes_recv += content.size();
  }
  response->set_stored(stored);
  return Status::Ok();
}

Status LinkState::pull_object(const fp::PullObjectRequest& request,
                              fp::PullObjectResponse* response) {
  std::lock_guard<std::mutex> lock(mu_);
  POLLEN_RETURN_IF_ERROR(check_run_locked(request.run_id()));
  const LinkObjectStore::Entry* entry = store_.find(request.object_id());
  if (entry == nullptr) return Status::Ok();  // object_found = false
  response->set_object_found(true);
  response->set_object_available(entry->available);
  if (entry->available) {
    response->set_object_content(entry->content.data(), entry->content.size());
    runs_.at(request.run_id()).bytes_sent += entry->content.size();
  }
  return Status::Ok();
}

Status LinkState::confirm_message_received(const fp::ConfirmMessageReceivedRequest& request,
                                           fp::ConfirmMessageReceivedResponse* /*response*/) {
  std::lock_guard<std::mutex> lock(mu_);
  POLLEN_RETURN_IF_ERROR(check_run_locked(request.run_id()));
  store_.erase(request.message_object_id());
  return Status::Ok();
}

}  // namespace pollen
