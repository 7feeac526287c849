// The heartbeat thread: keeps the node ONLINE on the SuperLink while the node
// trains and until its replies are collected.
#ifndef POLLEN_RUNTIME_SRC_HEARTBEAT_H_
#define POLLEN_RUNTIME_SRC_HEARTBEAT_H_

#include <atomic>
#include <cstdint>
#include <thread>

#include "pollen/core/connection.h"
#include "pollen/runtime/stop.h"

namespace pollen {

// Sends a heartbeat at once, then every (interval - 5 s) x uniform(0.7, 0.9)
// as Flower's SuperNode does; a failed one is retried after a second. Owns
// its thread; the destructor stops and joins it.
class Heartbeat {
 public:
  explicit Heartbeat(Connection& connection);
  ~Heartbeat();
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

  // The node id the SuperLink last answered it does not know (0: none). A
  // heartbeat sent with the old id can come back after the node loop has
  // already connected again: comparing ids keeps that late answer from
  // making the node register a second time.
  uint64_t lost_node() const { return lost_node_; }

 private:
  void run();

  Connection& connection_;
  StopFlag stop_;
  std::atomic<uint64_t> lost_node_{0};
  std::thread thread_;
};

}  // namespace pollen

#endif  // POLLEN_RUNTIME_SRC_HEARTBEAT_H_
