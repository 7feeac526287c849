// The heartbeat thread: keeps the node ONLINE on the SuperLink while the node
// trains and until its replies are collected.
#ifndef POLLEN_RUNTIME_SRC_HEARTBEAT_H_
#define POLLEN_RUNTIME_SRC_HEARTBEAT_H_

#include <atomic>
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

  // True once the SuperLink answered that it does not know this node.
  bool node_lost() const { return lost_; }
  void clear_node_lost() { lost_ = false; }

 private:
  void run();

  Connection& connection_;
  StopFlag stop_;
  std::atomic<bool> lost_{false};
  std::thread thread_;
};

}  // namespace pollen

#endif  // POLLEN_RUNTIME_SRC_HEARTBEAT_H_
