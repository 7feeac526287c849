// Stopping a node: a flag with a wake-up, and SIGINT/SIGTERM wired to it.
#ifndef POLLEN_RUNTIME_STOP_H_
#define POLLEN_RUNTIME_STOP_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace pollen {

// Set once, read by any thread; waiting threads wake when it is set.
class StopFlag {
 public:
  void request_stop();
  bool stop_requested() const;
  // Sleeps up to `timeout`; returns true (early) when a stop is requested.
  bool wait_for(std::chrono::duration<double> timeout) const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  bool stop_ = false;
};

// While alive, SIGINT and SIGTERM request a stop on `flag` instead of
// killing the process. The signals are blocked in every thread started
// after construction and taken by one thread with sigwait(), so no work
// happens inside a signal handler. Construct it before starting threads.
class SignalStop {
 public:
  explicit SignalStop(StopFlag* flag);
  ~SignalStop();  // restores the signal mask; joins the thread
  SignalStop(const SignalStop&) = delete;
  SignalStop& operator=(const SignalStop&) = delete;

  // The signal that requested the stop (0 if none).
  int signal_received() const { return signal_; }

 private:
  StopFlag* flag_;
  std::thread thread_;
  int signal_ = 0;
};

}  // namespace pollen

#endif  // POLLEN_RUNTIME_STOP_H_
