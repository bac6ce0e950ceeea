// Decision reuse (docs/PROTOCOL.md "Decision reuse"): an issued decision answers VRs of the same
// hostname, port, trust list and certificates within the window, and nothing else; a refusal is
// never reused; while one caller decides a key, others wait for its decision instead of deciding
// too; memory is bounded.
#include "coordinator/decision_reuse.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

VerifiedVouchingRequest Request(const std::string& hostname, uint32_t port,
                                const std::string& trust_list,
                                const std::vector<std::string>& leaves) {
  VerifiedVouchingRequest request;
  request.body.set_hostname(hostname);
  request.body.set_port(port);
  request.body.set_trust_list(trust_list);
  request.leaf_sha256 = leaves;
  return request;
}

v1::VouchResponse Issued(uint64_t log_index) {
  v1::VouchResponse response;
  response.mutable_vouching_data()->set_statement("statement " + std::to_string(log_index));
  response.set_log_index(log_index);
  return response;
}

class DecisionReuseTest : public ::testing::Test {
 protected:
  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  DecisionReuse reuse_{clock_, absl::Minutes(10)};
  const std::string key_ =
      DecisionReuse::KeyOf(Request("www.example.test", 443, "mozilla", {"leaf-1"}));
};

TEST_F(DecisionReuseTest, AnIssuedDecisionIsReusedWithinTheWindowOnly) {
  DecisionReuse::Found first = reuse_.Find(key_, absl::Seconds(1));
  ASSERT_TRUE(first.claimed);
  ASSERT_FALSE(first.reusable.has_value());
  const v1::VouchResponse issued = Issued(7);
  reuse_.Release(key_, &issued);

  clock_.Advance(absl::Minutes(10) - absl::Seconds(1));
  DecisionReuse::Found again = reuse_.Find(key_, absl::Seconds(1));
  ASSERT_TRUE(again.reusable.has_value());
  EXPECT_FALSE(again.claimed);
  EXPECT_EQ(again.reusable->log_index(), 7u);
  EXPECT_EQ(again.reusable->vouching_data().statement(), "statement 7");

  clock_.Advance(absl::Seconds(1));
  DecisionReuse::Found expired = reuse_.Find(key_, absl::Seconds(1));
  EXPECT_FALSE(expired.reusable.has_value());
  EXPECT_TRUE(expired.claimed);
}

TEST_F(DecisionReuseTest, OnlyTheSameNamePortListAndCertificatesMatch) {
  ASSERT_TRUE(reuse_.Find(key_, absl::Seconds(1)).claimed);
  const v1::VouchResponse issued = Issued(1);
  reuse_.Release(key_, &issued);
  for (const VerifiedVouchingRequest& other :
       {Request("www.example.test", 443, "mozilla", {"leaf-2"}),
        Request("www.example.test", 443, "mozilla", {"leaf-1", "leaf-2"}),
        Request("www.example.test", 8443, "mozilla", {"leaf-1"}),
        Request("www.example.test", 443, "other-roots", {"leaf-1"}),
        Request("mail.example.test", 443, "mozilla", {"leaf-1"})}) {
    const std::string key = DecisionReuse::KeyOf(other);
    DecisionReuse::Found found = reuse_.Find(key, absl::Seconds(1));
    EXPECT_FALSE(found.reusable.has_value()) << key;
    EXPECT_TRUE(found.claimed) << key;
    reuse_.Release(key, nullptr);
  }
}

TEST_F(DecisionReuseTest, ARefusalIsNeverReused) {
  ASSERT_TRUE(reuse_.Find(key_, absl::Seconds(1)).claimed);
  v1::VouchResponse refused;
  refused.mutable_refusal()->set_reason(v1::CERTIFICATE_MISMATCH);
  reuse_.Release(key_, &refused);
  DecisionReuse::Found found = reuse_.Find(key_, absl::Seconds(1));
  EXPECT_FALSE(found.reusable.has_value());
  EXPECT_TRUE(found.claimed);
  EXPECT_EQ(reuse_.Size(), 0u);
}

// Callers that arrive while a key is being decided wait for that decision and reuse it.
TEST_F(DecisionReuseTest, CallersWaitForTheDecisionBeingMade) {
  ASSERT_TRUE(reuse_.Find(key_, absl::Seconds(1)).claimed);
  std::atomic<int> reused{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < 4; ++i) {
    callers.emplace_back([&] {
      DecisionReuse::Found found = reuse_.Find(key_, absl::Seconds(30));
      if (found.reusable.has_value() && found.reusable->log_index() == 3) ++reused;
      if (found.claimed) reuse_.Release(key_, nullptr);
    });
  }
  absl::SleepFor(absl::Milliseconds(100));
  const v1::VouchResponse issued = Issued(3);
  reuse_.Release(key_, &issued);
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(reused.load(), 4);
}

// A caller waits no longer than it was told: then it decides without a claim.
TEST_F(DecisionReuseTest, AWaitThatLastsTooLongEndsWithoutAClaim) {
  ASSERT_TRUE(reuse_.Find(key_, absl::Seconds(1)).claimed);
  const absl::Time before = absl::Now();
  DecisionReuse::Found found = reuse_.Find(key_, absl::Milliseconds(100));
  EXPECT_GE(absl::Now() - before, absl::Milliseconds(100));
  EXPECT_FALSE(found.reusable.has_value());
  EXPECT_FALSE(found.claimed);
  reuse_.Release(key_, nullptr);
  // The claim is free again.
  EXPECT_TRUE(reuse_.Find(key_, absl::Milliseconds(100)).claimed);
}

TEST_F(DecisionReuseTest, MemoryIsBoundedForgettingTheOldestFirst) {
  DecisionReuse small(clock_, absl::Minutes(10), /*max_decisions=*/2);
  for (int i = 0; i < 3; ++i) {
    const std::string key =
        DecisionReuse::KeyOf(Request("host" + std::to_string(i) + ".test", 443, "mozilla", {"l"}));
    ASSERT_TRUE(small.Find(key, absl::Seconds(1)).claimed);
    const v1::VouchResponse issued = Issued(i);
    small.Release(key, &issued);
    clock_.Advance(absl::Seconds(1));
  }
  EXPECT_EQ(small.Size(), 2u);
  const std::string oldest = DecisionReuse::KeyOf(Request("host0.test", 443, "mozilla", {"l"}));
  EXPECT_FALSE(small.Find(oldest, absl::Seconds(1)).reusable.has_value());
  small.Release(oldest, nullptr);
  const std::string newest = DecisionReuse::KeyOf(Request("host2.test", 443, "mozilla", {"l"}));
  EXPECT_TRUE(small.Find(newest, absl::Seconds(1)).reusable.has_value());
}

}  // namespace
}  // namespace mecai
