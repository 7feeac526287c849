#include "retry.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>

namespace pollen::fleet {

namespace {

constexpr double kSleepSlice = 0.1;  // seconds between checks for a stop

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string format_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", s);
  return buf;
}

}  // namespace

SleepFn real_sleep(std::function<bool()> stop_requested) {
  return [stop = std::move(stop_requested)](double seconds) {
    using Clock = std::chrono::steady_clock;
    const auto to_ticks = [](double s) {
      constexpr double kMaxSeconds = 365.0 * 24 * 3600;  // keeps the tick count in range
      return std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(std::clamp(s, 0.0, kMaxSeconds)));
    };
    const Clock::time_point end = Clock::now() + to_ticks(seconds);
    while (!(stop && stop())) {
      const Clock::time_point now = Clock::now();
      if (now >= end) return;
      std::this_thread::sleep_for(std::min<Clock::duration>(end - now, to_ticks(kSleepSlice)));
    }
  };
}

double RetryTimer::elapsed() const { return seconds_since(start_) - actual_ + requested_; }

void RetryTimer::add_wait(double requested, double actual) {
  requested_ += requested;
  actual_ += actual;
}

RetryPolicy::RetryPolicy(SleepFn sleep, std::function<bool()> stop_requested, uint64_t seed,
                         std::function<bool(double seconds)> wait_connected)
    : sleep_(std::move(sleep)),
      stop_requested_(std::move(stop_requested)),
      wait_connected_(std::move(wait_connected)),
      rng_(seed) {}

double RetryPolicy::uniform(double lo, double hi) {
  if (!(hi > lo)) return lo;
  std::lock_guard<std::mutex> lock(rng_mu_);
  return std::uniform_real_distribution<double>(lo, hi)(rng_);
}

double RetryPolicy::backoff(const RetryOptions& limits, int retry) {
  // ldexp cannot overflow into inf for the exponents reached before the cap.
  const double delay =
      std::min(limits.max_delay, std::ldexp(limits.base_delay, std::clamp(retry, 0, 60)));
  return uniform(0.0, std::max(0.0, delay));
}

bool RetryPolicy::wait(double seconds, RetryTimer* timer) {
  if (stop_requested()) return false;
  const auto start = std::chrono::steady_clock::now();
  double waited = seconds;
  if (seconds > 0 && wait_connected_ && !wait_connected_(0)) {
    // The connection is down: wait for it, in slices, instead of sleeping.
    waited = 0;
    while (waited < seconds && !stop_requested()) {
      const double slice = std::min(kConnectedSlice, seconds - waited);
      const auto slice_start = std::chrono::steady_clock::now();
      if (wait_connected_(slice)) {
        waited += std::min(slice, seconds_since(slice_start));
        break;
      }
      const double rest = slice - seconds_since(slice_start);
      if (rest > 0) sleep_(rest);
      waited += slice;
    }
  } else if (seconds > 0) {
    sleep_(seconds);
  }
  timer->add_wait(waited, seconds_since(start));
  return !stop_requested();
}

Status RetryPolicy::run(const RetryOptions& limits, const std::function<Attempt()>& attempt) {
  RetryTimer timer;
  for (int tries = 1;; ++tries) {
    Attempt result = attempt();
    if (result.status.ok() || !result.retryable) return result.status;

    auto give_up = [&] {
      if (tries == 1) return result.status;
      return Status(result.status.code(), result.status.message() + " (gave up after " +
                                              std::to_string(tries) + " tries in " +
                                              format_seconds(timer.elapsed()) + ")");
    };
    if (limits.max_retries >= 0 && tries > limits.max_retries) return give_up();
    double delay = backoff(limits, tries - 1);
    if (limits.max_wait_time > 0) {
      const double left = limits.max_wait_time - timer.elapsed();
      if (left <= 0) return give_up();
      // The last wait is cut to what is left; one more try is made at the
      // limit.
      delay = std::min(delay, left);
    }
    if (!wait(delay, &timer)) {
      return Status(StatusCode::kCancelled,
                    result.status.message() + " (stopped while waiting to retry)");
    }
  }
}

}  // namespace pollen::fleet
