#include "probe_agent/probed_requests.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/crypto/hashing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace probe_agent {
namespace {

using ::testing::HasSubstr;

std::string Vr(int i) { return Sha256(absl::StrCat("VR ", i)); }

class ProbedRequestsTest : public ::testing::Test {
 protected:
  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
};

TEST_F(ProbedRequestsTest, TheSameVrIsRefusedWithinTheWindow) {
  ProbedRequests probed(clock_, absl::Seconds(600), 100);
  ASSERT_TRUE(probed.Claim(Vr(1)).ok());
  clock_.Advance(absl::Seconds(42));
  absl::Status again = probed.Claim(Vr(1));
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  EXPECT_EQ(again.message(), absl::StrCat("already probed VR ", HexEncode(Vr(1)),
                                          " 42 s ago; an agent probes a VR once (send a new VR)"));
  // Other VRs are not affected.
  EXPECT_TRUE(probed.Claim(Vr(2)).ok());
  EXPECT_EQ(probed.size(), 2u);
}

TEST_F(ProbedRequestsTest, TheSameVrIsRefusedUntilTheLastMomentOfTheWindow) {
  ProbedRequests probed(clock_, absl::Seconds(600), 100);
  ASSERT_TRUE(probed.Claim(Vr(1)).ok());
  clock_.Advance(absl::Seconds(600) - absl::Milliseconds(1));
  EXPECT_EQ(probed.Claim(Vr(1)).code(), absl::StatusCode::kAlreadyExists);
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(probed.Claim(Vr(1)).ok());
}

TEST_F(ProbedRequestsTest, ExpiredVrsAreForgottenSoMemoryStaysBounded) {
  ProbedRequests probed(clock_, absl::Seconds(60), 1000);
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(probed.Claim(Vr(i)).ok());
  EXPECT_EQ(probed.size(), 500u);
  clock_.Advance(absl::Seconds(61));
  ASSERT_TRUE(probed.Claim(Vr(10000)).ok());
  EXPECT_EQ(probed.size(), 1u);
}

TEST_F(ProbedRequestsTest, WhenFullNewVrsAreRefusedAndNothingIsForgottenEarly) {
  ProbedRequests probed(clock_, absl::Seconds(600), 3);
  ASSERT_TRUE(probed.Claim(Vr(1)).ok());
  clock_.Advance(absl::Seconds(100));
  ASSERT_TRUE(probed.Claim(Vr(2)).ok());
  ASSERT_TRUE(probed.Claim(Vr(3)).ok());
  absl::Status full = probed.Claim(Vr(4));
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted) << full;
  EXPECT_EQ(full.message(),
            "this agent remembers 3 VRs probed in the last 10m, its limit; no new VR is probed "
            "for 500 s, until the oldest is forgotten");
  // The oldest is still remembered: a full memory never lets a VR be probed twice.
  EXPECT_EQ(probed.Claim(Vr(1)).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(probed.size(), 3u);
  // Once the oldest expires there is room again, and only it is forgotten.
  clock_.Advance(absl::Seconds(500));
  EXPECT_TRUE(probed.Claim(Vr(4)).ok());
  EXPECT_EQ(probed.Claim(Vr(2)).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(probed.size(), 3u);
}

TEST_F(ProbedRequestsTest, AReleasedClaimMayBeProbedAgain) {
  ProbedRequests probed(clock_, absl::Seconds(600), 2);
  ASSERT_TRUE(probed.Claim(Vr(1)).ok());
  probed.Release(Vr(1));
  EXPECT_EQ(probed.size(), 0u);
  EXPECT_TRUE(probed.Claim(Vr(1)).ok());
  // Releasing a VR that is not remembered changes nothing.
  probed.Release(Vr(2));
  probed.Release("short");
  EXPECT_EQ(probed.size(), 1u);
  EXPECT_EQ(probed.Claim(Vr(1)).code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(ProbedRequestsTest, ReleasingFreesTheCapacityItHeld) {
  ProbedRequests probed(clock_, absl::Seconds(600), 1);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(probed.Claim(Vr(i)).ok()) << i;
    probed.Release(Vr(i));
  }
  EXPECT_EQ(probed.size(), 0u);
}

TEST_F(ProbedRequestsTest, ADigestThatIsNotSha256IsRefused) {
  ProbedRequests probed(clock_, absl::Seconds(600), 10);
  absl::Status refused = probed.Claim("not a digest");
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("must be 32 bytes (SHA-256), not 12"));
  EXPECT_EQ(probed.size(), 0u);
}

}  // namespace
}  // namespace probe_agent
}  // namespace mecai
