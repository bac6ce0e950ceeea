#include "common/evidence/enrolled_agents.h"

#include <memory>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"
#include "common/pki/pki_builder.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::FixtureNow;
using ::mecai::test_pki::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kHost[] = "www.example.test";
// Field 1, length-delimited, announcing 5 bytes of which only 2 follow: no message parses it.
constexpr char kTruncatedMessage[] =
    "\x0a\x05"
    "ab";
constexpr uint32_t kPort = 8443;

struct Agent {
  std::string id;
  std::string region;
  EvpPkeyPtr key;
};

v1::AgentEndpoint Endpoint(const std::string& id, const std::string& region,
                           const std::string& public_key_file) {
  v1::AgentEndpoint endpoint;
  endpoint.mutable_perspective()->set_id(id);
  endpoint.mutable_perspective()->set_region(region);
  endpoint.set_public_key_file(public_key_file);
  return endpoint;
}

google::protobuf::RepeatedPtrField<v1::AgentEndpoint> Endpoints(
    const std::vector<v1::AgentEndpoint>& endpoints) {
  return google::protobuf::RepeatedPtrField<v1::AgentEndpoint>(endpoints.begin(), endpoints.end());
}

class EnrolledAgentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto directory = test_pki::MakeTempDirectory();
    ASSERT_TRUE(directory.ok()) << directory.status();
    directory_ = *directory;
    // One agent per supported key kind: P-256, P-384 and RSA-2048.
    AddAgent("eu-west-1a", "eu-west", GenerateEcKey(256));
    AddAgent("us-east-1a", "us-east", GenerateEcKey(384));
    AddAgent("ap-south-1a", "ap-south", GenerateRsaKey(2048));
    auto outsider = GenerateEcKey(256);
    ASSERT_TRUE(outsider.ok()) << outsider.status();
    outsider_key_ = std::move(*outsider);

    std::vector<v1::AgentEndpoint> endpoints;
    for (const Agent& agent : agents_)
      endpoints.push_back(Endpoint(agent.id, agent.region, KeyFile(agent)));
    auto enrolled = EnrolledAgents::Load(Endpoints(endpoints));
    ASSERT_TRUE(enrolled.ok()) << enrolled.status();
    enrolled_ = std::move(*enrolled);

    expected_.request_sha256 = Sha256("the serialized VouchingRequest");
    expected_.nonce = "0123456789abcdef";
    expected_.hostname = kHost;
    expected_.port = kPort;
    expected_.certificate_key_types = {v1::KEY_TYPE_EC_P256};
    expected_.now = clock_.Now();
  }

  void AddAgent(const std::string& id, const std::string& region, absl::StatusOr<EvpPkeyPtr> key) {
    ASSERT_TRUE(key.ok()) << key.status();
    agents_.push_back(Agent{id, region, std::move(*key)});
  }

  std::string KeyFile(const Agent& agent) {
    auto path =
        test_pki::WriteTestFile(directory_, agent.id + ".pub", PublicKeyToPem(agent.key.get()));
    EXPECT_TRUE(path.ok()) << path.status();
    return path.ok() ? *path : "";
  }

  // The body agent `index` would send for `expected_`, finished 2 s before now.
  v1::ObservationBody Body(size_t index) const {
    v1::ObservationBody body;
    body.mutable_perspective()->set_id(agents_[index].id);
    body.mutable_perspective()->set_region(agents_[index].region);
    body.set_hostname(expected_.hostname);
    body.set_port(expected_.port);
    body.set_vouching_request_sha256(expected_.request_sha256);
    body.set_nonce(expected_.nonce);
    body.set_started_at_unix_milliseconds(absl::ToUnixMillis(clock_.Now() - absl::Seconds(3)));
    body.set_finished_at_unix_milliseconds(absl::ToUnixMillis(clock_.Now() - absl::Seconds(2)));
    body.set_outcome(v1::PROBE_OK);
    body.add_resolved_addresses("192.0.2.1");
    for (v1::CertificateKeyType key_type : expected_.certificate_key_types) {
      body.add_certificate_key_types(key_type);
      v1::AddressObservation* address = body.add_addresses();
      address->set_address("192.0.2.1");
      address->set_outcome(v1::PROBE_OK);
      address->set_leaf_sha256(Sha256("leaf"));
      address->set_requested_key_type(key_type);
    }
    return body;
  }

  static v1::SignedObservation SignWith(EVP_PKEY* key, const std::string& tbs) {
    v1::SignedObservation observation;
    observation.set_tbs(tbs);
    auto algorithm = AlgorithmForKey(key);
    EXPECT_TRUE(algorithm.ok()) << algorithm.status();
    auto signature = SignBytes(key, algorithm.ok() ? *algorithm : v1::ECDSA_P256_SHA256,
                               SignedMessage(SignedObject::kObservation, tbs));
    EXPECT_TRUE(signature.ok()) << signature.status();
    if (signature.ok()) *observation.mutable_signature() = *signature;
    return observation;
  }

  v1::SignedObservation Sign(size_t signer, const v1::ObservationBody& body) const {
    return SignWith(agents_[signer].key.get(), body.SerializeAsString());
  }

  std::string directory_;
  FakeClock clock_{FixtureNow()};
  std::vector<Agent> agents_;
  EvpPkeyPtr outsider_key_;
  std::unique_ptr<EnrolledAgents> enrolled_;
  ObservationExpectation expected_;
};

TEST_F(EnrolledAgentsTest, ListsThePerspectivesInConfigurationOrder) {
  EXPECT_EQ(enrolled_->size(), 3u);
  std::vector<std::string> ids;
  std::vector<std::string> regions;
  for (const v1::Perspective& perspective : enrolled_->perspectives()) {
    ids.push_back(perspective.id());
    regions.push_back(perspective.region());
  }
  EXPECT_THAT(ids, ElementsAre("eu-west-1a", "us-east-1a", "ap-south-1a"));
  EXPECT_THAT(regions, ElementsAre("eu-west", "us-east", "ap-south"));
}

TEST_F(EnrolledAgentsTest, ObservationSignedByTheEnrolledKeyVerifies) {
  for (size_t i = 0; i < agents_.size(); ++i) {
    SCOPED_TRACE(agents_[i].id);
    v1::ObservationBody body = Body(i);
    auto verified = enrolled_->Verify(agents_[i].id, Sign(i, body), expected_);
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*verified, body));
  }
}

TEST_F(EnrolledAgentsTest, UnknownAgentIdIsRefused) {
  EXPECT_THAT(
      enrolled_->Verify("sa-east-1a", Sign(0, Body(0)), expected_),
      StatusIs(absl::StatusCode::kInvalidArgument, "no agent with id 'sa-east-1a' is enrolled"));
}

TEST_F(EnrolledAgentsTest, ObservationSignedByAnotherKeyIsRefused) {
  const std::string tbs = Body(0).SerializeAsString();
  const auto not_signed =
      StatusIs(absl::StatusCode::kInvalidArgument,
               "the Observation from 'eu-west-1a' is not signed by its enrolled key");
  // A key no agent holds.
  EXPECT_THAT(enrolled_->Verify("eu-west-1a", SignWith(outsider_key_.get(), tbs), expected_),
              not_signed);
  // Another enrolled agent's key (same key type as well as different ones).
  EXPECT_THAT(enrolled_->Verify("eu-west-1a", SignWith(agents_[1].key.get(), tbs), expected_),
              not_signed);
  EXPECT_THAT(enrolled_->Verify("eu-west-1a", SignWith(agents_[2].key.get(), tbs), expected_),
              not_signed);
}

TEST_F(EnrolledAgentsTest, TamperedBodyIsRefused) {
  v1::SignedObservation observation = Sign(0, Body(0));
  v1::ObservationBody tampered = Body(0);
  tampered.mutable_addresses(0)->set_leaf_sha256(Sha256("impostor"));
  observation.set_tbs(tampered.SerializeAsString());
  EXPECT_THAT(
      enrolled_->Verify("eu-west-1a", observation, expected_),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not signed by its enrolled")));
}

TEST_F(EnrolledAgentsTest, UnsignedObservationIsRefused) {
  v1::SignedObservation observation;
  observation.set_tbs(Body(0).SerializeAsString());
  EXPECT_THAT(
      enrolled_->Verify("eu-west-1a", observation, expected_),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not signed by its enrolled")));
}

TEST_F(EnrolledAgentsTest, SignedBytesThatAreNotAnObservationAreRefused) {
  EXPECT_THAT(
      enrolled_->Verify("eu-west-1a",
                        SignWith(agents_[0].key.get(), std::string(kTruncatedMessage)), expected_),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "the signed Observation is not an ObservationBody"));
}

TEST_F(EnrolledAgentsTest, ObservationNamingAnotherPerspectiveIsRefused) {
  // Signed by eu-west-1a but claiming to be us-east-1a.
  v1::ObservationBody claims_other_id = Body(0);
  *claims_other_id.mutable_perspective() = Body(1).perspective();
  EXPECT_THAT(enrolled_->Verify("eu-west-1a", Sign(0, claims_other_id), expected_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "the Observation names perspective us-east-1a/us-east but the agent is "
                       "enrolled as eu-west-1a/eu-west"));
  // The right id in the wrong region.
  v1::ObservationBody claims_other_region = Body(0);
  claims_other_region.mutable_perspective()->set_region("us-east");
  EXPECT_THAT(enrolled_->Verify("eu-west-1a", Sign(0, claims_other_region), expected_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("names perspective eu-west-1a/us-east")));
}

TEST_F(EnrolledAgentsTest, ObservationBoundToAnotherRequestOrRoundIsRefused) {
  const auto bound_elsewhere =
      StatusIs(absl::StatusCode::kInvalidArgument,
               "the Observation is bound to another VR or probe round (digest or nonce differ)");
  v1::ObservationBody other_digest = Body(0);
  other_digest.set_vouching_request_sha256(Sha256("another VouchingRequest"));
  EXPECT_THAT(enrolled_->Verify("eu-west-1a", Sign(0, other_digest), expected_), bound_elsewhere);
  v1::ObservationBody other_nonce = Body(0);
  other_nonce.set_nonce("fedcba9876543210");
  EXPECT_THAT(enrolled_->Verify("eu-west-1a", Sign(0, other_nonce), expected_), bound_elsewhere);
  v1::ObservationBody no_nonce = Body(0);
  no_nonce.clear_nonce();
  EXPECT_THAT(enrolled_->Verify("eu-west-1a", Sign(0, no_nonce), expected_), bound_elsewhere);
}

TEST_F(EnrolledAgentsTest, ObservationForAnotherHostOrPortIsRefused) {
  v1::ObservationBody other_host = Body(0);
  other_host.set_hostname("mail.example.test");
  EXPECT_THAT(enrolled_->Verify("eu-west-1a", Sign(0, other_host), expected_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "the Observation is for mail.example.test:8443, not "
                       "www.example.test:8443"));
  v1::ObservationBody other_port = Body(0);
  other_port.set_port(443);
  EXPECT_THAT(enrolled_->Verify("eu-west-1a", Sign(0, other_port), expected_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "the Observation is for www.example.test:443, not "
                       "www.example.test:8443"));
}

// docs/PROTOCOL.md "Key-typed handshakes": an Observation is evidence for a VR only when its
// handshakes asked for the key types of the VR's certificates.
TEST_F(EnrolledAgentsTest, ObservationMadeForOtherKeyTypesIsRefused) {
  v1::ObservationBody default_offer = Body(0);  // As an agent asked for no key type makes it.
  default_offer.clear_certificate_key_types();
  default_offer.mutable_addresses(0)->clear_requested_key_type();
  EXPECT_THAT(enrolled_->Verify("eu-west-1a", Sign(0, default_offer), expected_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "the Observation asked for certificates of key types none, not those of "
                       "the VR's certificates (EC P-256)"));
  v1::ObservationBody rsa = Body(0);
  rsa.set_certificate_key_types(0, v1::KEY_TYPE_RSA);
  rsa.mutable_addresses(0)->set_requested_key_type(v1::KEY_TYPE_RSA);
  EXPECT_THAT(enrolled_->Verify("eu-west-1a", Sign(0, rsa), expected_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("key types RSA, not those of the VR's certificates (EC P-256)")));
  v1::ObservationBody both = Body(0);
  both.add_certificate_key_types(v1::KEY_TYPE_RSA);
  EXPECT_THAT(enrolled_->Verify("eu-west-1a", Sign(0, both), expected_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("key types EC P-256, RSA, not those")));
  // The same Observation verifies for the VR it was made for.
  expected_.certificate_key_types = {v1::KEY_TYPE_RSA};
  EXPECT_TRUE(enrolled_->Verify("eu-west-1a", Sign(0, rsa), expected_).ok());
  expected_.certificate_key_types.clear();
  EXPECT_TRUE(enrolled_->Verify("eu-west-1a", Sign(0, default_offer), expected_).ok());
}

TEST_F(EnrolledAgentsTest, HandshakeForAKeyTypeTheObservationDoesNotListIsRefused) {
  v1::ObservationBody body = Body(0);
  *body.add_addresses() = body.addresses(0);
  body.mutable_addresses(1)->set_requested_key_type(v1::KEY_TYPE_RSA);
  EXPECT_THAT(enrolled_->Verify("eu-west-1a", Sign(0, body), expected_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "the Observation's handshake at 192.0.2.1 asked for RSA, which its key "
                       "types (EC P-256) do not list"));
  body.mutable_addresses(1)->set_requested_key_type(static_cast<v1::CertificateKeyType>(99));
  EXPECT_THAT(enrolled_->Verify("eu-west-1a", Sign(0, body), expected_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("asked for key type 99")));
  body.mutable_addresses(1)->clear_requested_key_type();
  EXPECT_THAT(enrolled_->Verify("eu-west-1a", Sign(0, body), expected_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("asked for key type 0")));
}

TEST_F(EnrolledAgentsTest, ExpectationForBindsTheVrsKeyTypesAscendingWithoutRepeats) {
  VerifiedVouchingRequest request;
  request.body.set_hostname(kHost);
  request.body.set_port(kPort);
  request.request_sha256 = expected_.request_sha256;
  request.vouched = {{Sha256("RSA leaf"), v1::KEY_TYPE_RSA},
                     {Sha256("ECDSA leaf"), v1::KEY_TYPE_EC_P256}};
  const ObservationExpectation expectation =
      ExpectationFor(request, expected_.nonce, clock_.Now(), absl::Seconds(120));
  EXPECT_THAT(expectation.certificate_key_types,
              ElementsAre(v1::KEY_TYPE_EC_P256, v1::KEY_TYPE_RSA));
  request.vouched = {{Sha256("old"), v1::KEY_TYPE_EC_P384}, {Sha256("new"), v1::KEY_TYPE_EC_P384}};
  EXPECT_THAT(ExpectationFor(request, expected_.nonce, clock_.Now(), absl::Seconds(120))
                  .certificate_key_types,
              ElementsAre(v1::KEY_TYPE_EC_P384));
}

TEST_F(EnrolledAgentsTest, ObservationFinishedWithinMaxAgeEitherSideVerifies) {
  for (absl::Duration offset : {-expected_.max_age, expected_.max_age, absl::ZeroDuration()}) {
    SCOPED_TRACE(absl::FormatDuration(offset));
    v1::ObservationBody body = Body(0);
    body.set_finished_at_unix_milliseconds(absl::ToUnixMillis(clock_.Now() + offset));
    EXPECT_TRUE(enrolled_->Verify("eu-west-1a", Sign(0, body), expected_).ok());
  }
}

TEST_F(EnrolledAgentsTest, StaleObservationIsRefused) {
  v1::ObservationBody body = Body(0);
  body.set_finished_at_unix_milliseconds(
      absl::ToUnixMillis(clock_.Now() - expected_.max_age - absl::Milliseconds(1)));
  EXPECT_THAT(enrolled_->Verify("eu-west-1a", Sign(0, body), expected_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("finished 2m0.001s ago"), HasSubstr("accepted 2m"))));
}

TEST_F(EnrolledAgentsTest, ObservationFromTheFutureIsRefused) {
  v1::ObservationBody body = Body(0);
  body.set_finished_at_unix_milliseconds(
      absl::ToUnixMillis(clock_.Now() + expected_.max_age + absl::Milliseconds(1)));
  EXPECT_THAT(enrolled_->Verify("eu-west-1a", Sign(0, body), expected_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("finished -2m0.001s ago, outside the accepted 2m")));
}

TEST_F(EnrolledAgentsTest, ObservationAgesOutAsTheClockAdvances) {
  v1::SignedObservation observation = Sign(0, Body(0));
  ASSERT_TRUE(enrolled_->Verify("eu-west-1a", observation, expected_).ok());
  clock_.Advance(absl::Minutes(2));
  expected_.now = clock_.Now();
  EXPECT_THAT(enrolled_->Verify("eu-west-1a", observation, expected_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("finished 2m2s ago")));
}

TEST_F(EnrolledAgentsTest, VerifyFromAnyAgentPicksTheSignersKey) {
  for (size_t i = 0; i < agents_.size(); ++i) {
    SCOPED_TRACE(agents_[i].id);
    v1::ObservationBody body = Body(i);
    auto verified = enrolled_->VerifyFromAnyAgent(Sign(i, body), expected_);
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_EQ(verified->perspective().id(), agents_[i].id);
  }
}

TEST_F(EnrolledAgentsTest, VerifyFromAnyAgentRefusesAnImpersonation) {
  // eu-west-1a signs a body that claims to come from us-east-1a.
  EXPECT_THAT(enrolled_->VerifyFromAnyAgent(Sign(0, Body(1)), expected_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "the Observation from 'us-east-1a' is not signed by its enrolled key"));
}

TEST_F(EnrolledAgentsTest, VerifyFromAnyAgentRefusesUnknownAndUnparsableClaims) {
  v1::ObservationBody unknown = Body(0);
  unknown.mutable_perspective()->set_id("sa-east-1a");
  EXPECT_THAT(
      enrolled_->VerifyFromAnyAgent(Sign(0, unknown), expected_),
      StatusIs(absl::StatusCode::kInvalidArgument, "no agent with id 'sa-east-1a' is enrolled"));
  EXPECT_THAT(enrolled_->VerifyFromAnyAgent(
                  SignWith(agents_[0].key.get(), std::string(kTruncatedMessage)), expected_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "the signed Observation is not an ObservationBody"));
}

TEST_F(EnrolledAgentsTest, VerifyFromAnyAgentStillChecksTheBinding) {
  v1::ObservationBody other_nonce = Body(2);
  other_nonce.set_nonce("another round");
  EXPECT_THAT(enrolled_->VerifyFromAnyAgent(Sign(2, other_nonce), expected_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("digest or nonce differ")));
}

TEST_F(EnrolledAgentsTest, LoadAcceptsACertificateAsTheKeyFile) {
  CertificateSpec spec;
  spec.common_name = "eu-west-1a agent";
  spec.not_before = FixtureNow() - absl::Hours(1);
  spec.not_after = FixtureNow() + absl::Hours(24);
  auto certificate = IssueCertificate(spec, agents_[0].key.get(), nullptr, agents_[0].key.get());
  ASSERT_TRUE(certificate.ok()) << certificate.status();
  auto path = test_pki::WriteTestFile(directory_, "agent-certificate.pem",
                                      CertificateToPem(certificate->get()));
  ASSERT_TRUE(path.ok()) << path.status();
  auto enrolled = EnrolledAgents::Load(Endpoints({Endpoint("eu-west-1a", "eu-west", *path)}));
  ASSERT_TRUE(enrolled.ok()) << enrolled.status();
  EXPECT_TRUE((*enrolled)->Verify("eu-west-1a", Sign(0, Body(0)), expected_).ok());
}

TEST_F(EnrolledAgentsTest, LoadRefusesDuplicateIds) {
  EXPECT_THAT(EnrolledAgents::Load(Endpoints({Endpoint("a", "eu", KeyFile(agents_[0])),
                                              Endpoint("a", "us", KeyFile(agents_[1]))})),
              StatusIs(absl::StatusCode::kInvalidArgument, "agent 'a' is configured twice"));
}

TEST_F(EnrolledAgentsTest, LoadRefusesEmptyIdOrRegion) {
  const auto incomplete =
      StatusIs(absl::StatusCode::kInvalidArgument, "every agent needs a perspective id and region");
  EXPECT_THAT(EnrolledAgents::Load(Endpoints({Endpoint("", "eu", KeyFile(agents_[0]))})),
              incomplete);
  EXPECT_THAT(EnrolledAgents::Load(Endpoints({Endpoint("a", "", KeyFile(agents_[0]))})),
              incomplete);
}

TEST_F(EnrolledAgentsTest, LoadRefusesMissingOrUnreadableKeys) {
  const std::string missing = directory_ + "/missing.pub";
  EXPECT_THAT(EnrolledAgents::Load(Endpoints({Endpoint("a", "eu", missing)})),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr("agent 'a' public key"), HasSubstr(missing))));
  auto garbage = test_pki::WriteTestFile(directory_, "garbage.pub", "not a key\n");
  ASSERT_TRUE(garbage.ok()) << garbage.status();
  EXPECT_THAT(EnrolledAgents::Load(Endpoints({Endpoint("a", "eu", *garbage)})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("agent 'a' public key"),
                             HasSubstr("neither a PEM PUBLIC KEY nor a PEM CERTIFICATE"))));
}

// The one expectation the coordinator and the signer both bind Observations with: the VR's digest,
// hostname and port, the key types of its certificates, the round's nonce, and the caller's time
// and bound.
TEST_F(EnrolledAgentsTest, ExpectationForBindsToTheRequestAndTheRound) {
  VerifiedVouchingRequest request;
  request.body.set_hostname(kHost);
  request.body.set_port(kPort);
  request.request_sha256 = Sha256("the serialized VouchingRequest");
  request.vouched = {{Sha256("leaf"), v1::KEY_TYPE_EC_P256}};
  const ObservationExpectation expected =
      ExpectationFor(request, "0123456789abcdef", clock_.Now(), absl::Seconds(90));
  EXPECT_EQ(expected.request_sha256, request.request_sha256);
  EXPECT_EQ(expected.nonce, "0123456789abcdef");
  EXPECT_EQ(expected.hostname, kHost);
  EXPECT_EQ(expected.port, kPort);
  EXPECT_THAT(expected.certificate_key_types, ElementsAre(v1::KEY_TYPE_EC_P256));
  EXPECT_EQ(expected.now, clock_.Now());
  EXPECT_EQ(expected.max_age, absl::Seconds(90));
  // An Observation of that round verifies against it; one of another round does not.
  EXPECT_TRUE(enrolled_->Verify(agents_[0].id, Sign(0, Body(0)), expected).ok());
  EXPECT_THAT(enrolled_->Verify(agents_[0].id, Sign(0, Body(0)),
                                ExpectationFor(request, "another round's nonce", clock_.Now(),
                                               absl::Seconds(90))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("digest or nonce differ")));
}

}  // namespace
}  // namespace mecai
