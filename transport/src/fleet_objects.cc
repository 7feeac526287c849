// Instructions in (PullMessages, PullObject, ConfirmMessageReceived) and
// replies out (PushMessages, PushObject).
#include <algorithm>
#include <cmath>
#include <unordered_set>
#include <utility>

#include "fleet_connection.h"
#include "pollen/core/inflate.h"
#include "pollen/core/proto_convert.h"

namespace pollen::fleet {

namespace fp = flwr::proto;

Result<std::optional<Instruction>> FleetConnection::receive() {
  const Session s = session();
  if (s.node_id == 0 || !s.key) {
    return failed_precondition("PullMessages: the node is not connected");
  }

  fp::PullMessagesRequest request;
  request.mutable_node()->set_node_id(s.node_id);
  fp::PullMessagesResponse response;
  POLLEN_RETURN_IF_ERROR(rpc_->call(request, &response, *s.key, call_options()));
  // The SuperLink hands out at most one message per call (and marks it
  // delivered), so the first is the only one.
  if (response.messages_list_size() == 0) return std::optional<Instruction>();

  Instruction instruction;
  instruction.metadata = from_proto(response.messages_list(0).metadata());
  const Metadata& metadata = instruction.metadata;
  auto problem = [&](Status status) -> Result<std::optional<Instruction>> {
    instruction.status = std::move(status);
    return std::optional<Instruction>(std::move(instruction));
  };
  const std::string what = "instruction " + metadata.message_id;
  if (response.message_object_trees_size() == 0) {
    return problem(data_loss(what + " arrived without its object tree"));
  }
  const fp::ObjectTree& wire_tree = response.message_object_trees(0);
  if (wire_tree.object_id() != metadata.message_id) {
    return problem(data_loss(what + ": its object tree is rooted at '" + wire_tree.object_id() +
                             "', not at the message id"));
  }
  if (metadata.dst_node_id != s.node_id) {
    return problem(data_loss(what + " is addressed to node " +
                             std::to_string(metadata.dst_node_id) + ", not to this node (" +
                             std::to_string(s.node_id) + ")"));
  }
  Result<ObjectTree> tree = from_proto(wire_tree);
  if (!tree.ok()) return problem(tree.status().with_context(what));

  ObjectStore store;
  Status pull_problem;
  POLLEN_RETURN_IF_ERROR(pull_objects(s, metadata, post_order_ids(*tree), &store, &pull_problem));
  if (!pull_problem.ok()) return problem(std::move(pull_problem));

  // Only now: confirming lets the SuperLink delete the objects.
  fp::ConfirmMessageReceivedRequest confirm;
  confirm.mutable_node()->set_node_id(s.node_id);
  confirm.set_run_id(metadata.run_id);
  confirm.set_message_object_id(metadata.message_id);
  fp::ConfirmMessageReceivedResponse confirmed;
  POLLEN_RETURN_IF_ERROR(rpc_->call(confirm, &confirmed, *s.key, call_options()));

  Result<Message> message = inflate_message(*tree, store);
  if (!message.ok()) return problem(message.status().with_context(what));
  instruction.message = std::move(message).value();
  return std::optional<Instruction>(std::move(instruction));
}

Status FleetConnection::pull_objects(const Session& s, const Metadata& metadata,
                                     const std::vector<std::string>& ids, ObjectStore* store,
                                     Status* problem) {
  // One object at a time, where Flower pulls two at once: correctness
  // first, and on a device the link's bandwidth, not the round trips, is
  // what large objects wait for. The pulls of one instruction share one time
  // budget for objects that are not uploaded yet.
  RetryPolicy& policy = rpc_->retry_policy();
  RetryTimer timer;
  const std::string what = " of instruction " + metadata.message_id;
  const uint64_t limit = options_.max_message_bytes;
  auto too_large = [&](const std::string& id, const std::string& size) {
    return Status(StatusCode::kResourceExhausted,
                  "instruction " + metadata.message_id + " is larger than this node takes (" +
                      "--max-message-bytes " + std::to_string(limit) + "): object " + id +
                      " brings it to " + size + " bytes");
  };
  uint64_t received = 0;
  for (const std::string& id : ids) {
    fp::PullObjectRequest request;
    request.mutable_node()->set_node_id(s.node_id);
    request.set_run_id(metadata.run_id);
    request.set_object_id(id);
    for (int tries = 1;; ++tries) {
      fp::PullObjectResponse response;
      Status pulled = rpc_->call(request, &response, *s.key, object_call_options());
      if (pulled.code() == StatusCode::kResourceExhausted && limit > 0) {
        // gRPC's receive limit (the channel's, from max_message_bytes).
        *problem = too_large(id, "more than " + std::to_string(limit - received));
        return Status::Ok();
      }
      POLLEN_RETURN_IF_ERROR(pulled);
      if (!response.object_found()) {
        *problem = not_found("object " + id + what + " is not on the SuperLink");
        return Status::Ok();
      }
      if (response.object_available()) {
        received += response.object_content().size();
        if (limit > 0 && received > limit) {
          *problem = too_large(id, std::to_string(received));
          return Status::Ok();
        }
        // The store checks the id (SHA-256) and the framing.
        Status stored = store->put(id, Bytes(std::move(*response.mutable_object_content())));
        if (!stored.ok()) {
          *problem = stored.with_context("object" + what);
          return Status::Ok();
        }
        break;
      }
      // Known but not uploaded yet (the ServerApp is still pushing it):
      // 1 s doubling up to pull_backoff_max, +-20 % jitter, as Flower.
      const double left = options_.pull_max_time - timer.elapsed();
      if (tries >= options_.pull_max_tries || left <= 0) {
        *problem =
            Status(StatusCode::kDeadlineExceeded,
                   "object " + id + what + " was still not available on the SuperLink after " +
                       std::to_string(tries) + " tries");
        return Status::Ok();
      }
      const double base =
          std::min(options_.pull_backoff_max, std::ldexp(1.0, std::min(tries - 1, 30)));
      const double delay = std::min(left, base * policy.uniform(0.8, 1.2));
      if (!policy.wait(delay, &timer)) {
        return Status(StatusCode::kCancelled,
                      "PullObject: stopped while waiting for object " + id + what);
      }
    }
  }
  return Status::Ok();
}

Status FleetConnection::send(const Message& reply, double runtime_seconds) {
  const Session s = session();
  if (s.node_id == 0 || !s.key) {
    return failed_precondition("PushMessages: the node is not connected");
  }
  POLLEN_ASSIGN_OR_RETURN(DeflatedMessage deflated, deflate_message(reply));

  // The envelope: metadata (message_id = the tree's root) and the content
  // placeholder or the error; the content itself travels as objects.
  Message head;
  head.metadata = reply.metadata;
  head.metadata.message_id = deflated.message_id;
  head.error = reply.error;
  fp::PushMessagesRequest request;
  request.mutable_node()->set_node_id(s.node_id);
  *request.add_messages_list() = to_wire_message(head);
  to_proto(deflated.tree, request.add_message_object_trees());
  request.add_clientapp_runtime_list(runtime_seconds);
  fp::PushMessagesResponse response;
  POLLEN_RETURN_IF_ERROR(rpc_->call(request, &response, *s.key, call_options()));

  // A reply that fails validation is dropped without an error status: the
  // results then hold the key "None" instead of the id.
  if (response.results().count(deflated.message_id) == 0) {
    return failed_precondition("PushMessages: the SuperLink rejected the reply to " +
                               reply.metadata.reply_to_message_id +
                               " (expired instruction or invalid metadata)");
  }
  std::vector<std::string> wanted(response.objects_to_push().begin(),
                                  response.objects_to_push().end());
  return push_objects(s, reply.metadata.run_id, deflated.message_id, deflated.tree,
                      deflated.objects, wanted);
}

Status FleetConnection::push_objects(const Session& s, uint64_t run_id, const std::string& reply_id,
                                     const ObjectTree& tree, const DeflatedObjects& objects,
                                     const std::vector<std::string>& wanted) {
  std::unordered_set<std::string> pending;
  for (const std::string& id : wanted) {
    if (objects.find(id) == nullptr) {
      return data_loss("PushMessages: the SuperLink asked for object '" + id +
                       "', which is not part of reply " + reply_id);
    }
    pending.insert(id);
  }
  // Children before parents, as Flower; the SuperLink lists them in any order.
  for (const std::string& id : post_order_ids(tree)) {
    if (pending.count(id) == 0) continue;
    fp::PushObjectRequest request;
    request.mutable_node()->set_node_id(s.node_id);
    request.set_run_id(run_id);
    request.set_object_id(id);
    request.set_object_content(objects.find(id)->bytes());
    fp::PushObjectResponse response;
    POLLEN_RETURN_IF_ERROR(rpc_->call(request, &response, *s.key, object_call_options()));
    if (!response.stored()) {
      return data_loss("PushObject: the SuperLink did not store object " + id + " of reply " +
                       reply_id + " (stored = false)");
    }
  }
  return Status::Ok();
}

}  // namespace pollen::fleet
