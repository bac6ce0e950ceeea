// The per-address token buckets of the TLS relay's handshakes, on a fake clock: a flood from one
// address is admitted up to its burst and then at its rate, other addresses are not held up by it,
// and the buckets stay within their bound whatever the number of addresses.
#include "common/net/handshake_rate_limiter.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

// A monotonic time far from zero, as the relay's clock reads.
const absl::Time kStart = absl::UnixEpoch() + absl::Hours(1000);

HandshakeRateLimit Limit(double per_second, unsigned burst, size_t max_tracked = 1000) {
  HandshakeRateLimit limit;
  limit.per_second = per_second;
  limit.burst = burst;
  limit.max_tracked_addresses = max_tracked;
  return limit;
}

// How many of `attempts` handshakes from `key` at `now` are admitted.
int Admitted(HandshakeRateLimiter& limiter, const std::string& key, int attempts, absl::Time now) {
  int admitted = 0;
  for (int i = 0; i < attempts; ++i) admitted += limiter.Admit(key, now) ? 1 : 0;
  return admitted;
}

TEST(HandshakeRateLimiterTest, AFloodFromOneAddressIsAdmittedUpToItsBurstOnly) {
  HandshakeRateLimiter limiter(Limit(/*per_second=*/2, /*burst=*/5));
  EXPECT_EQ(Admitted(limiter, "192.0.2.7", 100, kStart), 5);
  // Another address has its own bucket, whatever the first one does.
  EXPECT_EQ(Admitted(limiter, "192.0.2.8", 3, kStart), 3);
  EXPECT_FALSE(limiter.Admit("192.0.2.7", kStart + absl::Milliseconds(499)));
  EXPECT_EQ(limiter.TrackedAddresses(), 2u);
}

TEST(HandshakeRateLimiterTest, TheBucketRefillsAtItsRateUpToItsBurst) {
  HandshakeRateLimiter limiter(Limit(/*per_second=*/2, /*burst=*/5));
  ASSERT_EQ(Admitted(limiter, "2001:db8::/64", 5, kStart), 5);
  // 2 per second: one token every 500 ms.
  EXPECT_FALSE(limiter.Admit("2001:db8::/64", kStart + absl::Milliseconds(400)));
  EXPECT_TRUE(limiter.Admit("2001:db8::/64", kStart + absl::Milliseconds(500)));
  EXPECT_FALSE(limiter.Admit("2001:db8::/64", kStart + absl::Milliseconds(500)));
  // Refused attempts cost nothing: the next token still comes 500 ms after the last one.
  EXPECT_TRUE(limiter.Admit("2001:db8::/64", kStart + absl::Milliseconds(1000)));
  // A long rest fills the bucket to its burst, not beyond.
  EXPECT_EQ(Admitted(limiter, "2001:db8::/64", 100, kStart + absl::Hours(1)), 5);
  // A clock read earlier than the bucket's last is no time passed.
  EXPECT_FALSE(limiter.Admit("2001:db8::/64", kStart));
}

TEST(HandshakeRateLimiterTest, ASustainedFloodIsAdmittedAtTheRate) {
  HandshakeRateLimiter limiter(Limit(/*per_second=*/10, /*burst=*/20));
  // 1,000 attempts a second for 10 s: the burst, then 10 a second.
  int admitted = 0;
  for (int millisecond = 0; millisecond < 10000; ++millisecond) {
    admitted += limiter.Admit("198.51.100.1", kStart + absl::Milliseconds(millisecond)) ? 1 : 0;
  }
  EXPECT_EQ(admitted, 20 + 99);
}

TEST(HandshakeRateLimiterTest, ZeroPerSecondIsNoLimitAndTracksNothing) {
  HandshakeRateLimiter limiter(Limit(/*per_second=*/0, /*burst=*/1));
  EXPECT_EQ(Admitted(limiter, "192.0.2.7", 1000, kStart), 1000);
  EXPECT_EQ(limiter.TrackedAddresses(), 0u);
}

TEST(HandshakeRateLimiterTest, BucketsFullAgainAreForgotten) {
  HandshakeRateLimiter limiter(Limit(/*per_second=*/10, /*burst=*/3));
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(limiter.Admit(absl::StrCat("10.0.0.", i), kStart));
  EXPECT_EQ(limiter.TrackedAddresses(), 50u);
  // 200 ms later each of them has its one token back: the next new client finds them all full.
  ASSERT_TRUE(limiter.Admit("10.0.1.1", kStart + absl::Milliseconds(200)));
  EXPECT_EQ(limiter.TrackedAddresses(), 1u);
}

TEST(HandshakeRateLimiterTest, ManyDistinctAddressesStayWithinTheBound) {
  constexpr size_t kMaxTracked = 64;
  HandshakeRateLimiter limiter(Limit(/*per_second=*/1, /*burst=*/2, kMaxTracked));
  // An attacker exhausts its own address first.
  ASSERT_EQ(Admitted(limiter, "203.0.113.1", 3, kStart), 2);
  // 100,000 new addresses, none of them with a bucket full again (all within the same second).
  for (int i = 0; i < 100000; ++i) {
    const std::string key = absl::StrCat("2001:db8:", i / 65536, ":", i % 65536, "::/64");
    ASSERT_TRUE(limiter.Admit(key, kStart + absl::Microseconds(i)));
    ASSERT_LE(limiter.TrackedAddresses(), kMaxTracked);
  }
  EXPECT_EQ(limiter.TrackedAddresses(), kMaxTracked);
  // The most recent addresses are the ones remembered: the last one's bucket still holds one
  // token of its two.
  const std::string last = absl::StrCat("2001:db8:", 99999 / 65536, ":", 99999 % 65536, "::/64");
  const absl::Time later = kStart + absl::Microseconds(100000);
  EXPECT_TRUE(limiter.Admit(last, later));
  EXPECT_FALSE(limiter.Admit(last, later));
  // An address refused again and again stays remembered while others come and go: it is the most
  // recently used each time.
  for (int i = 0; i < 1000; ++i) {
    ASSERT_FALSE(limiter.Admit(last, later)) << i;
    ASSERT_TRUE(limiter.Admit(absl::StrCat("192.0.2.", i % 250, "-", i), later));
  }
}

}  // namespace
}  // namespace mecai
