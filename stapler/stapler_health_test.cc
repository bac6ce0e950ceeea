#include "stapler/stapler_health.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kStarted = absl::FromUnixSeconds(1800000000);
constexpr absl::Duration kThreshold = absl::Hours(12);

v1::VouchingData VdIssuedAt(absl::Time issued_at) {
  v1::VouchingStatement statement;
  statement.set_issued_at_unix_seconds(absl::ToUnixSeconds(issued_at));
  v1::VouchingData vd;
  vd.set_statement(statement.SerializeAsString());
  return vd;
}

TEST(StaplerHealthTest, ServingWhileEveryVaHasAFreshVd) {
  const absl::Time now = kStarted + absl::Hours(30);
  StaplerHealth health = JudgeStaplerHealth(
      {{"va-a", VdIssuedAt(now - absl::Hours(6))}, {"va-b", VdIssuedAt(now - absl::Hours(11))}},
      {"va-a", "va-b"}, kStarted, now, kThreshold);
  EXPECT_TRUE(health.serving);
  EXPECT_THAT(health.problems, IsEmpty());
}

TEST(StaplerHealthTest, NotServingWhenOneVasVdReachesTheThreshold) {
  const absl::Time now = kStarted + absl::Hours(30);
  StaplerHealth health = JudgeStaplerHealth(
      {{"va-a", VdIssuedAt(now - absl::Hours(6))}, {"va-b", VdIssuedAt(now - absl::Hours(12))}},
      {"va-a", "va-b"}, kStarted, now, kThreshold);
  EXPECT_FALSE(health.serving);
  EXPECT_THAT(health.problems, ElementsAre("the VD of VA 'va-b' is 12h old, at least 12h"));
}

TEST(StaplerHealthTest, AVaWithoutAVdCountsOnceTheStaplerRanForTheThreshold) {
  const std::map<std::string, v1::VouchingData> held = {
      {"va-a", VdIssuedAt(kStarted + absl::Minutes(1))}};
  StaplerHealth starting =
      JudgeStaplerHealth(held, {"va-a", "va-b"}, kStarted, kStarted + absl::Hours(11), kThreshold);
  EXPECT_TRUE(starting.serving);
  StaplerHealth later =
      JudgeStaplerHealth(held, {"va-a", "va-b"}, kStarted, kStarted + absl::Hours(12), kThreshold);
  EXPECT_FALSE(later.serving);
  EXPECT_THAT(later.problems, ElementsAre("no VD of VA 'va-b' held after 12h"));
}

TEST(StaplerHealthTest, AVdWhoseStatementDoesNotParseCountsAsNone) {
  v1::VouchingData garbage;
  garbage.set_statement("\xff\xff\xff");
  StaplerHealth health = JudgeStaplerHealth({{"va-a", garbage}}, {"va-a"}, kStarted,
                                            kStarted + absl::Hours(13), kThreshold);
  EXPECT_FALSE(health.serving);
  EXPECT_THAT(health.problems, ElementsAre("no VD of VA 'va-a' held after 13h"));
}

}  // namespace
}  // namespace mecai
