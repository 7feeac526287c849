#include "heartbeat.h"

#include <algorithm>
#include <random>

#include "pollen/runtime/log.h"

namespace pollen {

namespace {
// Flower subtracts the heartbeat call's own timeout from the interval.
constexpr double kHeartbeatCallTimeout = 5.0;
}  // namespace

Heartbeat::Heartbeat(Connection& connection)
    : connection_(connection), thread_([this] { run(); }) {}

Heartbeat::~Heartbeat() {
  stop_.request_stop();
  thread_.join();
}

void Heartbeat::run() {
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.7, 0.9);
  while (!stop_.stop_requested()) {
    const uint64_t node = connection_.node_id();  // the id this heartbeat speaks for
    const Status status = connection_.heartbeat();
    double wait = 1.0;
    if (status.ok()) {
      const double base = std::max(1.0, connection_.heartbeat_interval() - kHeartbeatCallTimeout);
      wait = base * jitter(rng);
      POLLEN_LOG(Debug) << "Heartbeat sent; next in " << wait << " s";
    } else if (status.code() == StatusCode::kUnauthenticated) {
      if (node != 0 && lost_node_.exchange(node) != node) {
        POLLEN_LOG(Warning) << "Heartbeat: " << status.message();
      }
    } else {
      POLLEN_LOG(Warning) << "Heartbeat failed: " << status.message();
    }
    stop_.wait_for(std::chrono::duration<double>(wait));
  }
}

}  // namespace pollen
