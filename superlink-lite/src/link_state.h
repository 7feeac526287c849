// The SuperLink's state and the logic of every Fleet method, on the
// generated protobuf messages but without gRPC: nodes, runs, instructions,
// replies and the object store, behind one mutex.
//
// Each Fleet method returns OK or the gRPC status (code and details) that
// Flower's SuperLink 1.28 answers in the same situation; the server maps it
// one to one.
#ifndef POLLEN_SUPERLINK_LITE_LINK_STATE_H_
#define POLLEN_SUPERLINK_LITE_LINK_STATE_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "flwr/proto/fab.pb.h"
#include "flwr/proto/fleet.pb.h"
#include "flwr/proto/heartbeat.pb.h"
#include "flwr/proto/message.pb.h"
#include "flwr/proto/run.pb.h"
#include "link_object_store.h"
#include "pollen/core/message.h"
#include "pollen/core/records.h"
#include "pollen/core/status.h"

namespace pollen {

namespace fp = flwr::proto;

// Flower's HEARTBEAT_MIN/MAX_INTERVAL and HEARTBEAT_PATIENCE.
inline constexpr double kMinHeartbeatInterval = 10.0;
inline constexpr double kMaxHeartbeatInterval = 1800.0;
inline constexpr double kHeartbeatPatience = 2.0;

class LinkState {
 public:
  explicit LinkState(bool enable_supernode_auth);

  // --- Fleet API ---
  Status register_node(const fp::RegisterNodeFleetRequest& request,
                       fp::RegisterNodeFleetResponse* response);
  Status activate_node(const fp::ActivateNodeRequest& request, fp::ActivateNodeResponse* response);
  Status deactivate_node(const fp::DeactivateNodeRequest& request,
                         fp::DeactivateNodeResponse* response);
  Status unregister_node(const fp::UnregisterNodeFleetRequest& request,
                         fp::UnregisterNodeFleetResponse* response);
  Status send_node_heartbeat(const fp::SendNodeHeartbeatRequest& request,
                             fp::SendNodeHeartbeatResponse* response);
  Status pull_messages(const fp::PullMessagesRequest& request, fp::PullMessagesResponse* response);
  // A rejected reply is answered OK with results {"None": 0}; `rejection`
  // (optional) then says why.
  Status push_messages(const fp::PushMessagesRequest& request, fp::PushMessagesResponse* response,
                       std::string* rejection = nullptr);
  Status get_run(const fp::GetRunRequest& request, fp::GetRunResponse* response);
  Status get_fab(const fp::GetFabRequest& request, fp::GetFabResponse* response);
  Status push_object(const fp::PushObjectRequest& request, fp::PushObjectResponse* response);
  Status pull_object(const fp::PullObjectRequest& request, fp::PullObjectResponse* response);
  Status confirm_message_received(const fp::ConfirmMessageReceivedRequest& request,
                                  fp::ConfirmMessageReceivedResponse* response);

  // The node bound to `public_key`, nullopt when none is (or it was
  // unregistered): what the "Invalid node ID" check compares against.
  std::optional<uint64_t> node_id_for_key(const std::string& public_key) const;

  // --- Driver API (see SuperLinkLite) ---
  uint64_t create_run();
  Status finish_run(uint64_t run_id);
  Result<uint64_t> register_node_key(const std::string& public_key);
  std::vector<uint64_t> online_nodes() const;
  Result<std::string> push_instruction(uint64_t run_id, uint64_t dst_node_id,
                                       const std::string& message_type, RecordDict content,
                                       double ttl, const std::string& group_id);
  std::optional<Message> get_reply(const std::string& instruction_id);

 private:
  enum class NodeStatus { kRegistered, kOnline, kOffline, kUnregistered };
  struct Node {
    uint64_t id = 0;
    std::string public_key;
    NodeStatus status = NodeStatus::kRegistered;
    double online_until = 0;  // Unix seconds; 0 before the first activation
    double heartbeat_interval = 0;
  };
  struct Run {
    uint64_t id = 0;
    bool finished = false;
    std::string created_at;  // ISO-8601, as Flower's Run timestamps
    std::string finished_at;
    uint64_t bytes_sent = 0;
    uint64_t bytes_recv = 0;
    double clientapp_runtime = 0;
  };
  struct Instruction {
    Metadata metadata;
    fp::ObjectTree tree;
    bool delivered = false;
    std::string reply_id;    // set once a valid reply was pushed
    bool collected = false;  // the reply was claimed; waiting for its objects
  };
  struct Reply {
    Metadata metadata;
    fp::ObjectTree tree;
  };

  // All *_locked helpers expect mu_ held.
  void tag_offline_locked(Node* node, double now);
  std::optional<uint64_t> node_id_for_key_locked(const std::string& public_key) const;
  Result<uint64_t> create_node_locked(const std::string& public_key);
  // Flower's check_abort: OK for a running run; PERMISSION_DENIED "Run is
  // finished."; UNKNOWN for an unknown run (an unhandled KeyError in Flower).
  Status check_run_locked(uint64_t run_id) const;
  Instruction* find_instruction_locked(const std::string& id);
  void delete_instruction_locked(const std::string& id);
  void delete_expired_locked(double now);
  // OK when the reply may be stored (Flower's validate_message and
  // store_message_res); otherwise why not.
  Status validate_reply_locked(const fp::PushMessagesRequest& request, double now);
  // What get_reply() can do now: hand out a synthetic answer, wait, or
  // inflate the reply from the objects gathered.
  struct Collected;
  Collected collect_reply_locked(Instruction* instruction, double now);

  const bool enable_supernode_auth_;
  mutable std::mutex mu_;
  std::mt19937_64 random_;
  std::map<uint64_t, Node> nodes_;
  std::unordered_map<std::string, uint64_t> key_to_node_;  // kept after unregistration
  std::map<uint64_t, Run> runs_;
  std::vector<Instruction> instructions_;  // in the order pushed, as Flower iterates them
  std::unordered_map<std::string, Reply> replies_;
  LinkObjectStore store_;
};

// Flower's validate_message_type plus the legacy types it still accepts.
bool is_valid_message_type(const std::string& type);

// The synthetic replies the SuperLink answers in place of a node's.
Message make_unavailable_reply(const Metadata& instruction, int64_t code, double now);
Message make_message_unavailable(const std::string& instruction_id, const std::string& detail,
                                 double now);

}  // namespace pollen

#endif  // POLLEN_SUPERLINK_LITE_LINK_STATE_H_
