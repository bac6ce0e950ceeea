// The coordinator's VR check and the probe agent's ProbeTask check apply one hostname rule
// (common/net/dns_name.h): every name of the shared table goes through both real entry points, the
// envelope check the coordinator runs before probing (CheckVouchingRequestEnvelope, whose first
// body check is the hostname) and the agent's ValidateProbeTask (what Prober::ProbeAsync and the
// ProbeService run first). A name the coordinator accepts is never one every agent refuses with
// INVALID_ARGUMENT, which the coordinator would record as an unreachable perspective.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/hashing.h"
#include "common/evidence/vouching_request.h"
#include "common/net/dns_name.h"
#include "common/net/ip_address.h"
#include "common/testing/hostname_table.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "probe_agent/prober.h"

namespace mecai {
namespace probe_agent {
namespace {

using ::mecai::test_hostnames::HostnameCase;
using ::mecai::test_hostnames::HostnameCases;
using ::mecai::test_pki::BuildTestPki;
using ::mecai::test_pki::FixtureNow;
using ::mecai::test_pki::KeyType;
using ::mecai::test_pki::SignerFor;
using ::mecai::test_pki::TestPki;
using ::testing::HasSubstr;

class HostnameAgreementTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto pki = BuildTestPki("www.example.test", KeyType::kEcP256);
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = new TestPki(std::move(*pki));
  }

  // The coordinator's verdict on a VR naming `hostname`, signed by the leaf's key, as a TLS server
  // sends it.
  static VouchingRequestCheck CoordinatorCheck(const std::string& hostname) {
    v1::VouchingRequestBody body;
    body.set_hostname(hostname);
    body.set_port(443);
    body.set_trust_list("test-roots");
    body.set_timestamp_unix_seconds(absl::ToUnixSeconds(FixtureNow()));
    body.set_nonce("nonce-0123456789");
    auto signer = SignerFor(pki_->leaf.key.get());
    EXPECT_TRUE(signer.ok()) << signer.status();
    auto request = BuildVouchingRequest(body, pki_->ChainDer(), **signer);
    EXPECT_TRUE(request.ok()) << request.status();
    return CheckVouchingRequestEnvelope(*request, VouchingRequestLimits(), FixtureNow());
  }

  // The ProbeTask the coordinator sends for a VR naming `hostname` (coordinator.cc: the VR
  // body's hostname, a SHA-256 and random nonce bytes).
  static v1::ProbeTask Task(const std::string& hostname) {
    v1::ProbeTask task;
    task.set_hostname(hostname);
    task.set_port(443);
    task.set_vouching_request_sha256(Sha256(hostname));
    task.set_nonce(std::string(32, '\x5a'));
    return task;
  }

  static TestPki* pki_;
};

TestPki* HostnameAgreementTest::pki_ = nullptr;

TEST_F(HostnameAgreementTest, CoordinatorAndAgentGiveTheSameVerdictOnEveryName) {
  std::vector<std::string> only_the_agent_accepts;
  for (const HostnameCase& row : HostnameCases()) {
    SCOPED_TRACE(absl::StrCat("hostname \"", absl::CHexEscape(row.name), "\""));
    const VouchingRequestCheck coordinator = CoordinatorCheck(row.name);
    if (!coordinator.accepted()) {
      // Refused for its hostname, with the rule's message, not for anything else of the VR;
      // a name that is not UTF-8 already fails to parse (a protobuf string field), as malformed.
      EXPECT_EQ(coordinator.refusal.reason(), v1::MALFORMED_REQUEST);
      const std::string rule(ValidateVouchingRequestHostname(row.name).message());
      if (coordinator.refusal.explanation() == "the signed VR body is not a VouchingRequestBody") {
        EXPECT_THAT(rule, HasSubstr("has non-ASCII bytes"));
      } else {
        EXPECT_EQ(coordinator.refusal.explanation(), rule);
      }
    }
    // What the agent is sent: the accepted VR's hostname, or the name as it was.
    const std::string sent =
        coordinator.accepted() ? coordinator.request.body.hostname() : row.name;
    EXPECT_EQ(sent, row.name);
    const absl::Status agent = ValidateProbeTask(Task(sent));
    if (!agent.ok()) {
      EXPECT_EQ(agent.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(agent.message(),
                absl::StrCat("ProbeTask.",
                             ValidateHostname(row.name, hostname_rules::kProbeTask).message()));
    }
    EXPECT_EQ(coordinator.accepted(), row.vouching_request) << coordinator.refusal.explanation();
    EXPECT_EQ(agent.ok(), row.probe_task) << agent;

    // Never accepted before probing and then refused by every agent.
    if (coordinator.accepted()) EXPECT_TRUE(agent.ok()) << agent;
    if (coordinator.accepted() == agent.ok()) continue;
    // The one deliberate difference: a canonical IP literal, which the agent probes for `mecai
    // probe` and the coordinator never sends (its VR rule refuses it as malformed).
    const absl::StatusOr<IpAddress> literal = ParseIpAddress(row.name);
    EXPECT_TRUE(literal.ok() && literal->ToString() == row.name)
        << "only a canonical IP literal may get two verdicts";
    only_the_agent_accepts.push_back(row.name);
  }
  EXPECT_THAT(only_the_agent_accepts, ::testing::ElementsAre("1.2.3.4", "192.0.2.1", "::1",
                                                             "2001:db8::1", "::ffff:127.0.0.1"));
}

// The example that motivated one rule: refused by the coordinator before any probe round, with
// the reason the agents would give.
TEST_F(HostnameAgreementTest, AReservedLabelIsRefusedBeforeProbingWithTheAgentsReason) {
  const VouchingRequestCheck coordinator = CoordinatorCheck("ab--cd.example");
  EXPECT_EQ(coordinator.refusal.reason(), v1::MALFORMED_REQUEST);
  EXPECT_EQ(coordinator.refusal.explanation(),
            "hostname \"ab--cd.example\": label \"ab--cd\" has \"--\" in positions 3-4, reserved "
            "for A-labels (RFC 5890 §2.3.1)");
  const absl::Status agent = ValidateProbeTask(Task("ab--cd.example"));
  EXPECT_EQ(agent.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(agent.message(), absl::StrCat("ProbeTask.", coordinator.refusal.explanation()));
}

}  // namespace
}  // namespace probe_agent
}  // namespace mecai
