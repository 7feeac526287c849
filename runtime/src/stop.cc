#include "pollen/runtime/stop.h"

#include <pthread.h>
#include <signal.h>

#include <cstdlib>

#include "pollen/runtime/log.h"

namespace pollen {

void StopFlag::request_stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
}

bool StopFlag::stop_requested() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stop_;
}

bool StopFlag::wait_for(std::chrono::duration<double> timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return cv_.wait_for(lock, timeout, [this] { return stop_; });
}

namespace {
sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR2);  // private wake-up used by the destructor
  return set;
}
}  // namespace

SignalStop::SignalStop(StopFlag* flag, bool exit_on_signal)
    : flag_(flag), exit_now_(exit_on_signal) {
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  thread_ = std::thread([this, set] {
    int sig = 0;
    if (sigwait(&set, &sig) == 0 && sig != SIGUSR2) {
      signal_ = sig;
      if (exit_now_) {
        POLLEN_LOG(Info) << "Stopped by signal " << sig << " during start-up";
        std::_Exit(0);
      }
      flag_->request_stop();
    }
  });
}

SignalStop::~SignalStop() {
  pthread_kill(thread_.native_handle(), SIGUSR2);
  thread_.join();
  // Drop signals that arrived after the first (a second Ctrl-C) so that
  // unblocking them does not kill the process on its way out.
  sigset_t set = stop_signals();
  const timespec zero{0, 0};
  while (sigtimedwait(&set, nullptr, &zero) > 0) {
  }
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace pollen
