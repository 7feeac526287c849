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
