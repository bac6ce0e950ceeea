#include "common/evidence/quorum_policy.h"

#include <algorithm>
#include <string>
#include <vector>

#include "common/base/config_loader.h"
#include "common/crypto/hashing.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::IsNotRefused;
using ::mecai::test_pki::IsRefusal;
using ::mecai::test_pki::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string& LeafA() {
  static const std::string* hash = new std::string(Sha256("leaf A"));
  return *hash;
}
const std::string& LeafB() {
  static const std::string* hash = new std::string(Sha256("leaf B"));
  return *hash;
}
const std::string& Impostor() {
  static const std::string* hash = new std::string(Sha256("impostor leaf"));
  return *hash;
}

// The VR of most tests names leaf A, an EC P-256 certificate; the rollover's, leaves A and B, both
// EC P-256 (one handshake per address, either certificate).
std::vector<VouchedCertificate> VouchedA() { return {{LeafA(), v1::KEY_TYPE_EC_P256}}; }
std::vector<VouchedCertificate> VouchedAB() {
  return {{LeafA(), v1::KEY_TYPE_EC_P256}, {LeafB(), v1::KEY_TYPE_EC_P256}};
}

v1::Perspective MakePerspective(const std::string& id, const std::string& region) {
  v1::Perspective perspective;
  perspective.set_id(id);
  perspective.set_region(region);
  return perspective;
}

// What the handshake asking for `key_type` at `address` saw.
v1::AddressObservation Address(const std::string& address, v1::ProbeOutcome outcome,
                               const std::string& leaf_sha256 = "",
                               v1::CertificateKeyType key_type = v1::KEY_TYPE_EC_P256) {
  v1::AddressObservation observation;
  observation.set_address(address);
  observation.set_outcome(outcome);
  observation.set_requested_key_type(key_type);
  if (outcome == v1::PROBE_OK) {
    observation.set_leaf_sha256(leaf_sha256);
  } else {
    observation.set_error(absl::StrCat(v1::ProbeOutcome_Name(outcome), " for the test"));
  }
  return observation;
}

PerspectiveOutcome Observed(const std::string& id, const std::string& region,
                            const std::vector<v1::AddressObservation>& addresses,
                            int64_t started_unix_milliseconds = 1000) {
  PerspectiveOutcome outcome;
  outcome.perspective = MakePerspective(id, region);
  outcome.kind = PerspectiveOutcome::Kind::kObserved;
  *outcome.body.mutable_perspective() = outcome.perspective;
  outcome.body.set_started_at_unix_milliseconds(started_unix_milliseconds);
  outcome.body.set_finished_at_unix_milliseconds(started_unix_milliseconds + 50);
  for (const v1::AddressObservation& address : addresses) {
    if (std::find(outcome.body.resolved_addresses().begin(),
                  outcome.body.resolved_addresses().end(),
                  address.address()) == outcome.body.resolved_addresses().end()) {
      outcome.body.add_resolved_addresses(address.address());
    }
    *outcome.body.add_addresses() = address;
  }
  return outcome;
}

// A perspective that saw `leaf_sha256` at its single address.
PerspectiveOutcome Agrees(const std::string& id, const std::string& region,
                          int64_t started_unix_milliseconds = 1000,
                          const std::string& leaf_sha256 = LeafA()) {
  return Observed(id, region, {Address("192.0.2.1", v1::PROBE_OK, leaf_sha256)},
                  started_unix_milliseconds);
}

PerspectiveOutcome TimesOut(const std::string& id, const std::string& region) {
  PerspectiveOutcome outcome;
  outcome.perspective = MakePerspective(id, region);
  outcome.kind = PerspectiveOutcome::Kind::kUnreachable;
  outcome.failure = "deadline exceeded";
  return outcome;
}

PerspectiveOutcome InvalidObservation(const std::string& id, const std::string& region) {
  PerspectiveOutcome outcome;
  outcome.perspective = MakePerspective(id, region);
  outcome.kind = PerspectiveOutcome::Kind::kInvalid;
  outcome.failure = "the Observation is not signed by its enrolled key";
  return outcome;
}

PerspectiveOutcome ResolutionFails(const std::string& id, const std::string& region,
                                   const std::string& error) {
  PerspectiveOutcome outcome = Observed(id, region, {});
  outcome.body.set_outcome(v1::PROBE_RESOLUTION_FAILED);
  outcome.body.set_resolution_error(error);
  return outcome;
}

v1::QuorumPolicy Policy(uint32_t min_perspectives, uint32_t min_regions, uint32_t max_unreachable) {
  v1::QuorumPolicy policy;
  policy.set_min_perspectives(min_perspectives);
  policy.set_min_regions(min_regions);
  policy.set_max_unreachable(max_unreachable);
  return policy;
}

std::vector<std::string> Ids(const std::vector<v1::Perspective>& perspectives) {
  std::vector<std::string> ids;
  for (const v1::Perspective& perspective : perspectives) ids.push_back(perspective.id());
  return ids;
}

std::vector<v1::RefusalReason> Disagreements(const QuorumDecision& decision) {
  std::vector<v1::RefusalReason> reasons;
  for (const v1::PerspectiveResult& result : decision.results) {
    reasons.push_back(result.disagreement());
  }
  return reasons;
}

constexpr v1::RefusalReason kAgrees = v1::REFUSAL_REASON_UNSPECIFIED;

TEST(DecideQuorumTest, AllAgreeIssuesWithAgreeingPerspectivesAndEarliestStart) {
  QuorumDecision decision = DecideQuorum({Agrees("eu-1", "eu", 1500), Agrees("us-1", "us", 900),
                                          Agrees("ap-1", "ap", 1200), Agrees("eu-2", "eu", 1000)},
                                         VouchedA(), Policy(3, 2, 0));
  EXPECT_TRUE(decision.issued());
  EXPECT_THAT(decision.refusal, IsNotRefused());
  EXPECT_THAT(Ids(decision.agreeing), ElementsAre("eu-1", "us-1", "ap-1", "eu-2"));
  EXPECT_EQ(decision.earliest_probe_unix_milliseconds, 900);
  EXPECT_THAT(Disagreements(decision), ElementsAre(kAgrees, kAgrees, kAgrees, kAgrees));
  ASSERT_EQ(decision.results.size(), 4u);
  EXPECT_EQ(decision.results[1].perspective().id(), "us-1");
  EXPECT_EQ(decision.results[1].perspective().region(), "us");
  EXPECT_EQ(decision.results[1].detail(), "saw a vouched certificate at its one address");
}

TEST(DecideQuorumTest, PerspectiveAgreesOnlyWhenEveryAddressServesAVouchedCertificate) {
  QuorumDecision decision = DecideQuorum({Observed("eu-1", "eu",
                                                   {Address("192.0.2.1", v1::PROBE_OK, LeafA()),
                                                    Address("2001:db8::1", v1::PROBE_OK, LeafA())}),
                                          Agrees("us-1", "us"), Agrees("ap-1", "ap")},
                                         VouchedA(), Policy(3, 2, 0));
  EXPECT_THAT(decision.refusal, IsNotRefused());
  EXPECT_EQ(decision.results[0].detail(), "saw a vouched certificate at all 2 addresses");
}

TEST(DecideQuorumTest, OneMismatchAmongAgreeingRefusesAsCertificateMismatch) {
  QuorumDecision decision =
      DecideQuorum({Agrees("eu-1", "eu"), Agrees("us-1", "us", 1000, Impostor()),
                    Agrees("ap-1", "ap"), Agrees("eu-2", "eu")},
                   VouchedA(), Policy(3, 2, 0));
  EXPECT_FALSE(decision.issued());
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::CERTIFICATE_MISMATCH,
                        AllOf(HasSubstr("perspective us-1 (us)"), HasSubstr(ShortHex(Impostor())),
                              HasSubstr("192.0.2.1"))));
  EXPECT_THAT(Disagreements(decision),
              ElementsAre(kAgrees, v1::CERTIFICATE_MISMATCH, kAgrees, kAgrees));
  EXPECT_THAT(Ids(decision.agreeing), ElementsAre("eu-1", "ap-1", "eu-2"));
}

TEST(DecideQuorumTest, MismatchAtOneOfSeveralAddressesRefuses) {
  QuorumDecision decision =
      DecideQuorum({Observed("eu-1", "eu",
                             {Address("192.0.2.1", v1::PROBE_OK, LeafA()),
                              Address("2001:db8::1", v1::PROBE_OK, Impostor())}),
                    Agrees("us-1", "us"), Agrees("ap-1", "ap")},
                   VouchedA(), Policy(3, 2, 0));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::CERTIFICATE_MISMATCH,
                        AllOf(HasSubstr("perspective eu-1 (eu)"), HasSubstr("2001:db8::1"))));
}

TEST(DecideQuorumTest, MismatchRefusesEvenWhenOthersTimeOut) {
  // Timeouts beyond max_unreachable would refuse on their own; the mismatch still wins.
  QuorumDecision decision =
      DecideQuorum({TimesOut("eu-1", "eu"), Agrees("us-1", "us", 1000, Impostor()),
                    TimesOut("ap-1", "ap"), Agrees("eu-2", "eu")},
                   VouchedA(), Policy(3, 2, 0));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::CERTIFICATE_MISMATCH, HasSubstr("perspective us-1 (us)")));
  EXPECT_THAT(Disagreements(decision),
              ElementsAre(v1::PERSPECTIVE_TIMEOUT, v1::CERTIFICATE_MISMATCH,
                          v1::PERSPECTIVE_TIMEOUT, kAgrees));
}

TEST(DecideQuorumTest, MismatchOutranksEveryOtherFailure) {
  QuorumDecision decision =
      DecideQuorum({InvalidObservation("eu-1", "eu"), ResolutionFails("us-1", "us", "NXDOMAIN"),
                    Observed("ap-1", "ap", {Address("192.0.2.9", v1::PROBE_HANDSHAKE_FAILED)}),
                    Observed("sa-1", "sa", {Address("10.0.0.1", v1::PROBE_FORBIDDEN_ADDRESS)}),
                    TimesOut("af-1", "af"), Agrees("eu-2", "eu", 1000, Impostor())},
                   VouchedA(), Policy(3, 2, 0));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::CERTIFICATE_MISMATCH, HasSubstr("perspective eu-2 (eu)")));
  EXPECT_THAT(
      Disagreements(decision),
      ElementsAre(v1::INVALID_OBSERVATION, v1::RESOLUTION_FAILED, v1::HANDSHAKE_FAILED,
                  v1::FORBIDDEN_ADDRESS, v1::PERSPECTIVE_TIMEOUT, v1::CERTIFICATE_MISMATCH));
  EXPECT_TRUE(decision.agreeing.empty());
  EXPECT_EQ(decision.earliest_probe_unix_milliseconds, 0);
}

TEST(DecideQuorumTest, MismatchWithinAPerspectiveOutranksItsHandshakeFailure) {
  QuorumDecision decision =
      DecideQuorum({Observed("eu-1", "eu",
                             {Address("192.0.2.1", v1::PROBE_HANDSHAKE_FAILED),
                              Address("192.0.2.2", v1::PROBE_OK, Impostor())}),
                    Agrees("us-1", "us"), Agrees("ap-1", "ap")},
                   VouchedA(), Policy(3, 2, 0));
  EXPECT_THAT(decision.refusal, IsRefusal(v1::CERTIFICATE_MISMATCH, HasSubstr("at 192.0.2.2")));
}

TEST(DecideQuorumTest, InvalidObservationRefuses) {
  QuorumDecision decision =
      DecideQuorum({Agrees("eu-1", "eu"), InvalidObservation("us-1", "us"), Agrees("ap-1", "ap"),
                    ResolutionFails("eu-2", "eu", "SERVFAIL")},
                   VouchedA(), Policy(3, 2, 1));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::INVALID_OBSERVATION,
                        "perspective us-1 (us) the Observation is not signed by its enrolled key"));
}

TEST(DecideQuorumTest, ResolutionFailureRefuses) {
  QuorumDecision decision =
      DecideQuorum({Agrees("eu-1", "eu"), ResolutionFails("us-1", "us", "NXDOMAIN"),
                    Agrees("ap-1", "ap"), Agrees("eu-2", "eu")},
                   VouchedA(), Policy(3, 2, 1));
  EXPECT_THAT(decision.refusal, IsRefusal(v1::RESOLUTION_FAILED,
                                          "perspective us-1 (us) could not resolve: NXDOMAIN"));
  EXPECT_THAT(Ids(decision.agreeing), ElementsAre("eu-1", "ap-1", "eu-2"));
}

TEST(DecideQuorumTest, NoAddressWithoutResolverErrorIsAResolutionFailure) {
  QuorumDecision decision =
      DecideQuorum({Agrees("eu-1", "eu"), ResolutionFails("us-1", "us", ""), Agrees("ap-1", "ap")},
                   VouchedA(), Policy(3, 2, 0));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::RESOLUTION_FAILED, HasSubstr("the name resolved to no address")));
}

// A perspective that saw the vouched certificate at every address it resolved, after its A and
// AAAA queries ended as given.
PerspectiveOutcome AgreesAfterQueries(const std::string& id, const std::string& region,
                                      v1::ResolutionOutcome a, v1::ResolutionOutcome aaaa) {
  PerspectiveOutcome outcome = Agrees(id, region);
  outcome.body.set_a_resolution(a);
  outcome.body.set_aaaa_resolution(aaaa);
  return outcome;
}

// "Every address it resolved" covers both families: a failed query of one family leaves only the
// other family's addresses, which may be exactly those an attacker can intercept. NXDOMAIN and
// NODATA are answers; SERVFAIL, REFUSED, a timeout or another error are not.
TEST(DecideQuorumTest, AFailedQueryOfEitherFamilyIsAResolutionFailure) {
  struct Row {
    v1::ResolutionOutcome a;
    v1::ResolutionOutcome aaaa;
    v1::RefusalReason expected;
    std::string failed_query;  // Named in the detail when the row refuses.
  };
  const std::vector<Row> table = {
      {v1::RESOLUTION_NOERROR, v1::RESOLUTION_NOERROR, kAgrees, ""},
      {v1::RESOLUTION_NOERROR, v1::RESOLUTION_NODATA, kAgrees, ""},
      {v1::RESOLUTION_NODATA, v1::RESOLUTION_NOERROR, kAgrees, ""},
      {v1::RESOLUTION_NOERROR, v1::RESOLUTION_NXDOMAIN, kAgrees, ""},
      {v1::RESOLUTION_NXDOMAIN, v1::RESOLUTION_NOERROR, kAgrees, ""},
      {v1::RESOLUTION_NOT_ASKED, v1::RESOLUTION_NOT_ASKED, kAgrees, ""},
      {v1::RESOLUTION_OUTCOME_UNSPECIFIED, v1::RESOLUTION_OUTCOME_UNSPECIFIED, kAgrees, ""},
      {v1::RESOLUTION_NOERROR, v1::RESOLUTION_SERVFAIL, v1::RESOLUTION_FAILED, "AAAA"},
      {v1::RESOLUTION_NOERROR, v1::RESOLUTION_TIMEOUT, v1::RESOLUTION_FAILED, "AAAA"},
      {v1::RESOLUTION_NOERROR, v1::RESOLUTION_ERROR, v1::RESOLUTION_FAILED, "AAAA"},
      {v1::RESOLUTION_NOERROR, v1::RESOLUTION_REFUSED, v1::RESOLUTION_FAILED, "AAAA"},
      {v1::RESOLUTION_SERVFAIL, v1::RESOLUTION_NOERROR, v1::RESOLUTION_FAILED, "A"},
      {v1::RESOLUTION_TIMEOUT, v1::RESOLUTION_NOERROR, v1::RESOLUTION_FAILED, "A"},
      {v1::RESOLUTION_ERROR, v1::RESOLUTION_NOERROR, v1::RESOLUTION_FAILED, "A"},
      {v1::RESOLUTION_REFUSED, v1::RESOLUTION_NODATA, v1::RESOLUTION_FAILED, "A"},
  };
  for (const Row& row : table) {
    SCOPED_TRACE(absl::StrCat("A ", v1::ResolutionOutcome_Name(row.a), ", AAAA ",
                              v1::ResolutionOutcome_Name(row.aaaa)));
    QuorumDecision decision =
        DecideQuorum({Agrees("eu-1", "eu"), AgreesAfterQueries("us-1", "us", row.a, row.aaaa),
                      Agrees("ap-1", "ap")},
                     VouchedA(), Policy(3, 2, 0));
    EXPECT_EQ(decision.results[1].disagreement(), row.expected);
    if (row.expected == kAgrees) {
      EXPECT_THAT(decision.refusal, IsNotRefused());
      continue;
    }
    const v1::ResolutionOutcome failed = row.failed_query == "A" ? row.a : row.aaaa;
    EXPECT_THAT(decision.refusal,
                IsRefusal(v1::RESOLUTION_FAILED,
                          absl::StrCat("perspective us-1 (us) the ", row.failed_query,
                                       " query failed (", v1::ResolutionOutcome_Name(failed),
                                       "); the addresses of the other family alone are not every "
                                       "address of the name")));
    EXPECT_THAT(Ids(decision.agreeing), ElementsAre("eu-1", "ap-1"));
  }
}

// A timeout allowance does not cover a failed query: the perspective answered, and what it
// answered is not agreement.
TEST(DecideQuorumTest, AFailedQueryRefusesEvenWhenATimeoutWouldBeTolerated) {
  QuorumDecision decision = DecideQuorum(
      {Agrees("eu-1", "eu"), Agrees("us-1", "us"), Agrees("ap-1", "ap"),
       AgreesAfterQueries("eu-2", "eu", v1::RESOLUTION_NOERROR, v1::RESOLUTION_TIMEOUT)},
      VouchedA(), Policy(3, 2, 1));
  EXPECT_THAT(
      decision.refusal,
      IsRefusal(v1::RESOLUTION_FAILED, HasSubstr("perspective eu-2 (eu) the AAAA query failed")));
}

// The certificate seen at the other family's addresses still outranks the failed query.
TEST(DecideQuorumTest, MismatchOutranksAFailedQueryOfTheSamePerspective) {
  PerspectiveOutcome impostor =
      AgreesAfterQueries("us-1", "us", v1::RESOLUTION_NOERROR, v1::RESOLUTION_SERVFAIL);
  impostor.body.mutable_addresses(0)->set_leaf_sha256(Impostor());
  QuorumDecision decision = DecideQuorum({Agrees("eu-1", "eu"), impostor, Agrees("ap-1", "ap")},
                                         VouchedA(), Policy(3, 2, 0));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::CERTIFICATE_MISMATCH, HasSubstr("perspective us-1 (us)")));
}

TEST(DecideQuorumTest, HandshakeOrConnectFailureAtAnyAddressRefuses) {
  for (v1::ProbeOutcome failure :
       {v1::PROBE_HANDSHAKE_FAILED, v1::PROBE_CONNECT_FAILED, v1::PROBE_OVERLOADED}) {
    SCOPED_TRACE(v1::ProbeOutcome_Name(failure));
    QuorumDecision decision = DecideQuorum(
        {Agrees("eu-1", "eu"),
         Observed("us-1", "us",
                  {Address("192.0.2.1", v1::PROBE_OK, LeafA()), Address("192.0.2.2", failure)}),
         Agrees("ap-1", "ap"), Agrees("eu-2", "eu")},
        VouchedA(), Policy(3, 2, 1));
    EXPECT_THAT(
        decision.refusal,
        IsRefusal(v1::HANDSHAKE_FAILED,
                  AllOf(HasSubstr("perspective us-1 (us)"),
                        HasSubstr(absl::StrCat(v1::ProbeOutcome_Name(failure), " at 192.0.2.2")))));
  }
}

TEST(DecideQuorumTest, AllForbiddenAddressesRefuse) {
  QuorumDecision decision =
      DecideQuorum({Agrees("eu-1", "eu"),
                    Observed("us-1", "us",
                             {Address("10.0.0.1", v1::PROBE_FORBIDDEN_ADDRESS),
                              Address("169.254.169.254", v1::PROBE_FORBIDDEN_ADDRESS)}),
                    Agrees("ap-1", "ap"), Agrees("eu-2", "eu")},
                   VouchedA(), Policy(3, 2, 1));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::FORBIDDEN_ADDRESS, AllOf(HasSubstr("perspective us-1 (us)"),
                                                     HasSubstr("special-purpose address"))));
}

// Unanimity: one forbidden address next to a good one is not "all forbidden"; the perspective
// still failed to see the certificate at every address it resolved.
TEST(DecideQuorumTest, SomeForbiddenAddressesAreAHandshakeFailure) {
  QuorumDecision decision =
      DecideQuorum({Agrees("eu-1", "eu"),
                    Observed("us-1", "us",
                             {Address("192.0.2.1", v1::PROBE_OK, LeafA()),
                              Address("10.0.0.1", v1::PROBE_FORBIDDEN_ADDRESS)}),
                    Agrees("ap-1", "ap")},
                   VouchedA(), Policy(3, 2, 0));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::HANDSHAKE_FAILED, HasSubstr("PROBE_FORBIDDEN_ADDRESS at 10.0.0.1")));
}

TEST(DecideQuorumTest, RowsRankInvalidThenResolutionThenHandshakeThenForbidden) {
  const PerspectiveOutcome invalid = InvalidObservation("p-invalid", "r1");
  const PerspectiveOutcome unresolved = ResolutionFails("p-unresolved", "r2", "NXDOMAIN");
  const PerspectiveOutcome handshake =
      Observed("p-handshake", "r3", {Address("192.0.2.1", v1::PROBE_HANDSHAKE_FAILED)});
  const PerspectiveOutcome forbidden =
      Observed("p-forbidden", "r4", {Address("10.0.0.1", v1::PROBE_FORBIDDEN_ADDRESS)});
  const PerspectiveOutcome timeout = TimesOut("p-timeout", "r5");
  const v1::QuorumPolicy policy = Policy(3, 2, 0);
  // Listed in reverse rank so the position of a perspective cannot decide.
  EXPECT_EQ(DecideQuorum({timeout, forbidden, handshake, unresolved, invalid}, VouchedA(), policy)
                .refusal.reason(),
            v1::INVALID_OBSERVATION);
  EXPECT_EQ(DecideQuorum({timeout, forbidden, handshake, unresolved}, VouchedA(), policy)
                .refusal.reason(),
            v1::RESOLUTION_FAILED);
  EXPECT_EQ(DecideQuorum({timeout, forbidden, handshake}, VouchedA(), policy).refusal.reason(),
            v1::HANDSHAKE_FAILED);
  EXPECT_EQ(DecideQuorum({timeout, forbidden}, VouchedA(), policy).refusal.reason(),
            v1::FORBIDDEN_ADDRESS);
  EXPECT_EQ(DecideQuorum({timeout}, VouchedA(), policy).refusal.reason(), v1::PERSPECTIVE_TIMEOUT);
}

TEST(DecideQuorumTest, TimeoutsWithinMaxUnreachableStillIssueWhenTheMinimumAgrees) {
  QuorumDecision decision = DecideQuorum({Agrees("eu-1", "eu", 2000), TimesOut("us-1", "us"),
                                          Agrees("ap-1", "ap", 1800), Agrees("eu-2", "eu", 2100)},
                                         VouchedA(), Policy(3, 2, 1));
  EXPECT_THAT(decision.refusal, IsNotRefused());
  EXPECT_THAT(Ids(decision.agreeing), ElementsAre("eu-1", "ap-1", "eu-2"));
  EXPECT_EQ(decision.earliest_probe_unix_milliseconds, 1800);
  EXPECT_THAT(Disagreements(decision),
              ElementsAre(kAgrees, v1::PERSPECTIVE_TIMEOUT, kAgrees, kAgrees));
  EXPECT_EQ(decision.results[1].detail(), "no answer: deadline exceeded");
}

TEST(DecideQuorumTest, TimeoutsBeyondMaxUnreachableRefuseAsPerspectiveTimeout) {
  QuorumDecision decision =
      DecideQuorum({Agrees("eu-1", "eu"), TimesOut("us-1", "us"), Agrees("ap-1", "ap"),
                    TimesOut("eu-2", "eu"), Agrees("us-2", "us")},
                   VouchedA(), Policy(3, 2, 1));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::PERSPECTIVE_TIMEOUT,
                        "2 of 5 perspectives did not answer in time; the policy allows 1"));
  // Three perspectives in three regions agreed, which alone would have been enough.
  EXPECT_EQ(decision.agreeing.size(), 3u);
}

TEST(DecideQuorumTest, DefaultPolicyAllowsNoTimeout) {
  QuorumDecision decision = DecideQuorum(
      {Agrees("eu-1", "eu"), Agrees("us-1", "us"), Agrees("ap-1", "ap"), TimesOut("eu-2", "eu")},
      VouchedA(), WithPolicyDefaults(v1::QuorumPolicy()));
  EXPECT_THAT(decision.refusal, IsRefusal(v1::PERSPECTIVE_TIMEOUT, HasSubstr("allows 0")));
}

TEST(DecideQuorumTest, TimeoutsWithinMaxUnreachableButBelowMinimumAreInsufficient) {
  QuorumDecision decision =
      DecideQuorum({Agrees("eu-1", "eu"), TimesOut("us-1", "us"), Agrees("ap-1", "ap")}, VouchedA(),
                   Policy(3, 2, 1));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::INSUFFICIENT_PERSPECTIVES,
                        "2 perspectives in 2 regions agreed; the policy needs 3 in 2"));
}

TEST(DecideQuorumTest, AgreementInOneRegionOnlyIsInsufficient) {
  QuorumDecision decision = DecideQuorum(
      {Agrees("eu-1", "eu"), Agrees("eu-2", "eu"), Agrees("eu-3", "eu"), TimesOut("us-1", "us")},
      VouchedA(), Policy(3, 2, 1));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::INSUFFICIENT_PERSPECTIVES,
                        "3 perspectives in 1 regions agreed; the policy needs 3 in 2"));
  EXPECT_EQ(decision.agreeing.size(), 3u);
}

// Trust rule 3's floors (3 perspectives, 2 regions) hold inside the decision itself, whatever
// the policy it is given says: the signer and the coordinator both decide with it.
TEST(DecideQuorumTest, APolicyBelowTheFloorStillNeedsThreePerspectives) {
  QuorumDecision decision =
      DecideQuorum({Agrees("eu-1", "eu"), Agrees("us-1", "us")}, VouchedA(), Policy(1, 1, 0));
  EXPECT_FALSE(decision.issued());
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::INSUFFICIENT_PERSPECTIVES,
                        "2 perspectives in 2 regions agreed; the policy needs 3 in 2"));
}

TEST(DecideQuorumTest, APolicyBelowTheFloorStillNeedsTwoRegions) {
  QuorumDecision decision =
      DecideQuorum({Agrees("eu-1", "eu"), Agrees("eu-2", "eu"), Agrees("eu-3", "eu")}, VouchedA(),
                   Policy(1, 1, 0));
  EXPECT_FALSE(decision.issued());
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::INSUFFICIENT_PERSPECTIVES,
                        "3 perspectives in 1 regions agreed; the policy needs 3 in 2"));
}

TEST(DecideQuorumTest, APolicyOfTwoInOneRegionStillNeedsThreeInTwo) {
  QuorumDecision decision =
      DecideQuorum({Agrees("eu-1", "eu"), Agrees("eu-2", "eu")}, VouchedA(), Policy(2, 1, 0));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::INSUFFICIENT_PERSPECTIVES,
                        "2 perspectives in 1 regions agreed; the policy needs 3 in 2"));
  // The floor is a minimum: three in two regions issue under the same low policy.
  EXPECT_THAT(DecideQuorum({Agrees("eu-1", "eu"), Agrees("eu-2", "eu"), Agrees("us-1", "us")},
                           VouchedA(), Policy(2, 1, 0))
                  .refusal,
              IsNotRefused());
}

TEST(DecideQuorumTest, NoOutcomesAreInsufficientUnderTheDefaultPolicy) {
  QuorumDecision decision = DecideQuorum({}, VouchedA(), WithPolicyDefaults(v1::QuorumPolicy()));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::INSUFFICIENT_PERSPECTIVES, HasSubstr("0 perspectives in 0 regions")));
  EXPECT_TRUE(decision.results.empty());
}

TEST(DecideQuorumTest, RolloverPerspectivesSeeingEitherAcceptedLeafAgree) {
  QuorumDecision decision =
      DecideQuorum({Agrees("eu-1", "eu", 1000, LeafA()), Agrees("us-1", "us", 1000, LeafB()),
                    Observed("ap-1", "ap",
                             {Address("192.0.2.1", v1::PROBE_OK, LeafA()),
                              Address("2001:db8::1", v1::PROBE_OK, LeafB())})},
                   VouchedAB(), Policy(3, 2, 0));
  EXPECT_THAT(decision.refusal, IsNotRefused());
  EXPECT_THAT(Ids(decision.agreeing), ElementsAre("eu-1", "us-1", "ap-1"));
}

TEST(DecideQuorumTest, RolloverStillRefusesACertificateNamedByNeitherVr) {
  QuorumDecision decision =
      DecideQuorum({Agrees("eu-1", "eu", 1000, LeafA()), Agrees("us-1", "us", 1000, LeafB()),
                    Agrees("ap-1", "ap", 1000, Impostor())},
                   VouchedAB(), Policy(3, 2, 0));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::CERTIFICATE_MISMATCH, HasSubstr("perspective ap-1 (ap)")));
}

TEST(DecideQuorumTest, RolloverMismatchOutranksTimeout) {
  QuorumDecision decision = DecideQuorum(
      {TimesOut("eu-1", "eu"), TimesOut("us-1", "us"), Agrees("ap-1", "ap", 1000, LeafB()),
       Observed("sa-1", "sa",
                {Address("192.0.2.1", v1::PROBE_OK, LeafA()),
                 Address("192.0.2.2", v1::PROBE_OK, Impostor())})},
      VouchedAB(), Policy(3, 2, 0));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::CERTIFICATE_MISMATCH,
                        AllOf(HasSubstr("perspective sa-1 (sa)"), HasSubstr("192.0.2.2"))));
}

// docs/PROTOCOL.md "Key-typed handshakes": a server holding an RSA and an ECDSA certificate (leaf
// A) for one name; the VR of a rollover from the RSA certificate to leaf A names both.
const std::string& LeafRsa() {
  static const std::string* hash = new std::string(Sha256("RSA leaf"));
  return *hash;
}
std::vector<VouchedCertificate> VouchedRsa() { return {{LeafRsa(), v1::KEY_TYPE_RSA}}; }
std::vector<VouchedCertificate> VouchedRsaAndA() {
  return {{LeafRsa(), v1::KEY_TYPE_RSA}, {LeafA(), v1::KEY_TYPE_EC_P256}};
}

// Both handshakes at each of two addresses, each shown the certificate of its key type.
PerspectiveOutcome SeesBothKeyTypes(const std::string& id, const std::string& region) {
  return Observed(id, region,
                  {Address("192.0.2.1", v1::PROBE_OK, LeafA(), v1::KEY_TYPE_EC_P256),
                   Address("192.0.2.1", v1::PROBE_OK, LeafRsa(), v1::KEY_TYPE_RSA),
                   Address("2001:db8::1", v1::PROBE_OK, LeafA(), v1::KEY_TYPE_EC_P256),
                   Address("2001:db8::1", v1::PROBE_OK, LeafRsa(), v1::KEY_TYPE_RSA)});
}

TEST(DecideQuorumTest, EachKeyTypesHandshakeShowingTheVrsCertificateOfThatTypeAgrees) {
  QuorumDecision decision =
      DecideQuorum({SeesBothKeyTypes("eu-1", "eu"), SeesBothKeyTypes("us-1", "us"),
                    SeesBothKeyTypes("ap-1", "ap")},
                   VouchedRsaAndA(), Policy(3, 2, 0));
  EXPECT_THAT(decision.refusal, IsNotRefused());
  EXPECT_THAT(Ids(decision.agreeing), ElementsAre("eu-1", "us-1", "ap-1"));
  EXPECT_EQ(decision.results[0].detail(),
            "saw a vouched certificate of each of the VR's 2 key types at all 2 addresses");
  // A VR of the RSA certificate alone: the RSA handshake decides.
  decision = DecideQuorum(
      {Agrees("eu-1", "eu", 1000, LeafRsa()), Agrees("us-1", "us"), Agrees("ap-1", "ap")},
      VouchedRsa(), Policy(3, 2, 0));
  EXPECT_THAT(decision.refusal, IsRefusal(v1::CERTIFICATE_MISMATCH, HasSubstr("eu-1")));
  const auto sees_rsa = [](const std::string& id, const std::string& region) {
    return Observed(id, region, {Address("192.0.2.1", v1::PROBE_OK, LeafRsa(), v1::KEY_TYPE_RSA)});
  };
  EXPECT_THAT(DecideQuorum({sees_rsa("eu-1", "eu"), sees_rsa("us-1", "us"), sees_rsa("ap-1", "ap")},
                           VouchedRsa(), Policy(3, 2, 0))
                  .refusal,
              IsNotRefused());
}

// The server preferred its ECDSA certificate although the handshake asked for RSA only: the VR's
// RSA certificate was not seen, whatever else was.
TEST(DecideQuorumTest, AHandshakeForOneKeyTypeShownAnotherCertificateIsAMismatch) {
  PerspectiveOutcome shown_ecdsa =
      Observed("us-1", "us", {Address("192.0.2.1", v1::PROBE_OK, LeafA(), v1::KEY_TYPE_RSA)});
  const auto sees_rsa = [](const std::string& id, const std::string& region) {
    return Observed(id, region, {Address("192.0.2.1", v1::PROBE_OK, LeafRsa(), v1::KEY_TYPE_RSA)});
  };
  QuorumDecision decision = DecideQuorum(
      {sees_rsa("eu-1", "eu"), shown_ecdsa, sees_rsa("ap-1", "ap")}, VouchedRsa(), Policy(3, 2, 0));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::CERTIFICATE_MISMATCH,
                        HasSubstr("at 192.0.2.1, which the VR does not name (asking for a "
                                  "certificate with an RSA key)")));
  // Even a certificate the VR names counts only in the handshake for its own key type.
  decision =
      DecideQuorum({SeesBothKeyTypes("eu-1", "eu"), shown_ecdsa, SeesBothKeyTypes("ap-1", "ap")},
                   VouchedRsaAndA(), Policy(3, 2, 0));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::CERTIFICATE_MISMATCH,
                        AllOf(HasSubstr("perspective us-1 (us)"),
                              HasSubstr("which the VR names as a certificate of another key type "
                                        "(asking for a certificate with an RSA key)"))));
}

// An Observation made with the agent's default offer (no key type asked for) saw the VR's
// certificate, but says nothing about whether the server presents it to a client asking for its
// key type: it is not evidence for the VR.
TEST(DecideQuorumTest, AnObservationWithoutTheHandshakeForTheVrsKeyTypeDoesNotAgree) {
  PerspectiveOutcome default_offer =
      Observed("us-1", "us",
               {Address("192.0.2.1", v1::PROBE_OK, LeafA(), v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED)});
  QuorumDecision decision = DecideQuorum(
      {Agrees("eu-1", "eu"), default_offer, Agrees("ap-1", "ap")}, VouchedA(), Policy(3, 2, 0));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::INVALID_OBSERVATION,
                        HasSubstr("perspective us-1 (us) made no handshake asking for a "
                                  "certificate with an EC P-256 key at 192.0.2.1")));
  // One key type of two asked for at one address of two.
  PerspectiveOutcome partial =
      Observed("us-1", "us",
               {Address("192.0.2.1", v1::PROBE_OK, LeafA(), v1::KEY_TYPE_EC_P256),
                Address("192.0.2.1", v1::PROBE_OK, LeafRsa(), v1::KEY_TYPE_RSA),
                Address("2001:db8::1", v1::PROBE_OK, LeafA(), v1::KEY_TYPE_EC_P256)});
  decision = DecideQuorum({SeesBothKeyTypes("eu-1", "eu"), partial, SeesBothKeyTypes("ap-1", "ap")},
                          VouchedRsaAndA(), Policy(3, 2, 0));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::INVALID_OBSERVATION,
                        HasSubstr("made no handshake asking for a certificate with an RSA key at "
                                  "2001:db8::1")));
  EXPECT_THAT(Disagreements(decision), ElementsAre(kAgrees, v1::INVALID_OBSERVATION, kAgrees));
}

// During a rollover from RSA to ECDSA both certificates must be served: a server that no longer
// holds the RSA certificate refuses the RSA handshake.
TEST(DecideQuorumTest, AFailedHandshakeForOneKeyTypeIsAHandshakeFailure) {
  v1::AddressObservation refused =
      Address("2001:db8::1", v1::PROBE_HANDSHAKE_FAILED, "", v1::KEY_TYPE_RSA);
  refused.set_error_class(v1::TLS_ALERT);
  refused.set_tls_alert(40);
  PerspectiveOutcome no_rsa =
      Observed("us-1", "us",
               {Address("192.0.2.1", v1::PROBE_OK, LeafA(), v1::KEY_TYPE_EC_P256),
                Address("192.0.2.1", v1::PROBE_OK, LeafRsa(), v1::KEY_TYPE_RSA),
                Address("2001:db8::1", v1::PROBE_OK, LeafA(), v1::KEY_TYPE_EC_P256), refused});
  QuorumDecision decision =
      DecideQuorum({SeesBothKeyTypes("eu-1", "eu"), no_rsa, SeesBothKeyTypes("ap-1", "ap")},
                   VouchedRsaAndA(), Policy(3, 2, 0));
  EXPECT_THAT(decision.refusal,
              IsRefusal(v1::HANDSHAKE_FAILED,
                        AllOf(HasSubstr("perspective us-1 (us)"), HasSubstr("2001:db8::1"))));
}

TEST(WithPolicyDefaultsTest, FillsZerosAndKeepsExplicitValues) {
  v1::QuorumPolicy defaults = WithPolicyDefaults(v1::QuorumPolicy());
  EXPECT_EQ(defaults.min_perspectives(), 3u);
  EXPECT_EQ(defaults.min_regions(), 2u);
  EXPECT_EQ(defaults.max_unreachable(), 0u);
  v1::QuorumPolicy explicit_policy = WithPolicyDefaults(Policy(5, 3, 1));
  EXPECT_EQ(explicit_policy.min_perspectives(), 5u);
  EXPECT_EQ(explicit_policy.min_regions(), 3u);
  EXPECT_EQ(explicit_policy.max_unreachable(), 1u);
}

std::vector<v1::Perspective> Agents(
    const std::vector<std::pair<std::string, std::string>>& ids_and_regions) {
  std::vector<v1::Perspective> perspectives;
  for (const auto& [id, region] : ids_and_regions) {
    perspectives.push_back(MakePerspective(id, region));
  }
  return perspectives;
}

absl::Status Validate(const v1::QuorumPolicy& policy,
                      const std::vector<v1::Perspective>& perspectives) {
  ConfigErrors errors("coordinator.textproto");
  ValidateQuorumPolicy(policy, perspectives, "policy", &errors);
  return errors.ToStatus();
}

TEST(ValidateQuorumPolicyTest, AcceptsASatisfiablePolicy) {
  EXPECT_TRUE(Validate(Policy(3, 2, 1),
                       Agents({{"eu-1", "eu"}, {"eu-2", "eu"}, {"us-1", "us"}, {"ap-1", "ap"}}))
                  .ok());
  EXPECT_TRUE(
      Validate(Policy(3, 2, 0), Agents({{"eu-1", "eu"}, {"us-1", "us"}, {"ap-1", "ap"}})).ok());
}

TEST(ValidateQuorumPolicyTest, RefusesFewerThanThreePerspectives) {
  EXPECT_THAT(
      Validate(Policy(2, 2, 0), Agents({{"eu-1", "eu"}, {"us-1", "us"}, {"ap-1", "ap"}})),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "invalid config coordinator.textproto: policy.min_perspectives: must be at least "
               "3 (trust rule 3)"));
}

TEST(ValidateQuorumPolicyTest, RefusesFewerThanTwoRegions) {
  EXPECT_THAT(
      Validate(Policy(3, 1, 0), Agents({{"eu-1", "eu"}, {"us-1", "us"}, {"ap-1", "ap"}})),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "invalid config coordinator.textproto: policy.min_regions: must be at least 2 "
               "(trust rule 3)"));
}

TEST(ValidateQuorumPolicyTest, RefusesTooFewAgentsForMaxUnreachable) {
  EXPECT_THAT(
      Validate(Policy(3, 2, 1), Agents({{"eu-1", "eu"}, {"us-1", "us"}, {"ap-1", "ap"}})),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("policy: 3 agents with max_unreachable 1 cannot meet min_perspectives "
                         "3")));
  EXPECT_THAT(Validate(Policy(3, 2, 5), Agents({{"eu-1", "eu"}, {"us-1", "us"}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("2 agents with max_unreachable 5 cannot meet")));
}

TEST(ValidateQuorumPolicyTest, RefusesAgentsSpanningTooFewRegions) {
  EXPECT_THAT(Validate(Policy(3, 2, 0), Agents({{"eu-1", "eu"}, {"eu-2", "eu"}, {"eu-3", "eu"}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("policy: the agents span 1 regions; min_regions is 2")));
}

TEST(ValidateQuorumPolicyTest, ReportsEveryProblemAtOnce) {
  EXPECT_THAT(Validate(Policy(2, 1, 0), Agents({})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("policy.min_perspectives"), HasSubstr("policy.min_regions"),
                             HasSubstr("0 agents with max_unreachable 0 cannot meet "
                                       "min_perspectives 2"))));
}

}  // namespace
}  // namespace mecai
