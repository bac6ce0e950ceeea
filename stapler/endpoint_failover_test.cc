// Failover over a VA's endpoints (stapler/endpoint_failover.h) with a fake clock and endpoints
// that fail as a closed port or a silent host would; the real thing, a closed port before a real
// coordinator, is in tests/tls_cluster_test.cc.
#include "stapler/endpoint_failover.h"

#include <string>
#include <utility>
#include <vector>

#include "common/base/clock.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

std::vector<v1::PeerConfig> Endpoints(const std::vector<std::string>& addresses) {
  std::vector<v1::PeerConfig> endpoints;
  for (const std::string& address : addresses) endpoints.emplace_back().set_address(address);
  return endpoints;
}

v1::VouchResponse Issued(const std::string& statement) {
  v1::VouchResponse response;
  response.mutable_vouching_data()->set_statement(statement);
  return response;
}

// Endpoints that behave as scripted, recording each attempt's address and deadline.
class ScriptedEndpoints {
 public:
  enum Behaviour { kRefuseConnection, kSilent, kIssue, kRefuse };
  ScriptedEndpoints(FakeClock& clock, std::vector<Behaviour> behaviours)
      : clock_(clock), behaviours_(std::move(behaviours)) {}

  EndpointAttempt Attempt() {
    return [this](const v1::PeerConfig& endpoint,
                  absl::Duration timeout) -> absl::StatusOr<v1::VouchResponse> {
      const size_t index = attempts_.size();
      attempts_.emplace_back(endpoint.address(), timeout);
      switch (behaviours_.at(index)) {
        case kRefuseConnection:
          clock_.Advance(absl::Milliseconds(1));
          return absl::UnavailableError("Vouching Server " + endpoint.address() +
                                        ": failed to connect to all addresses");
        case kSilent:
          clock_.Advance(timeout);
          return absl::DeadlineExceededError("Vouching Server " + endpoint.address() +
                                             ": Deadline Exceeded");
        case kIssue:
          return Issued("from " + endpoint.address());
        case kRefuse: {
          v1::VouchResponse refused;
          refused.mutable_refusal()->set_reason(v1::CERTIFICATE_MISMATCH);
          refused.mutable_refusal()->set_explanation("the perspectives saw another certificate");
          return refused;
        }
      }
      return absl::InternalError("unreachable");
    };
  }
  const std::vector<std::pair<std::string, absl::Duration>>& attempts() const { return attempts_; }

 private:
  FakeClock& clock_;
  const std::vector<Behaviour> behaviours_;
  std::vector<std::pair<std::string, absl::Duration>> attempts_;
};

TEST(FetchFromEndpointsTest, AClosedFirstEndpointHandsOverToTheSecond) {
  FakeClock clock(absl::FromUnixSeconds(1796558400));
  ScriptedEndpoints script(clock,
                           {ScriptedEndpoints::kRefuseConnection, ScriptedEndpoints::kIssue});
  auto vd = FetchFromEndpoints(Endpoints({"vs-a:443", "vs-b:443"}),
                               {absl::Seconds(60), absl::Seconds(30)}, clock, script.Attempt());
  ASSERT_OK(vd.status());
  EXPECT_EQ(vd->statement(), "from vs-b:443");
  EXPECT_THAT(script.attempts(), ElementsAre(Pair("vs-a:443", absl::Seconds(30)),
                                             Pair("vs-b:443", absl::Seconds(30))));
}

TEST(FetchFromEndpointsTest, TheFirstEndpointIsAskedFirstAndAloneWhenItAnswers) {
  FakeClock clock(absl::FromUnixSeconds(1796558400));
  ScriptedEndpoints script(clock, {ScriptedEndpoints::kIssue});
  auto vd = FetchFromEndpoints(Endpoints({"vs-a:443", "vs-b:443"}),
                               {absl::Seconds(60), absl::Seconds(60)}, clock, script.Attempt());
  ASSERT_OK(vd.status());
  EXPECT_EQ(vd->statement(), "from vs-a:443");
  EXPECT_EQ(script.attempts().size(), 1u);
}

// The VA's refusal is its decision: no other endpoint is asked.
TEST(FetchFromEndpointsTest, ARefusalEndsTheFetch) {
  FakeClock clock(absl::FromUnixSeconds(1796558400));
  ScriptedEndpoints script(clock, {ScriptedEndpoints::kRefuse, ScriptedEndpoints::kIssue});
  auto vd = FetchFromEndpoints(Endpoints({"vs-a:443", "vs-b:443"}),
                               {absl::Seconds(60), absl::Seconds(60)}, clock, script.Attempt());
  EXPECT_THAT(vd.status(),
              test_pki::StatusIs(absl::StatusCode::kFailedPrecondition,
                                 "refused: CERTIFICATE_MISMATCH: the perspectives saw another "
                                 "certificate"));
  EXPECT_EQ(script.attempts().size(), 1u);
}

// Silent endpoints use up their own deadline only; the overall deadline bounds the last one and
// leaves none for an endpoint after it.
TEST(FetchFromEndpointsTest, EachAttemptIsBoundedWithinTheOverallDeadline) {
  FakeClock clock(absl::FromUnixSeconds(1796558400));
  ScriptedEndpoints script(clock, {ScriptedEndpoints::kSilent, ScriptedEndpoints::kSilent,
                                   ScriptedEndpoints::kSilent, ScriptedEndpoints::kIssue});
  const absl::Time start = clock.Now();
  auto vd = FetchFromEndpoints(Endpoints({"vs-a:443", "vs-b:443", "vs-c:443", "vs-d:443"}),
                               {absl::Seconds(50), absl::Seconds(20)}, clock, script.Attempt());
  EXPECT_THAT(script.attempts(),
              ElementsAre(Pair("vs-a:443", absl::Seconds(20)), Pair("vs-b:443", absl::Seconds(20)),
                          Pair("vs-c:443", absl::Seconds(10))));
  EXPECT_EQ(clock.Now() - start, absl::Seconds(50));
  EXPECT_THAT(vd.status(),
              test_pki::StatusIs(
                  absl::StatusCode::kUnavailable,
                  "no Vouching Server endpoint answered (vs-a:443: DEADLINE_EXCEEDED: Vouching "
                  "Server vs-a:443: Deadline Exceeded; vs-b:443: DEADLINE_EXCEEDED: Vouching "
                  "Server vs-b:443: Deadline Exceeded; vs-c:443: DEADLINE_EXCEEDED: Vouching "
                  "Server vs-c:443: Deadline Exceeded; vs-d:443: not tried, the fetch's deadline "
                  "of 50s had passed)"));
}

TEST(FetchFromEndpointsTest, NoEndpointAnsweringNamesEach) {
  FakeClock clock(absl::FromUnixSeconds(1796558400));
  ScriptedEndpoints script(
      clock, {ScriptedEndpoints::kRefuseConnection, ScriptedEndpoints::kRefuseConnection});
  auto vd = FetchFromEndpoints(Endpoints({"vs-a:443", "vs-b:443"}),
                               {absl::Seconds(60), absl::Seconds(60)}, clock, script.Attempt());
  EXPECT_THAT(vd.status(),
              test_pki::StatusIs(absl::StatusCode::kUnavailable,
                                 "no Vouching Server endpoint answered (vs-a:443: UNAVAILABLE: "
                                 "Vouching Server vs-a:443: failed to connect to all addresses; "
                                 "vs-b:443: UNAVAILABLE: Vouching Server vs-b:443: failed to "
                                 "connect to all addresses)"));
}

}  // namespace
}  // namespace mecai
