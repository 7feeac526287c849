// A fake Fleet service behind the generated stub interface: it keeps node
// registrations by public key like the SuperLink, serves instructions and
// objects, records every call, and checks that each call is signed and has a
// deadline.
#ifndef POLLEN_TESTS_TRANSPORT_FAKE_FLEET_H_
#define POLLEN_TESTS_TRANSPORT_FAKE_FLEET_H_

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "flwr/proto/fleet.grpc.pb.h"

namespace pollen::testing {

// Everything the fake knows; shared with the test, which keeps a pointer
// after the stub moved into the connection. Lock `mu` to touch it while a
// connection may be calling.
struct FakeFleetState {
  std::mutex mu;

  // Recorded: method names in call order, and what was wrong with a call's
  // headers or deadline (empty when every call was fine).
  std::vector<std::string> calls;
  std::vector<std::string> header_problems;
  std::vector<double> deadlines;  // seconds from the call to its deadline, per call

  // Statuses to answer instead of the real answer, per method, in order.
  std::map<std::string, std::deque<grpc::Status>> fail_next;

  // Nodes, as the SuperLink keeps them: registered public keys and the node
  // id each activated key holds.
  bool supernode_auth = false;       // refuse RegisterNode (FAILED_PRECONDITION)
  std::set<std::string> registered;  // PEM public keys
  std::map<std::string, uint64_t> node_of_key;
  uint64_t next_node_id = 1000;
  bool heartbeat_success = true;

  // Instructions for PullMessages, first in first out.
  std::deque<flwr::proto::PullMessagesResponse> messages;
  // Objects served by PullObject; `unavailable` answers object_available =
  // false that many times first.
  std::map<std::string, std::string> objects;
  std::map<std::string, int> unavailable;
  std::vector<std::string> pulled;     // object ids, in order
  std::vector<std::string> confirmed;  // message ids

  // PushMessages: reject the reply (results {"None": 0}); ask for these ids
  // (default: the whole tree) plus `extra_objects_to_push`.
  bool reject_reply = false;
  bool ask_for_subset = false;
  std::vector<std::string> objects_to_push;
  std::vector<std::string> extra_objects_to_push;
  std::vector<flwr::proto::PushMessagesRequest> pushed_messages;
  std::vector<std::pair<std::string, std::string>> pushed_objects;  // id, content
  bool store_pushed = true;

  // Forgets every node, as a SuperLink restarted with in-memory state.
  void forget_nodes() {
    registered.clear();
    node_of_key.clear();
  }
};

std::unique_ptr<flwr::proto::Fleet::StubInterface> make_fake_fleet(
    std::shared_ptr<FakeFleetState> state);

}  // namespace pollen::testing

#endif  // POLLEN_TESTS_TRANSPORT_FAKE_FLEET_H_
