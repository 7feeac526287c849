// ScriptedFleet: a Fleet service for tests that serves a fixed list of
// instructions and objects (which may be deliberately broken) to one node,
// one instruction at a time, and records every call and every reply. Used to
// replay a real SuperLink's answers and to play a misbehaving server.
#ifndef POLLEN_TESTS_E2E_SCRIPTED_FLEET_H_
#define POLLEN_TESTS_E2E_SCRIPTED_FLEET_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "flwr/proto/fleet.grpc.pb.h"

namespace pollen::testing {

class ScriptedFleet final : public flwr::proto::Fleet::Service {
 public:
  // Objects the server hands out by id, bytes as given (not verified).
  using Objects = std::map<std::string, std::string>;
  // Ids the server asks for after PushMessages; default: every tree id.
  using PushPlan = std::function<std::vector<std::string>(const flwr::proto::PushMessagesRequest&)>;

  ScriptedFleet(uint64_t node_id, std::vector<flwr::proto::PullMessagesResponse> instructions,
                Objects objects, PushPlan plan = nullptr);

  // Starts a server on 127.0.0.1:0 for this service; returns its port.
  int start();
  void stop();
  ~ScriptedFleet() override { stop(); }

  std::vector<std::string> methods() const;
  std::vector<flwr::proto::PushMessagesRequest> pushes() const;
  // Objects pushed by the node, by id.
  Objects pushed_objects() const;
  int unsigned_calls() const { return unsigned_calls_; }
  bool all_served() const;

  grpc::Status RegisterNode(grpc::ServerContext*, const flwr::proto::RegisterNodeFleetRequest*,
                            flwr::proto::RegisterNodeFleetResponse*) override;
  grpc::Status ActivateNode(grpc::ServerContext*, const flwr::proto::ActivateNodeRequest*,
                            flwr::proto::ActivateNodeResponse*) override;
  grpc::Status SendNodeHeartbeat(grpc::ServerContext*, const flwr::proto::SendNodeHeartbeatRequest*,
                                 flwr::proto::SendNodeHeartbeatResponse*) override;
  grpc::Status PullMessages(grpc::ServerContext*, const flwr::proto::PullMessagesRequest*,
                            flwr::proto::PullMessagesResponse*) override;
  grpc::Status PullObject(grpc::ServerContext*, const flwr::proto::PullObjectRequest*,
                          flwr::proto::PullObjectResponse*) override;
  grpc::Status ConfirmMessageReceived(grpc::ServerContext*,
                                      const flwr::proto::ConfirmMessageReceivedRequest*,
                                      flwr::proto::ConfirmMessageReceivedResponse*) override;
  grpc::Status PushMessages(grpc::ServerContext*, const flwr::proto::PushMessagesRequest*,
                            flwr::proto::PushMessagesResponse*) override;
  grpc::Status PushObject(grpc::ServerContext*, const flwr::proto::PushObjectRequest*,
                          flwr::proto::PushObjectResponse*) override;
  grpc::Status DeactivateNode(grpc::ServerContext*, const flwr::proto::DeactivateNodeRequest*,
                              flwr::proto::DeactivateNodeResponse*) override;
  grpc::Status UnregisterNode(grpc::ServerContext*, const flwr::proto::UnregisterNodeFleetRequest*,
                              flwr::proto::UnregisterNodeFleetResponse*) override;

 private:
  void log(const char* method, grpc::ServerContext* context);

  const uint64_t node_id_;
  const std::vector<flwr::proto::PullMessagesResponse> instructions_;
  const Objects objects_;
  const PushPlan plan_;
  std::unique_ptr<grpc::Server> server_;
  mutable std::mutex mutex_;
  std::vector<std::string> methods_;
  std::vector<flwr::proto::PushMessagesRequest> pushes_;
  Objects pushed_;
  size_t next_ = 0;
  bool awaiting_reply_ = false;
  std::atomic<int> unsigned_calls_{0};
};

}  // namespace pollen::testing

#endif  // POLLEN_TESTS_E2E_SCRIPTED_FLEET_H_
