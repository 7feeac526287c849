// The ServerApp side: sending instructions and collecting replies the way
// Flower's ServerAppIo API and its LinkState (get_message_res) do.
#include <algorithm>
#include <set>

#include "link_state.h"
#include "pollen/core/deflate.h"
#include "pollen/core/inflate.h"
#include "pollen/core/proto_convert.h"

namespace pollen {

namespace {

// Flower's reasons, word for word (linkstate/utils.py).
constexpr char kMessageUnavailableReason[] =
    "Error: Message Unavailable - The requested message could not be found in the database. It "
    "may have expired due to its TTL, been deleted because the destination SuperNode was removed "
    "from the federation, or never existed.";
constexpr char kReplyUnavailableReason[] =
    "Error: Reply Message Unavailable - The reply message has expired.";
constexpr char kNodeUnavailableReason[] =
    "Error: Node Unavailable \u2014 The destination node failed to report a heartbeat within 2 "
    "\u00d7 its expected interval.";

Message with_message_id(Message message) {
  Result<DeflatedMessage> deflated = deflate_message(message);
  if (deflated.ok()) message.metadata.message_id = deflated->message_id;
  return message;
}

// Ids of `tree`, children first, each once.
void collect_ids(const fp::ObjectTree& tree, std::set<std::string>* seen,
                 std::vector<std::string>* ids) {
  for (const fp::ObjectTree& child : tree.children()) collect_ids(child, seen, ids);
  if (seen->insert(tree.object_id()).second) ids->push_back(tree.object_id());
}

}  // namespace

struct LinkState::Collected {
  std::optional<Message> answer;  // a synthetic answer, ready to hand out
  bool ready = false;             // all objects available: inflate `objects`
  std::vector<std::pair<std::string, Bytes>> objects;
  fp::ObjectTree tree;
};

namespace {

Result<Message> inflate_objects(std::vector<std::pair<std::string, Bytes>> contents,
                                const fp::ObjectTree& proto_tree) {
  ObjectStore objects;
  for (auto& [id, content] : contents) POLLEN_RETURN_IF_ERROR(objects.put(id, std::move(content)));
  POLLEN_ASSIGN_OR_RETURN(ObjectTree tree, from_proto(proto_tree));
  return inflate_message(tree, objects);
}

}  // namespace

Message make_unavailable_reply(const Metadata& instruction, int64_t code, double now) {
  Message message;
  Metadata& md = message.metadata;
  md.run_id = instruction.run_id;
  md.src_node_id = kSuperLinkNodeId;
  md.dst_node_id = kSuperLinkNodeId;
  md.reply_to_message_id = instruction.message_id;
  md.group_id = instruction.group_id;
  md.message_type = instruction.message_type;
  md.created_at = now;
  md.ttl = std::max(instruction.ttl - (now - instruction.created_at), 0.0);
  message.error = Error{code, code == kErrorReplyMessageUnavailable ? kReplyUnavailableReason
                                                                    : kNodeUnavailableReason};
  return with_message_id(std::move(message));
}

Message make_message_unavailable(const std::string& instruction_id, const std::string& detail,
                                 double now) {
  Message message;
  Metadata& md = message.metadata;
  md.src_node_id = kSuperLinkNodeId;
  md.dst_node_id = kSuperLinkNodeId;
  md.reply_to_message_id = instruction_id;
  md.message_type = "system";
  md.created_at = now;
  md.ttl = 0;
  std::string reason = kMessageUnavailableReason;
  if (!detail.empty()) reason += " (" + detail + ")";
  message.error = Error{kErrorMessageUnavailable, std::move(reason)};
  return with_message_id(std::move(message));
}

Result<std::string> LinkState::push_instruction(uint64_t run_id, uint64_t dst_node_id,
                                                const std::string& message_type, RecordDict content,
                                                double ttl, const std::string& group_id) {
  if (!is_valid_message_type(message_type)) {
    return invalid_argument("invalid message type '" + message_type + "'");
  }
  if (!(ttl > 0)) return invalid_argument("ttl must be positive");
  Message message;
  message.metadata.run_id = run_id;
  message.metadata.src_node_id = kSuperLinkNodeId;
  message.metadata.dst_node_id = dst_node_id;
  message.metadata.group_id = group_id;
  message.metadata.ttl = ttl;
  message.metadata.message_type = message_type;
  message.metadata.created_at = unix_now();
  message.content = std::move(content);
  // Deflating hashes every array: done before taking the lock.
  POLLEN_ASSIGN_OR_RETURN(DeflatedMessage deflated, deflate_message(message));
  fp::ObjectTree tree;
  to_proto(deflated.tree, &tree);
  std::vector<std::pair<std::string, Bytes>> contents;
  for (const auto& [id, object] : deflated.objects) {
    contents.emplace_back(id, Bytes(object.bytes()));
  }

  std::lock_guard<std::mutex> lock(mu_);
  auto run = runs_.find(run_id);
  if (run == runs_.end()) return not_found("no run " + std::to_string(run_id));
  if (run->second.finished) {
    return failed_precondition("run " + std::to_string(run_id) + " is finished");
  }
  auto node = nodes_.find(dst_node_id);
  if (node != nodes_.end()) tag_offline_locked(&node->second, unix_now());
  // Flower stores instructions only for activated nodes, online or not.
  if (node == nodes_.end() ||
      (node->second.status != NodeStatus::kOnline && node->second.status != NodeStatus::kOffline)) {
    return failed_precondition("Invalid destination node ID for Message: " +
                               std::to_string(dst_node_id));
  }
  POLLEN_RETURN_IF_ERROR(store_.preregister(run_id, tree).status());
  for (auto& [id, content] : contents) store_.put(id, std::move(content));
  Instruction ins;
  ins.metadata = message.metadata;
  ins.metadata.message_id = deflated.message_id;
  ins.tree = std::move(tree);
  instructions_.push_back(std::move(ins));
  return deflated.message_id;
}

// Flower's get_message_res: a node that is not online masks its reply; the
// reply is claimed once, then waited for until its objects are all pushed
// (the ServerApp pulls them with retries).
LinkState::Collected LinkState::collect_reply_locked(Instruction* ins, double now) {
  Collected out;
  const Metadata metadata = ins->metadata;
  if (!ins->collected) {
    auto node = nodes_.find(metadata.dst_node_id);
    if (node == nodes_.end() || node->second.status == NodeStatus::kUnregistered ||
        node->second.online_until < now) {
      out.answer = make_unavailable_reply(metadata, kErrorNodeUnavailable, now);
    } else if (ins->reply_id.empty()) {
      return out;
    } else {
      const Metadata& reply = replies_.at(ins->reply_id).metadata;
      if (reply.created_at + reply.ttl < now) {
        out.answer = make_unavailable_reply(metadata, kErrorReplyMessageUnavailable, now);
      } else {
        ins->collected = true;
      }
    }
    if (out.answer) {
      delete_instruction_locked(metadata.message_id);
      return out;
    }
  }
  const Reply& reply = replies_.at(ins->reply_id);
  std::set<std::string> seen;
  std::vector<std::string> ids;
  collect_ids(reply.tree, &seen, &ids);
  for (const std::string& id : ids) {
    const LinkObjectStore::Entry* entry = store_.find(id);
    if (entry == nullptr) {
      out.answer = make_message_unavailable(metadata.message_id, "object " + id + " is gone", now);
      delete_instruction_locked(metadata.message_id);
      return out;
    }
    if (!entry->available) return Collected{};
    out.objects.emplace_back(id, entry->content);
  }
  out.ready = true;
  out.tree = reply.tree;
  return out;
}

std::optional<Message> LinkState::get_reply(const std::string& instruction_id) {
  Collected collected;
  const double now = unix_now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    Instruction* ins = find_instruction_locked(instruction_id);
    if (ins != nullptr && ins->metadata.created_at + ins->metadata.ttl < now) {
      delete_instruction_locked(instruction_id);
      ins = nullptr;
    }
    if (ins == nullptr) return make_message_unavailable(instruction_id, "", now);
    collected = collect_reply_locked(ins, now);
  }
  if (collected.answer) return collected.answer;
  if (!collected.ready) return std::nullopt;

  // Inflating verifies every object again and may copy large arrays:
  // outside the lock.
  Result<Message> reply = inflate_objects(std::move(collected.objects), collected.tree);
  {
    // What the ServerApp's ConfirmMessageReceived does after pulling it.
    std::lock_guard<std::mutex> lock(mu_);
    if (Instruction* ins = find_instruction_locked(instruction_id)) {
      const std::string reply_id = ins->reply_id;
      delete_instruction_locked(instruction_id);
      store_.erase(reply_id);
    }
  }
  if (!reply.ok()) return make_message_unavailable(instruction_id, reply.status().message(), now);
  return std::move(reply).value();
}

}  // namespace pollen
