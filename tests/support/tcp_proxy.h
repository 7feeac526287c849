// A fault-injecting TCP proxy on 127.0.0.1 for tests: it forwards bytes to a
// target and, on request, delays them, refuses connections, or cuts
// connections (all at once, or each after some bytes). Every thread it
// starts is joined by the destructor.
#ifndef POLLEN_TESTS_SUPPORT_TCP_PROXY_H_
#define POLLEN_TESTS_SUPPORT_TCP_PROXY_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "pollen/core/status.h"

namespace pollen::testing {

class TcpProxy {
 public:
  // Listens on 127.0.0.1:0 and forwards to 127.0.0.1:`target_port`.
  static Result<std::unique_ptr<TcpProxy>> start(int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  // Added before each chunk of bytes is forwarded, both directions.
  void set_delay(std::chrono::milliseconds delay) { delay_ms_ = delay.count(); }
  // While set, new connections are accepted and closed at once.
  void set_refuse(bool refuse) { refuse_ = refuse; }
  // Every connection is cut once it has forwarded this many more bytes from
  // the server, counted from this call (0 = never).
  void set_cut_after(size_t bytes) {
    cut_after_ = bytes;
    ++cut_generation_;
  }
  // Cuts every open connection now.
  void cut_all();
  // Connections accepted so far, and how many were cut by a fault.
  int accepted() const { return accepted_; }
  int cut() const { return cut_; }

 private:
  TcpProxy() = default;
  void accept_loop();
  void pump(int client_fd, int server_fd);

  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  int port_ = 0;
  int target_port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<long> delay_ms_{0};
  std::atomic<bool> refuse_{false};
  std::atomic<size_t> cut_after_{0};
  std::atomic<uint64_t> cut_generation_{0};
  std::atomic<int> accepted_{0};
  std::atomic<int> cut_{0};
  std::mutex mutex_;
  std::vector<int> open_fds_;         // guarded by mutex_
  std::vector<std::thread> workers_;  // guarded by mutex_
  std::thread acceptor_;
};

}  // namespace pollen::testing

#endif  // POLLEN_TESTS_SUPPORT_TCP_PROXY_H_
