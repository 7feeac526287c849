// FleetConnection: pollen::Connection over the Fleet API, following the call
// sequence of Flower's Python SuperNode (SPEC §3): RegisterNode (self-
// registered keys only), ActivateNode, heartbeats, PullMessages + PullObject
// + ConfirmMessageReceived, PushMessages + PushObject, DeactivateNode +
// UnregisterNode.
#ifndef POLLEN_TRANSPORT_FLEET_CONNECTION_H_
#define POLLEN_TRANSPORT_FLEET_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fleet_rpc.h"
#include "pollen/core/connection.h"
#include "pollen/core/deflate.h"
#include "pollen/core/object.h"
#include "pollen/transport/fleet.h"

namespace pollen::fleet {

// Thread-safety: as Connection requires, heartbeat() may run on another
// thread while any other method runs; the node's key and id are read as one
// snapshot per operation.
class FleetConnection final : public Connection {
 public:
  FleetConnection(FleetOptions options, std::unique_ptr<FleetRpc> rpc);

  Status connect() override;
  uint64_t node_id() const override;
  double heartbeat_interval() const override { return options_.heartbeat_interval; }
  Status heartbeat() override;
  Result<std::optional<Instruction>> receive() override;
  Status send(const Message& reply, double runtime_seconds) override;
  Status disconnect() override;

 private:
  // Who this node is right now; connect() replaces it.
  struct Session {
    std::shared_ptr<const NodeKey> key;
    uint64_t node_id = 0;
    bool self_registered = false;
  };
  Session session() const;

  CallOptions call_options() const;         // ordinary calls
  CallOptions object_call_options() const;  // PullObject / PushObject
  CallOptions heartbeat_call_options() const;
  CallOptions single_try_options() const;  // disconnect()
  // What to say when the SuperLink refuses a pre-registered key's ActivateNode.
  std::string activation_refused(std::string message) const;

  // fleet_objects.cc. A non-OK return is a failed call (receive() fails);
  // `*problem` is what is wrong with the instruction itself (receive()
  // returns it with that status).
  Status pull_objects(const Session& session, const Metadata& metadata,
                      const std::vector<std::string>& ids, ObjectStore* store, Status* problem);
  Status push_objects(const Session& session, uint64_t run_id, const std::string& reply_id,
                      const ObjectTree& tree, const DeflatedObjects& objects,
                      const std::vector<std::string>& wanted);

  const FleetOptions options_;
  const std::unique_ptr<FleetRpc> rpc_;

  mutable std::mutex mu_;
  Session session_;  // guarded by mu_
};

}  // namespace pollen::fleet

#endif  // POLLEN_TRANSPORT_FLEET_CONNECTION_H_
