// SuperLinkLite: a conformance stand-in for Flower's SuperLink on one machine.
//
// It serves Flower's Fleet API (grpc-rere) to nodes exactly as strictly as the
// real SuperLink 1.28 does (signed requests, node life cycle, reply
// validation, object store), and offers the ServerApp side as an in-process
// driver API: create a run, send instructions, collect replies. It keeps all
// state in memory and is meant for tests and local demos, not production.
//
// Thread-safety: every method may be called from any thread while gRPC
// handlers run on the server's own threads.
#ifndef POLLEN_SUPERLINK_LITE_SUPERLINK_LITE_H_
#define POLLEN_SUPERLINK_LITE_SUPERLINK_LITE_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pollen/core/message.h"
#include "pollen/core/records.h"
#include "pollen/core/status.h"

namespace pollen {

struct SuperLinkOptions {
  // host:port to listen on; port 0 picks a free port (see SuperLinkLite::port()).
  std::string address = "127.0.0.1:0";
  // PEM files of the server certificate (chain) and its private key. TLS is
  // served when both are set; no client certificates are requested.
  std::string ssl_certfile;
  std::string ssl_keyfile;
  // Flower's --enable-supernode-auth: nodes cannot register themselves over
  // the Fleet API; their public keys are registered with register_node_key().
  // Needs TLS, as in Flower.
  bool enable_supernode_auth = false;
  // A signed timestamp may be this old (Flower: 300 s) ...
  std::chrono::milliseconds timestamp_tolerance{300'000};
  // ... plus this much, and at most this far in the future (Flower: 5 s).
  std::chrono::milliseconds clock_tolerance{5'000};
};

// One Fleet call as the server saw it.
struct CallRecord {
  // Method name ("PullMessages", "NoSuchMethod"), or the full path for calls
  // outside /flwr.proto.Fleet/.
  std::string method;
  // Node id from the request; for RegisterNode/ActivateNode the id returned.
  // 0 when there is none (or the request could not be decoded).
  uint64_t node_id = 0;
  StatusCode code = StatusCode::kOk;
  std::string details;  // the status details sent, "" on success
  // What the node is not told: why a PushMessages answered OK with
  // results {"None": 0} rejected the reply ("reply rejected: ttl exceeds
  // the instruction's"). Empty otherwise.
  std::string note;
  double time = 0;  // Unix seconds when the call was answered
};

class SuperLinkLite {
 public:
  // Starts serving. Errors: a missing or unreadable certificate/key file,
  // enable_supernode_auth without TLS, an address that cannot be bound.
  static Result<std::unique_ptr<SuperLinkLite>> start(const SuperLinkOptions& options = {});

  // Shuts down (see shutdown()).
  ~SuperLinkLite();
  SuperLinkLite(const SuperLinkLite&) = delete;
  SuperLinkLite& operator=(const SuperLinkLite&) = delete;

  // The port actually bound.
  int port() const;
  // "<host>:<port>" with the host of options.address and the bound port.
  std::string address() const;

  // --- Runs and nodes (Flower's Control API and LinkState) ---

  // A new run in state "running"; its id is a random nonzero uint64.
  uint64_t create_run();
  // Marks the run "finished:completed" and drops its messages and objects.
  // From then on nodes get PERMISSION_DENIED "Run is finished." for it.
  // NOT_FOUND for an unknown run.
  Status finish_run(uint64_t run_id);
  // Registers a node's public key (PEM SubjectPublicKeyInfo, the exact bytes
  // the node sends), as `flwr supernode register` does; returns its node id.
  // FAILED_PRECONDITION when the key is already in use.
  Result<uint64_t> register_node_key(const std::string& public_key_pem);
  // Ids of the nodes online now, in increasing order.
  std::vector<uint64_t> online_nodes() const;
  // Waits until at least `count` nodes are online and returns them;
  // DEADLINE_EXCEEDED after `timeout`, CANCELLED on shutdown.
  Result<std::vector<uint64_t>> wait_for_nodes(size_t count, std::chrono::milliseconds timeout);

  // --- Messages (the ServerApp side) ---

  // Sends an instruction: a Message from node 1 to `dst_node_id`, created
  // now, deflated and stored like the ServerApp's own objects. Returns its
  // message id. Errors: unknown or finished run, a destination that is not
  // an activated node (online or offline), an invalid message type, ttl <= 0.
  Result<std::string> push_instruction(uint64_t run_id, uint64_t dst_node_id,
                                       const std::string& message_type, RecordDict content,
                                       double ttl = kDefaultTtl, const std::string& group_id = "");

  // The reply to `instruction_id` once it can be handed to the ServerApp,
  // else nullopt (no reply yet, or objects still being pushed). As in Flower,
  // the answer may be a synthetic error Message from the SuperLink: code
  // NODE_UNAVAILABLE when the destination node is offline (checked before
  // any real reply is looked at), MESSAGE_UNAVAILABLE for an unknown or
  // expired instruction (or a reply whose objects are gone or broken),
  // REPLY_MESSAGE_UNAVAILABLE for an expired reply. An answer is handed out
  // once: the instruction is forgotten afterwards.
  std::optional<Message> get_reply(const std::string& instruction_id);

  // Polls get_reply() for every id every `poll_interval` (Flower's ServerApp
  // polls every 3 s) until all have an answer, `timeout` passes or the
  // server shuts down. Returns the answers received, by instruction id.
  std::map<std::string, Message> wait_for_replies(
      const std::vector<std::string>& instruction_ids, std::chrono::milliseconds timeout,
      std::chrono::milliseconds poll_interval = std::chrono::seconds(3));

  // --- Inspection ---

  // Every Fleet call answered so far, in the order answered.
  std::vector<CallRecord> call_log() const;
  void clear_call_log();

  // Stops serving (in-flight calls are cancelled after a short grace
  // period), wakes every waiter and joins the server's threads. Idempotent.
  void shutdown();

 private:
  struct Impl;
  explicit SuperLinkLite(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pollen

#endif  // POLLEN_SUPERLINK_LITE_SUPERLINK_LITE_H_
