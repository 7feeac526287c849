// Retrying Fleet calls: how long to wait between tries and when to stop.
// One place for the whole transport; no gRPC here (rpc_status.h decides
// which failures are worth another try).
#ifndef POLLEN_TRANSPORT_RETRY_H_
#define POLLEN_TRANSPORT_RETRY_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <string_view>

#include "pollen/core/status.h"
#include "pollen/transport/fleet.h"

namespace pollen::fleet {

// Waits `seconds`. Injected so tests run without waiting.
using SleepFn = std::function<void(double seconds)>;

// A real sleep, in slices of at most 100 ms so that `stop_requested` (may be
// empty) ends it early.
SleepFn real_sleep(std::function<bool()> stop_requested);

// One attempt of a call: its outcome, and whether trying again may help.
struct Attempt {
  Status status;
  bool retryable = false;
};

// Time spent by a sequence of attempts and waits. A wait counts as the time
// it asked for, so an injected sleep that returns at once still advances the
// timer, and a real one is not counted twice.
class RetryTimer {
 public:
  RetryTimer() : start_(std::chrono::steady_clock::now()) {}
  double elapsed() const;
  void add_wait(double requested, double actual);

 private:
  std::chrono::steady_clock::time_point start_;
  double requested_ = 0;
  double actual_ = 0;
};

// Thread-safe: heartbeats retry on another thread than the node loop.
class RetryPolicy {
 public:
  // `wait_connected(seconds)` (may be empty; must be thread-safe): waits at
  // most `seconds` (0: does not wait) for the connection to the server to be
  // up, asking an idle one to connect, and says whether it is. With it, a
  // wait to retry that began while the connection was down ends as soon as
  // it is up again, so a restarted SuperLink is tried at once instead of
  // after the rest of a backoff of up to max_delay. It is called with at most
  // kConnectedSlice seconds, so a stop request still ends the wait quickly.
  RetryPolicy(SleepFn sleep, std::function<bool()> stop_requested, uint64_t seed,
              std::function<bool(double seconds)> wait_connected = nullptr);

  static constexpr double kConnectedSlice = 0.1;

  // Calls `attempt` until it succeeds, fails in a way another try cannot fix,
  // or `limits` run out, and returns the last status (with the number of
  // tries when the limits ran out; CANCELLED when a stop was requested).
  Status run(const RetryOptions& limits, const std::function<Attempt()>& attempt);

  // The wait before retry `retry` (0 for the first): uniform in
  // [0, min(max_delay, base_delay * 2^retry)].
  double backoff(const RetryOptions& limits, int retry);

  // Uniform in [lo, hi].
  double uniform(double lo, double hi);

  // Waits `seconds` and charges it to `timer`; false (without waiting) when
  // a stop was requested. Ends early when a connection that was down comes
  // back (see the constructor); the timer is then charged what was waited.
  bool wait(double seconds, RetryTimer* timer);

 private:
  bool stop_requested() const { return stop_requested_ && stop_requested_(); }

  SleepFn sleep_;
  std::function<bool()> stop_requested_;
  std::function<bool(double)> wait_connected_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;  // guarded by rng_mu_
};

}  // namespace pollen::fleet

#endif  // POLLEN_TRANSPORT_RETRY_H_
