// The retry policy: which outcomes are retried, backoff with full jitter,
// and the max_retries / max_wait_time limits, with an instant sleep.
#include "retry.h"

#include <gtest/gtest.h>

#include <chrono>
#include <numeric>
#include <vector>

namespace pollen::fleet {
namespace {

Attempt unavailable() {
  return Attempt{Status(StatusCode::kUnavailable, "PullMessages: UNAVAILABLE: down"), true};
}

class RetryPolicyTest : public ::testing::Test {
 protected:
  RetryPolicy policy_{[this](double s) { sleeps_.push_back(s); }, nullptr, 42};
  std::vector<double> sleeps_;
  RetryOptions limits_;
};

TEST_F(RetryPolicyTest, FullJitterStaysWithinTheCappedExponentialDelay) {
  for (int retry = 0; retry < 12; ++retry) {
    const double cap = std::min(20.0, std::ldexp(1.0, retry));
    double lowest = cap, highest = 0, sum = 0;
    const int n = 2000;
    for (int i = 0; i < n; ++i) {
      const double d = policy_.backoff(limits_, retry);
      ASSERT_GE(d, 0.0);
      ASSERT_LE(d, cap) << "retry " << retry;
      lowest = std::min(lowest, d);
      highest = std::max(highest, d);
      sum += d;
    }
    // Full jitter: the whole range [0, cap] is used, mean about cap / 2.
    EXPECT_LT(lowest, 0.05 * cap) << "retry " << retry;
    EXPECT_GT(highest, 0.95 * cap) << "retry " << retry;
    EXPECT_NEAR(sum / n, cap / 2, 0.05 * cap) << "retry " << retry;
  }
}

TEST_F(RetryPolicyTest, BackoffHonoursBaseAndCapAndHugeRetryCounts) {
  limits_.base_delay = 0.5;
  limits_.max_delay = 3.0;
  for (int i = 0; i < 200; ++i) {
    EXPECT_LE(policy_.backoff(limits_, 0), 0.5);
    EXPECT_LE(policy_.backoff(limits_, 1), 1.0);
    EXPECT_LE(policy_.backoff(limits_, 5), 3.0);
    EXPECT_LE(policy_.backoff(limits_, 1 << 30), 3.0);
  }
}

TEST_F(RetryPolicyTest, RetriesRetryableFailuresUntilSuccess) {
  int calls = 0;
  Status status = policy_.run(limits_, [&] { return ++calls < 6 ? unavailable() : Attempt{}; });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(calls, 6);
  ASSERT_EQ(sleeps_.size(), 5u);
  for (size_t i = 0; i < sleeps_.size(); ++i) {
    EXPECT_LE(sleeps_[i], std::min(20.0, std::ldexp(1.0, static_cast<int>(i))));
  }
}

TEST_F(RetryPolicyTest, DoesNotRetryWhatRetryingCannotFix) {
  int calls = 0;
  Status status = policy_.run(limits_, [&] {
    ++calls;
    return Attempt{Status(StatusCode::kPermissionDenied, "PullObject: PERMISSION_DENIED: x"),
                   false};
  });
  EXPECT_EQ(status.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(status.message(), "PullObject: PERMISSION_DENIED: x");
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(RetryPolicyTest, MaxRetriesBoundsTheTries) {
  limits_.max_retries = 3;
  int calls = 0;
  Status status = policy_.run(limits_, [&] {
    ++calls;
    return unavailable();
  });
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(sleeps_.size(), 3u);
  EXPECT_NE(status.message().find("gave up after 4 tries"), std::string::npos) << status;
}

TEST_F(RetryPolicyTest, ZeroRetriesIsASingleTryWithTheMessageUnchanged) {
  limits_.max_retries = 0;
  int calls = 0;
  Status status = policy_.run(limits_, [&] {
    ++calls;
    return unavailable();
  });
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(sleeps_.empty());
  EXPECT_EQ(status.message(), "PullMessages: UNAVAILABLE: down");
}

TEST_F(RetryPolicyTest, MaxWaitTimeBoundsTheTimeSpentWaiting) {
  limits_.max_wait_time = 30;
  int calls = 0;
  Status status = policy_.run(limits_, [&] {
    ++calls;
    return unavailable();
  });
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  const double waited = std::accumulate(sleeps_.begin(), sleeps_.end(), 0.0);
  EXPECT_LE(waited, 30.0 + 0.1);  // + the real time the attempts took
  EXPECT_GE(waited, 29.0);        // the last wait is cut to what is left, then one more try
  EXPECT_EQ(calls, static_cast<int>(sleeps_.size()) + 1);
}

TEST_F(RetryPolicyTest, UnlimitedByDefault) {
  int calls = 0;
  Status status = policy_.run(limits_, [&] { return ++calls < 200 ? unavailable() : Attempt{}; });
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(calls, 200);
}

TEST(RetryPolicyStopTest, AStopEndsTheRetriesWithCancelled) {
  bool stop = false;
  std::vector<double> sleeps;
  RetryPolicy policy([&](double s) { sleeps.push_back(s); }, [&] { return stop; }, 1);
  int calls = 0;
  Status status = policy.run(RetryOptions{}, [&] {
    if (++calls == 3) stop = true;
    return unavailable();
  });
  EXPECT_EQ(status.code(), StatusCode::kCancelled);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(sleeps.size(), 2u);
}

// With a way to wait for the connection: a wait that begins while it is
// down ends once it is up, so the call is tried again at once; one that
// begins while it is up is the whole backoff. The connection here is a
// count of checks (the zeroth says whether it was up when the wait began).
class RetryPolicyConnectionTest : public ::testing::Test {
 protected:
  RetryPolicy policy(int up_from_check) {
    return RetryPolicy([this](double s) { sleeps_.push_back(s); }, nullptr, kSeed,
                       [this, up_from_check](double seconds) {
                         asked_.push_back(seconds);
                         return static_cast<int>(asked_.size()) - 1 >= up_from_check;
                       });
  }
  // The first backoff a policy with kSeed draws for `limits`.
  double first_backoff(const RetryOptions& limits) {
    return RetryPolicy(nullptr, nullptr, kSeed).backoff(limits, 0);
  }

  static constexpr uint64_t kSeed = 7;
  std::vector<double> sleeps_;
  std::vector<double> asked_;
};

TEST_F(RetryPolicyConnectionTest, AWaitForADownConnectionEndsWhenItIsUp) {
  RetryOptions limits;
  limits.base_delay = limits.max_delay = 100;
  const double backoff = first_backoff(limits);
  ASSERT_GT(backoff, 1.0);
  RetryPolicy p = policy(4);
  int calls = 0;
  Status status = p.run(limits, [&] { return ++calls == 1 ? unavailable() : Attempt{}; });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(calls, 2);
  // Down when the wait began, then three slices without it, then up.
  ASSERT_EQ(asked_.size(), 5u);
  EXPECT_EQ(asked_[0], 0.0);
  for (size_t i = 1; i < asked_.size(); ++i) EXPECT_EQ(asked_[i], RetryPolicy::kConnectedSlice);
  // What the check did not wait of each slice was slept.
  EXPECT_EQ(sleeps_.size(), 3u);
  EXPECT_LE(std::accumulate(sleeps_.begin(), sleeps_.end(), 0.0), 3 * RetryPolicy::kConnectedSlice);
}

TEST_F(RetryPolicyConnectionTest, AWaitThatBeginsConnectedIsTheWholeBackoff) {
  RetryOptions limits;
  limits.base_delay = limits.max_delay = 100;
  const double backoff = first_backoff(limits);
  RetryPolicy p = policy(0);
  int calls = 0;
  Status status = p.run(limits, [&] { return ++calls == 1 ? unavailable() : Attempt{}; });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(asked_, std::vector<double>{0.0});
  EXPECT_EQ(sleeps_, std::vector<double>{backoff});
}

TEST_F(RetryPolicyConnectionTest, AConnectionThatStaysDownWaitsTheWholeBackoffInSlices) {
  RetryOptions limits;
  limits.base_delay = limits.max_delay = 1;
  limits.max_retries = 1;
  const double backoff = first_backoff(limits);
  RetryPolicy p = policy(1000000);
  Status status = p.run(limits, unavailable);
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  // The slices add up to the backoff, less the moments the checks took.
  const double waited = std::accumulate(sleeps_.begin(), sleeps_.end(), 0.0);
  EXPECT_NEAR(waited, backoff, 0.01);
  EXPECT_GE(asked_.size(), 1 + sleeps_.size());
}

TEST_F(RetryPolicyConnectionTest, MaxWaitTimeCountsWhatWasWaited) {
  // Up at every other check: each wait is cut after one slice, so the 10 s
  // of max_wait_time allow many more tries than full backoffs would.
  RetryOptions limits;
  limits.base_delay = limits.max_delay = 5;
  limits.max_wait_time = 10;
  int checks = 0;
  RetryPolicy p([](double) {}, nullptr, kSeed, [&](double) { return ++checks % 2 == 0; });
  int calls = 0;
  Status status = p.run(limits, [&] { return ++calls < 20 ? unavailable() : Attempt{}; });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(calls, 20);
}

TEST(RealSleepTest, SleepsAndEndsEarlyOnStop) {
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  real_sleep(nullptr)(0.05);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(50));

  start = Clock::now();
  real_sleep([] { return true; })(30.0);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));  // far from 30 s, on any machine
}

TEST(RetryTimerTest, CountsWaitsAsRequested) {
  RetryTimer timer;
  timer.add_wait(100.0, 0.0);
  EXPECT_GE(timer.elapsed(), 100.0);
  EXPECT_LT(timer.elapsed(), 110.0);  // the added wait plus real time, however slow
}

}  // namespace
}  // namespace pollen::fleet
