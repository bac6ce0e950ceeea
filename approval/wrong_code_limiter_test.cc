// Per-network wrong-code limits of the page (docs/APPROVAL.md "Limits"), with a FakeClock.
#include "approval/wrong_code_limiter.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

TEST(WrongCodeLimiterTest, OneNetworkGetsItsAttemptsPerRequestThenWaits) {
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  WrongCodeLimiter limiter({/*per_address=*/5, /*per_address_and_request=*/2, absl::Hours(1)},
                           clock);
  absl::Duration retry;
  EXPECT_TRUE(limiter.TryAcquire("203.0.113.9", "TN0001", &retry));
  clock.Advance(absl::Minutes(10));
  EXPECT_TRUE(limiter.TryAcquire("203.0.113.9", "TN0001", &retry));
  EXPECT_FALSE(limiter.TryAcquire("203.0.113.9", "TN0001", &retry));
  // The first attempt leaves the window 50 minutes from now.
  EXPECT_EQ(retry, absl::Minutes(50));
  // Another address, and another request, are not held up.
  EXPECT_TRUE(limiter.TryAcquire("203.0.113.10", "TN0001", &retry));
  EXPECT_TRUE(limiter.TryAcquire("203.0.113.9", "TN0002", &retry));
  clock.Advance(absl::Minutes(50));
  EXPECT_TRUE(limiter.TryAcquire("203.0.113.9", "TN0001", &retry));
}

TEST(WrongCodeLimiterTest, TheAddressLimitSpansRequests) {
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  WrongCodeLimiter limiter({3, 2, absl::Hours(1)}, clock);
  absl::Duration retry;
  EXPECT_TRUE(limiter.TryAcquire("203.0.113.9", "TN0001", &retry));
  EXPECT_TRUE(limiter.TryAcquire("203.0.113.9", "TN0002", &retry));
  EXPECT_TRUE(limiter.TryAcquire("203.0.113.9", "TN0003", &retry));
  EXPECT_FALSE(limiter.TryAcquire("203.0.113.9", "TN0004", &retry));
  EXPECT_EQ(retry, absl::Hours(1));
}

TEST(WrongCodeLimiterTest, AReleasedAttemptDoesNotCount) {
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  WrongCodeLimiter limiter({5, 1, absl::Hours(1)}, clock);
  absl::Duration retry;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(limiter.TryAcquire("203.0.113.9", "TN0001", &retry)) << i;
    limiter.Release("203.0.113.9", "TN0001");
  }
  EXPECT_TRUE(limiter.TryAcquire("203.0.113.9", "TN0001", &retry));
  EXPECT_FALSE(limiter.TryAcquire("203.0.113.9", "TN0001", &retry));
}

TEST(WrongCodeLimiterTest, AnIpv6ClientIsLimitedByItsSlash64) {
  EXPECT_EQ(WrongCodeLimiter::NetworkOf("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(WrongCodeLimiter::NetworkOf("::ffff:192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(WrongCodeLimiter::NetworkOf("192.0.2.1"), "192.0.2.1");
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  WrongCodeLimiter limiter({5, 1, absl::Hours(1)}, clock);
  absl::Duration retry;
  EXPECT_TRUE(limiter.TryAcquire("2001:db8:1:2::1", "TN0001", &retry));
  EXPECT_FALSE(limiter.TryAcquire("2001:db8:1:2::ffff", "TN0001", &retry));
  EXPECT_TRUE(limiter.TryAcquire("2001:db8:1:3::1", "TN0001", &retry));
}

}  // namespace
}  // namespace mecai
