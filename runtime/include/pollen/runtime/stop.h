// Stopping a node: a flag with a wake-up, and SIGINT/SIGTERM wired to it.
#ifndef POLLEN_RUNTIME_STOP_H_
#define POLLEN_RUNTIME_STOP_H_

#include <atomic>
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
  // `exit_on_signal`: the mode below from the start, so a signal already
  // pending when the waiting thread starts is taken in that mode too.
  explicit SignalStop(StopFlag* flag, bool exit_on_signal = false);
  ~SignalStop();  // restores the signal mask; joins the thread
  SignalStop(const SignalStop&) = delete;
  SignalStop& operator=(const SignalStop&) = delete;

  // The signal that requested the stop (0 if none).
  int signal_received() const { return signal_; }

  // While on, a signal ends the process at once (exit code 0, one log
  // line) instead of setting the flag: for start-up work that has nothing
  // to clean up and no stop check of its own (loading a model, reading a
  // large CSV), so Ctrl-C acts within a second there too.
  void exit_on_signal(bool on) { exit_now_ = on; }

 private:
  StopFlag* flag_;
  std::thread thread_;
  std::atomic<int> signal_{0};
  std::atomic<bool> exit_now_{false};
};

}  // namespace pollen

#endif  // POLLEN_RUNTIME_STOP_H_
