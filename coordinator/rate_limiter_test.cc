#include "coordinator/rate_limiter.h"

#include "common/base/clock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

class RateLimiterTest : public ::testing::Test {
 protected:
  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  absl::Duration retry_after_;
};

TEST_F(RateLimiterTest, AllowsUpToTheLimitInsideTheWindow) {
  HostnameRateLimiter limiter(clock_, 3, absl::Minutes(10));
  EXPECT_TRUE(limiter.TryAcquire("a.example", &retry_after_));
  clock_.Advance(absl::Minutes(1));
  EXPECT_TRUE(limiter.TryAcquire("a.example", &retry_after_));
  clock_.Advance(absl::Minutes(1));
  EXPECT_TRUE(limiter.TryAcquire("a.example", &retry_after_));
  clock_.Advance(absl::Minutes(1));
  EXPECT_FALSE(limiter.TryAcquire("a.example", &retry_after_));
  // The first round leaves the window 10 minutes after it started, 7 minutes from now.
  EXPECT_EQ(retry_after_, absl::Minutes(7));
}

TEST_F(RateLimiterTest, RefusalsDoNotConsumeRounds) {
  HostnameRateLimiter limiter(clock_, 1, absl::Minutes(10));
  ASSERT_TRUE(limiter.TryAcquire("a.example", &retry_after_));
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(limiter.TryAcquire("a.example", &retry_after_));
  clock_.Advance(absl::Minutes(10));
  EXPECT_TRUE(limiter.TryAcquire("a.example", &retry_after_));
}

TEST_F(RateLimiterTest, HostnamesAreIndependent) {
  HostnameRateLimiter limiter(clock_, 1, absl::Minutes(10));
  EXPECT_TRUE(limiter.TryAcquire("a.example", &retry_after_));
  EXPECT_FALSE(limiter.TryAcquire("a.example", &retry_after_));
  EXPECT_TRUE(limiter.TryAcquire("b.example", &retry_after_));
}

TEST_F(RateLimiterTest, MemoryIsBoundedAndExpiredHostnamesGoFirst) {
  HostnameRateLimiter limiter(clock_, 1, absl::Minutes(10), /*max_hostnames=*/3);
  EXPECT_TRUE(limiter.TryAcquire("old.example", &retry_after_));
  clock_.Advance(absl::Minutes(11));
  EXPECT_TRUE(limiter.TryAcquire("b.example", &retry_after_));
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(limiter.TryAcquire("c.example", &retry_after_));
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(limiter.TryAcquire("d.example", &retry_after_));  // Evicts old.example only.
  EXPECT_EQ(limiter.TrackedHostnames(), 3u);
  EXPECT_FALSE(limiter.TryAcquire("b.example", &retry_after_));  // Still remembered.
  EXPECT_TRUE(limiter.TryAcquire("e.example", &retry_after_));   // Evicts the least recent: b.
  EXPECT_EQ(limiter.TrackedHostnames(), 3u);
  EXPECT_TRUE(limiter.TryAcquire("b.example", &retry_after_));
}

}  // namespace
}  // namespace mecai
