#include "stapler/stapler.h"

#include <stdlib.h>

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

class StaplerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* temporary = getenv("TEST_TMPDIR");
    char pattern[256];
    snprintf(pattern, sizeof(pattern), "%s/cacheXXXXXX", temporary != nullptr ? temporary : "/tmp");
    ASSERT_NE(mkdtemp(pattern), nullptr);
    options_.cache_directory = pattern;
  }

  std::unique_ptr<Stapler> MakeStapler() {
    auto stapler = std::make_unique<Stapler>(
        options_, std::vector<std::string>{"va-a", "va-b"}, clock_,
        [this](const std::string& va_id) -> absl::StatusOr<v1::VouchingData> {
          ++fetches_[va_id];
          if (failing_.count(va_id) != 0) return absl::UnavailableError("VS down");
          v1::VouchingStatement statement;
          statement.set_va_id(va_id);
          statement.set_issued_at_unix_seconds(absl::ToUnixSeconds(clock_.Now()));
          v1::VouchingData vd;
          vd.set_statement(statement.SerializeAsString());
          return vd;
        },
        [this](const std::string& va_id, const v1::VouchingData& vd) -> absl::Status {
          v1::VouchingStatement statement;
          statement.ParseFromString(vd.statement());
          if (statement.va_id() != va_id) return absl::PermissionDeniedError("wrong VA");
          if (clock_.Now() - absl::FromUnixSeconds(statement.issued_at_unix_seconds()) >
              absl::Hours(24)) {
            return absl::PermissionDeniedError("too old");
          }
          return absl::OkStatus();
        },
        [this] { return random_; });
    stapler->SetListener([this](std::shared_ptr<const VdSet> set) {
      published_.clear();
      for (const auto& entry : set->entries()) published_.push_back(entry.va_id);
    });
    return stapler;
  }

  StaplerOptions options_;
  FakeClock clock_{kStart};
  double random_ = 0.5;  // No jitter.
  std::map<std::string, int> fetches_;
  std::set<std::string> failing_;
  std::vector<std::string> published_;
};

TEST_F(StaplerTest, FetchesEveryVaThenEverySixHours) {
  auto stapler = MakeStapler();
  ASSERT_TRUE(stapler->LoadCache().ok());
  EXPECT_TRUE(published_.empty());
  EXPECT_EQ(stapler->RunDueFetches(), kStart + absl::Hours(6));
  EXPECT_THAT(published_, ElementsAre("va-a", "va-b"));
  EXPECT_TRUE(ReadFile(stapler->CachePath("va-a")).ok());
  // Nothing is due before six hours.
  clock_.Advance(absl::Hours(5));
  stapler->RunDueFetches();
  EXPECT_EQ(fetches_["va-a"], 1);
  clock_.Advance(absl::Hours(1));
  stapler->RunDueFetches();
  EXPECT_EQ(fetches_["va-a"], 2);
  EXPECT_EQ(fetches_["va-b"], 2);
}

TEST_F(StaplerTest, JitterStaysWithinTheConfiguredFraction) {
  random_ = 0.0;
  auto stapler = MakeStapler();
  EXPECT_EQ(stapler->RunDueFetches(), kStart + absl::Hours(6) * 0.9);
  random_ = 0.999999;
  clock_.Advance(absl::Hours(6));
  EXPECT_LT(stapler->RunDueFetches(), clock_.Now() + absl::Hours(6) * 1.1);
  EXPECT_GT(stapler->status("va-a").next_fetch, clock_.Now() + absl::Hours(6) * 1.09);
}

TEST_F(StaplerTest, BacksOffExponentiallyUpToTheMaximum) {
  failing_ = {"va-b"};
  auto stapler = MakeStapler();
  const absl::Duration expected[] = {absl::Minutes(1), absl::Minutes(2),  absl::Minutes(4),
                                     absl::Minutes(8), absl::Minutes(16), absl::Minutes(32),
                                     absl::Hours(1),   absl::Hours(1)};
  for (absl::Duration backoff : expected) {
    const absl::Time next = stapler->RunDueFetches();
    EXPECT_EQ(next, clock_.Now() + backoff);
    EXPECT_EQ(stapler->status("va-b").last_error, "VS down");
    clock_.Set(next);
  }
  EXPECT_EQ(stapler->status("va-b").consecutive_failures, 8);
  EXPECT_THAT(published_, ElementsAre("va-a"));
  failing_.clear();
  stapler->RunDueFetches();
  EXPECT_EQ(stapler->status("va-b").consecutive_failures, 0);
  EXPECT_THAT(published_, ElementsAre("va-a", "va-b"));
}

TEST_F(StaplerTest, RestartStaplesFromTheCacheAtOnce) {
  MakeStapler()->RunDueFetches();
  clock_.Advance(absl::Hours(2));
  fetches_.clear();
  published_.clear();
  auto restarted = MakeStapler();
  ASSERT_TRUE(restarted->LoadCache().ok());
  EXPECT_THAT(published_, ElementsAre("va-a", "va-b"));
  // Next fetch: six hours after issuance, not now.
  EXPECT_EQ(restarted->RunDueFetches(), kStart + absl::Hours(6));
  EXPECT_TRUE(fetches_.empty());
}

TEST_F(StaplerTest, CorruptOrStaleCacheIsRefetched) {
  ASSERT_TRUE(WriteFileAtomically(options_.cache_directory + "/va-a.vd", "\xff garbage").ok());
  auto stapler = MakeStapler();
  ASSERT_TRUE(stapler->LoadCache().ok());
  EXPECT_TRUE(published_.empty());
  stapler->RunDueFetches();
  EXPECT_EQ(fetches_["va-a"], 1);
  EXPECT_THAT(published_, ElementsAre("va-a", "va-b"));
}

TEST_F(StaplerTest, VdsThatAgeOutAreNoLongerStapled) {
  auto stapler = MakeStapler();
  stapler->RunDueFetches();
  failing_ = {"va-a", "va-b"};
  clock_.Advance(absl::Hours(25));
  stapler->RunDueFetches();
  EXPECT_TRUE(published_.empty());
  EXPECT_FALSE(stapler->status("va-a").holds_vd);
}

TEST(StaplerIdsTest, UnsafeVaIdIsRefused) {
  FakeClock clock(kStart);
  StaplerOptions options;
  options.cache_directory = "/nonexistent";
  Stapler stapler(
      options, {"../etc"}, clock, [](const std::string&) { return v1::VouchingData(); },
      [](const std::string&, const v1::VouchingData&) { return absl::OkStatus(); },
      [] { return 0.5; });
  EXPECT_THAT(std::string(stapler.LoadCache().message()), HasSubstr("cannot name a cache file"));
}

}  // namespace
}  // namespace mecai
