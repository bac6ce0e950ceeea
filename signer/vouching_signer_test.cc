// Tests of the signer's own re-check of the evidence (ARCHITECTURE.md §1 signer: "the coordinator
// is not trusted to have done this") and of what it signs (ARCHITECTURE.md §4). Every refusal names
// its exact reason code; the evidence each test starts from is the one the
// IssuesForUnanimousEvidence tests show to be issued, so a refusal can only come from the one thing
// the test changes.
#include "signer/vouching_signer.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"
#include "common/evidence/approval_record.h"
#include "common/evidence/enrolled_agents.h"
#include "common/evidence/log_entry.h"
#include "common/evidence/trust_lists.h"
#include "common/evidence/vouching_request.h"
#include "common/pkcs11/pkcs11_key.h"
#include "common/pkcs11/pkcs11_provisioning.h"
#include "common/pki/pki_builder.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/testing/test_revocation.h"
#include "common/transparency/merkle.h"
#include "common/transparency/note_key.h"
#include "common/transparency/signed_note.h"
#include "common/transparency/tlog_checkpoint.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/record.pb.h"
#include "proto/mecai/v1/signer.pb.h"
#include "signer/evidence_cache.h"
#include "signer/signer_config.h"

namespace mecai {
namespace {

using ::mecai::test_pki::BuildTestPki;
using ::mecai::test_pki::FixtureNow;
using ::mecai::test_pki::IsNotRefused;
using ::mecai::test_pki::IsRefusal;
using ::mecai::test_pki::IssuedCertificate;
using ::mecai::test_pki::LeafOptions;
using ::mecai::test_pki::SignerFor;
using ::mecai::test_pki::StatusIs;
using ::mecai::test_pki::TestPki;
using ::testing::_;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr char kHost[] = "www.example.test";
constexpr uint32_t kPort = 443;
constexpr char kTrustList[] = "test-roots";
constexpr char kApprovalTrustList[] = "test-roots-approved-out-of-band";
constexpr char kVaId[] = "va.example.test";
constexpr char kShard[] = "shard-eu-1";
constexpr uint64_t kLogIndex = 42;
constexpr char kProbeNonce[] = "probe-nonce-0123456789abcdef";  // 28 bytes.
constexpr uint32_t kObservationMaxAgeSeconds = 120;

constexpr char kTokenLabel[] = "mecai-va-token";
constexpr char kKeyLabel[] = "va-key";
constexpr char kUserPin[] = "314159";
constexpr char kSoPin[] = "27182818";

struct Agent {
  v1::Perspective perspective;
  EvpPkeyPtr key;
};

v1::Perspective MakePerspective(const std::string& id, const std::string& region) {
  v1::Perspective perspective;
  perspective.set_id(id);
  perspective.set_region(region);
  return perspective;
}

// The (id, region) pairs of `perspectives`, for ElementsAre.
std::vector<std::pair<std::string, std::string>> IdsAndRegions(
    const google::protobuf::RepeatedPtrField<v1::Perspective>& perspectives) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const v1::Perspective& perspective : perspectives) {
    pairs.emplace_back(perspective.id(), perspective.region());
  }
  return pairs;
}

// What the handshake asking for `key_type` at `address` saw: the fixture's certificates are all EC
// P-256 (docs/PROTOCOL.md "Key-typed handshakes").
v1::AddressObservation SawLeaf(const std::string& address, const std::string& leaf_der,
                               v1::CertificateKeyType key_type = v1::KEY_TYPE_EC_P256) {
  v1::AddressObservation observation;
  observation.set_address(address);
  observation.set_outcome(v1::PROBE_OK);
  observation.set_requested_key_type(key_type);
  observation.add_certificate_chain_der(leaf_der);
  observation.set_leaf_sha256(Sha256(leaf_der));
  observation.set_tls_version("TLSv1.3");
  observation.set_connect_milliseconds(3);
  observation.set_handshake_milliseconds(7);
  return observation;
}

class VouchingSignerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(pki_, BuildTestPki(kHost));
    v1::TrustListConfig trust_list;
    trust_list.set_name(kTrustList);
    trust_list.set_pem_file(pki_.root_pem_path);
    *config_.add_trust_lists() = trust_list;
    // The same roots, for VRs that need an out-of-band approval record (ARCHITECTURE.md §7).
    trust_list.set_name(kApprovalTrustList);
    trust_list.set_require_issuance_approval(true);
    *config_.add_trust_lists() = trust_list;
    ASSERT_OK_AND_ASSIGN(trust_lists_, TrustLists::Load(config_.trust_lists()));
    ASSERT_OK_AND_ASSIGN(EvpPkeyPtr approval_key, GenerateEd25519Key());
    ASSERT_OK_AND_ASSIGN(std::string approval_public_key_file,
                         test_pki::WriteTestFile(pki_.directory, "approval-records.pub",
                                                 PublicKeyToPem(approval_key.get())));
    config_.set_approval_public_key_file(approval_public_key_file);
    ASSERT_OK_AND_ASSIGN(approval_public_key_, LoadPemPublicKey(approval_public_key_file));
    ASSERT_OK_AND_ASSIGN(approval_key_, InMemorySigningKey::Create(std::move(approval_key)));

    // Three enrolled agents in three regions, and a fourth that tests may enroll.
    AddAgent("eu-west-1a", "eu-west");
    AddAgent("us-east-1a", "us-east");
    AddAgent("ap-south-1a", "ap-south");
    AddAgent("us-west-2a", "us-west");
    ASSERT_OK_AND_ASSIGN(outsider_key_, GenerateEcKey(256));

    config_.mutable_listen()->set_address("127.0.0.1:0");
    v1::ServerTls* tls = config_.mutable_listen()->mutable_tls();
    tls->set_certificate_file("/etc/mecai/signer.pem");
    tls->set_private_key_file("/etc/mecai/signer.key");
    tls->set_client_ca_file("/etc/mecai/internal-ca.pem");
    tls->add_allowed_client_identities("coordinator.mecai.internal");
    config_.set_va_id(kVaId);
    config_.mutable_pkcs11()->set_module_path(kSoftHsmModulePath);
    config_.mutable_pkcs11()->set_token_label(kTokenLabel);
    config_.mutable_pkcs11()->set_pin_file("/etc/mecai/va.pin");
    config_.mutable_pkcs11()->set_key_label(kKeyLabel);
    config_.set_log_key_label("va-log-key");
    config_.set_log_state_file("/var/lib/mecai/signer-log-state.pb");
    config_.set_va_certificate_chain_file("/etc/mecai/va-chain.pem");
    config_.set_ca_certificate_file("/etc/mecai/ca.pem");
    config_.set_observation_max_age_seconds(kObservationMaxAgeSeconds);
    ASSERT_NO_FATAL_FAILURE(Enroll(3));

    // The in-memory VA key most tests use; the HSM tests replace it with a token's key.
    ASSERT_OK_AND_ASSIGN(EvpPkeyPtr va_key, GenerateEcKey(256));
    ASSERT_OK_AND_ASSIGN(va_certificate_, IssueVaCertificate(va_key.get()));
    ASSERT_OK_AND_ASSIGN(va_key_, InMemorySigningKey::Create(std::move(va_key)));
    ASSERT_OK_AND_ASSIGN(EvpPkeyPtr log_key, GenerateEcKey(256));
    ASSERT_OK_AND_ASSIGN(log_key_, InMemorySigningKey::Create(std::move(log_key)));

    ASSERT_OK_AND_ASSIGN(vouching_request_, BuildRequest(MakeBody()));
  }

  void AddAgent(const std::string& id, const std::string& region) {
    ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEcKey(256));
    agents_.push_back(Agent{MakePerspective(id, region), std::move(key)});
  }

  // Enrolls the first `count` agents (their public keys written as PEM files) with the default
  // policy, and checks the config as the signer's main does.
  void Enroll(size_t count, uint32_t max_unreachable = 0) {
    config_.clear_agents();
    for (size_t i = 0; i < count; ++i) {
      v1::AgentEndpoint* endpoint = config_.add_agents();
      *endpoint->mutable_perspective() = agents_[i].perspective;
      ASSERT_OK_AND_ASSIGN(
          std::string path,
          test_pki::WriteTestFile(pki_.directory, agents_[i].perspective.id() + ".pub",
                                  PublicKeyToPem(agents_[i].key.get())));
      endpoint->set_public_key_file(path);
    }
    config_.clear_policy();
    config_.mutable_policy()->set_max_unreachable(max_unreachable);
    config_ = WithSignerDefaults(config_);
    ASSERT_OK(ValidateSignerConfig(config_, "signer test config"));
    ASSERT_OK_AND_ASSIGN(enrolled_, EnrolledAgents::Load(config_.agents()));
  }

  // A VA certificate for `subject_key`: issued by the test root, id-kp-OCSPSigning (ARCHITECTURE.md
  // §4).
  absl::StatusOr<X509Ptr> IssueVaCertificate(EVP_PKEY* subject_key) const {
    CertificateSpec spec;
    spec.common_name = "MECAI Test VA";
    spec.extended_key_usages = {"OCSPSigning"};
    spec.not_before = FixtureNow() - absl::Hours(24);
    spec.not_after = FixtureNow() + absl::Hours(24 * 365);
    return IssueCertificate(spec, subject_key, pki_.root.certificate.get(), pki_.root.key.get());
  }

  static v1::VouchingRequestBody MakeBody(absl::Time timestamp = FixtureNow()) {
    v1::VouchingRequestBody body;
    body.set_hostname(kHost);
    body.set_port(kPort);
    body.set_trust_list(kTrustList);
    body.set_timestamp_unix_seconds(absl::ToUnixSeconds(timestamp));
    body.set_nonce("vr-nonce-0123456789");
    return body;
  }

  // A single-form VR for `body` with the fixture chain, signed by the fixture leaf key.
  absl::StatusOr<std::string> BuildRequest(const v1::VouchingRequestBody& body) const {
    ASSIGN_OR_RETURN(std::unique_ptr<InMemorySigningKey> leaf_key, SignerFor(pki_.leaf.key.get()));
    return BuildVouchingRequest(body, pki_.ChainDer(), *leaf_key);
  }

  // What agent `index` reports for `vouching_request_`: one address serving the fixture leaf to
  // the handshake asking for its key type, probing started (5 - index) s and finished 2 s before
  // the clock's now.
  v1::ObservationBody Body(size_t index) const {
    v1::ObservationBody body;
    *body.mutable_perspective() = agents_[index].perspective;
    body.set_hostname(kHost);
    body.set_port(kPort);
    body.add_certificate_key_types(v1::KEY_TYPE_EC_P256);
    body.set_vouching_request_sha256(Sha256(vouching_request_));
    body.set_nonce(kProbeNonce);
    body.set_started_at_unix_milliseconds(StartedAt(index));
    body.set_finished_at_unix_milliseconds(absl::ToUnixMillis(clock_.Now() - absl::Seconds(2)));
    body.set_outcome(v1::PROBE_OK);
    body.set_resolution_milliseconds(4);
    const std::string address = absl::StrCat("192.0.2.", index + 1);
    body.add_resolved_addresses(address);
    *body.add_addresses() = SawLeaf(address, pki_.leaf.der);
    return body;
  }

  int64_t StartedAt(size_t index) const {
    return absl::ToUnixMillis(clock_.Now() - absl::Seconds(5 - static_cast<int64_t>(index)));
  }

  static v1::SignedObservation SignWith(EVP_PKEY* key, const v1::ObservationBody& body) {
    v1::SignedObservation observation;
    observation.set_tbs(body.SerializeAsString());
    absl::StatusOr<v1::Signature> signature = SignBytes(
        key, v1::ECDSA_P256_SHA256, SignedMessage(SignedObject::kObservation, observation.tbs()));
    EXPECT_TRUE(signature.ok()) << signature.status();
    if (signature.ok()) *observation.mutable_signature() = *signature;
    return observation;
  }

  v1::SignedObservation Sign(size_t index, const v1::ObservationBody& body) const {
    return SignWith(agents_[index].key.get(), body);
  }

  // Revocation evidence as the coordinator forwards it: a CRL of the intermediate, current at the
  // fixture's time, listing `certificate` as revoked when `revoked`; `next_update` sets its end.
  v1::RevocationEvidence CrlEvidence(X509* certificate, const std::string& der,
                                     bool revoked = false,
                                     absl::Duration next_update = absl::Hours(24 * 7)) const {
    CrlSpec crl;
    crl.this_update = clock_.Now() - absl::Hours(1);
    crl.next_update = clock_.Now() + next_update;
    if (revoked) crl.revoked.push_back({certificate, clock_.Now() - absl::Hours(2), 1});
    absl::StatusOr<std::string> crl_der =
        IssueCrlDer(crl, pki_.intermediate.certificate.get(), pki_.intermediate.key.get());
    EXPECT_TRUE(crl_der.ok()) << crl_der.status();
    v1::RevocationEvidence evidence;
    evidence.set_certificate_sha256(Sha256(der));
    evidence.set_source(v1::CRL);
    evidence.set_response_der(crl_der.value_or(""));
    evidence.set_obtained_at_unix_seconds(clock_.NowUnixSeconds() - 30);
    evidence.set_url("http://crl.example.test/intermediate.crl");
    return evidence;
  }

  // The request an honest coordinator sends: `vouching_request_`, one signed Observation from
  // each of the first `agents` agents, and CRL evidence that the leaf is not revoked.
  v1::SignVouchingRequest Request(size_t agents = 3) const {
    v1::SignVouchingRequest request;
    request.set_vouching_request(vouching_request_);
    *request.add_revocation() = CrlEvidence(pki_.leaf.certificate.get(), pki_.leaf.der);
    for (size_t i = 0; i < agents; ++i) *request.add_observations() = Sign(i, Body(i));
    request.set_log_index(kLogIndex);
    request.set_log_shard_id(kShard);
    request.set_probe_nonce(kProbeNonce);
    return request;
  }

  // Makes `vouching_request_` the rollover form (MECAI proposal) of `body` from the fixture leaf to
  // `next`, and returns what an honest coordinator then sends: CRL evidence for both, agent 0
  // seeing the old certificate, agent 1 the new one, agent 2 one at each of two addresses.
  absl::StatusOr<v1::SignVouchingRequest> RolloverRequest(const v1::VouchingRequestBody& body,
                                                          const IssuedCertificate& next) {
    ASSIGN_OR_RETURN(std::unique_ptr<InMemorySigningKey> old_key, SignerFor(pki_.leaf.key.get()));
    ASSIGN_OR_RETURN(std::unique_ptr<InMemorySigningKey> new_key, SignerFor(next.key.get()));
    ASSIGN_OR_RETURN(vouching_request_,
                     BuildRolloverVouchingRequest(body, pki_.ChainDer(), *old_key,
                                                  {next.der, pki_.intermediate.der}, *new_key));
    v1::SignVouchingRequest request = Request();
    *request.add_revocation() = CrlEvidence(next.certificate.get(), next.der);
    v1::ObservationBody sees_new = Body(1);
    *sees_new.mutable_addresses(0) = SawLeaf("192.0.2.2", next.der);
    Replace(&request, 1, sees_new);
    v1::ObservationBody sees_both = Body(2);
    sees_both.add_resolved_addresses("2001:db8::3");
    *sees_both.add_addresses() = SawLeaf("2001:db8::3", next.der);
    Replace(&request, 2, sees_both);
    return request;
  }

  // Signs `request`, a rollover from the fixture leaf to `next`, and checks that the VD verifies
  // and names both certificates; its statement goes to `statement`.
  void ExpectSignedForBoth(const v1::SignVouchingRequest& request, const IssuedCertificate& next,
                           v1::VouchingStatement* statement) const;

  // A signer with a log state of its own (a fresh file), so that each signer may sign the same
  // request at kLogIndex once.
  std::unique_ptr<VouchingSigner> MakeSigner(SigningKey& va_key, X509* va_certificate,
                                             EVP_PKEY* approval_key) const {
    SignerLogState& log_state = NewLogState();
    return std::make_unique<VouchingSigner>(
        config_, std::vector<std::string>{CertificateToDer(va_certificate)},
        VouchingSigner::Keys{va_key, *log_key_}, log_state, *enrolled_, *trust_lists_, clock_,
        /*metrics=*/nullptr, approval_key);
  }

  std::unique_ptr<VouchingSigner> MakeSigner(SigningKey& va_key, X509* va_certificate) const {
    return MakeSigner(va_key, va_certificate, approval_public_key_.get());
  }

  // A log state in a new file under the test's temporary directory, alive as long as the test.
  SignerLogState& NewLogState() const {
    absl::StatusOr<std::string> directory = test_pki::MakeTempDirectory();
    EXPECT_TRUE(directory.ok()) << directory.status();
    absl::StatusOr<std::unique_ptr<SignerLogState>> state =
        SignerLogState::Open(directory.value_or("/nonexistent") + "/log-state.pb");
    EXPECT_TRUE(state.ok()) << state.status();
    log_states_.push_back(std::move(state).value());
    return *log_states_.back();
  }

  std::unique_ptr<VouchingSigner> MakeSigner() const {
    return MakeSigner(*va_key_, va_certificate_.get());
  }

  // The refusal `request` gets; a failure (and an empty refusal) if it is signed or errs.
  v1::Refusal RefusalFor(const v1::SignVouchingRequest& request) const {
    absl::StatusOr<v1::SignVouchingResponse> response = MakeSigner()->SignVouching(request);
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok()) return v1::Refusal();
    EXPECT_TRUE(response->has_refusal()) << "signed a VD for evidence it should refuse";
    return response->refusal();
  }

  // Replaces observation `index` of `request` by `body` signed by agent `index`.
  void Replace(v1::SignVouchingRequest* request, size_t index,
               const v1::ObservationBody& body) const {
    *request->mutable_observations(static_cast<int>(index)) = Sign(index, body);
  }

  TestPki pki_;
  FakeClock clock_{FixtureNow()};
  v1::SignerConfig config_;
  std::unique_ptr<TrustLists> trust_lists_;
  std::vector<Agent> agents_;
  EvpPkeyPtr outsider_key_;
  std::unique_ptr<EnrolledAgents> enrolled_;
  X509Ptr va_certificate_;
  std::unique_ptr<InMemorySigningKey> va_key_;
  // The log key: signs checkpoints, never VDs.
  std::unique_ptr<InMemorySigningKey> log_key_;
  mutable std::vector<std::unique_ptr<SignerLogState>> log_states_;
  std::string vouching_request_;
  // The approval service's record-signing key pair (ApprovalConfig.signing_key_file).
  std::unique_ptr<InMemorySigningKey> approval_key_;
  EvpPkeyPtr approval_public_key_;
};

// Parses the statement of a VD whose signature verifies with the VA certificate it carries.
void ExpectVerifiedStatement(const v1::VouchingData& vd, const std::string& va_certificate_der,
                             v1::VouchingStatement* statement) {
  ASSERT_THAT(vd.va_certificate_chain_der(), ElementsAre(va_certificate_der));
  ASSERT_OK_AND_ASSIGN(X509Ptr va_certificate, ParseDerCertificate(va_certificate_der));
  EXPECT_TRUE(HasOcspSigningUsage(va_certificate.get()));
  EvpPkeyPtr va_public_key(X509_get_pubkey(va_certificate.get()));
  ASSERT_NE(va_public_key, nullptr);
  EXPECT_EQ(vd.signature().algorithm(), v1::ECDSA_P256_SHA256);
  ASSERT_OK(VerifyObject(va_public_key.get(), SignedObject::kVouchingStatement, vd.signature(),
                         vd.statement()));
  ASSERT_OK(ParseSignedBytes(vd.statement(), "the statement", statement));
}

void VouchingSignerTest::ExpectSignedForBoth(const v1::SignVouchingRequest& request,
                                             const IssuedCertificate& next,
                                             v1::VouchingStatement* statement) const {
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse response, MakeSigner()->SignVouching(request));
  ASSERT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
  ASSERT_NO_FATAL_FAILURE(ExpectVerifiedStatement(
      response.vouching_data(), CertificateToDer(va_certificate_.get()), statement));
  EXPECT_THAT(statement->certificate_sha256(),
              ElementsAre(Sha256(pki_.leaf.der), Sha256(next.der)));
}

TEST_F(VouchingSignerTest, IssuesForUnanimousEvidenceWithTheKeyInTheHsm) {
  // A fresh SoftHSM2 token under TEST_TMPDIR; the VA key is generated inside it.
  ASSERT_OK_AND_ASSIGN(std::string token_directory, test_pki::MakeTempDirectory());
  ASSERT_OK(InitSoftHsmToken(token_directory, kTokenLabel, kUserPin, kSoPin));
  v1::Pkcs11Config pkcs11 = config_.pkcs11();
  pkcs11.set_pin_file(absl::StrCat(token_directory, "/user.pin"));
  ASSERT_OK(WriteFileAtomically(pkcs11.pin_file(), absl::StrCat(kUserPin, "\n"), 0600));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr token_public_key, GenerateEcKeyPairInToken(pkcs11));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11SigningKey> hsm_key, Pkcs11SigningKey::Open(pkcs11));
  ASSERT_OK_AND_ASSIGN(X509Ptr va_certificate, IssueVaCertificate(token_public_key.get()));

  clock_.Advance(absl::Seconds(30));  // The signer's now differs from the VR's timestamp.
  const v1::SignVouchingRequest request = Request();
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse response,
                       MakeSigner(*hsm_key, va_certificate.get())->SignVouching(request));
  ASSERT_TRUE(response.has_vouching_data()) << response.refusal().explanation();

  v1::VouchingStatement statement;
  ASSERT_NO_FATAL_FAILURE(ExpectVerifiedStatement(
      response.vouching_data(), CertificateToDer(va_certificate.get()), &statement));
  EXPECT_EQ(statement.version(), 2u);
  EXPECT_EQ(statement.va_id(), kVaId);
  EXPECT_EQ(statement.trust_list(), kTrustList);
  EXPECT_EQ(statement.hostname(), kHost);
  EXPECT_EQ(statement.port(), kPort);
  EXPECT_THAT(statement.certificate_sha256(), ElementsAre(Sha256(pki_.leaf.der)));
  EXPECT_THAT(IdsAndRegions(statement.perspectives()),
              ElementsAre(Pair("eu-west-1a", "eu-west"), Pair("us-east-1a", "us-east"),
                          Pair("ap-south-1a", "ap-south")));
  EXPECT_EQ(statement.log_index(), kLogIndex);
  EXPECT_EQ(statement.log_shard_id(), kShard);
  EXPECT_EQ(statement.issued_at_unix_seconds(), absl::ToUnixSeconds(FixtureNow()) + 30);
  // The earliest probe start: agent 0's, 5 s before the (advanced) clock.
  EXPECT_EQ(statement.probed_at_unix_seconds(), absl::ToUnixSeconds(FixtureNow()) + 25);
  EXPECT_FALSE(statement.issuance_approved_out_of_band());

  // The signature is the token key's: it fails under any other key.
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr other_key, GenerateEcKey(256));
  EXPECT_THAT(
      VerifyObject(other_key.get(), SignedObject::kVouchingStatement,
                   response.vouching_data().signature(), response.vouching_data().statement()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not verify")));
}

// Evidence by content hash (ARCHITECTURE.md §8): a response named by hash alone is taken from the
// evidence cache and checked as if sent inline; a missing one is asked for, with nothing signed and
// the log index left free (the same request is signed at that index once the bytes are held).
TEST_F(VouchingSignerTest, EvidenceNamedByHashComesFromTheCacheOrIsAskedFor) {
  v1::SignVouchingRequest request = Request();
  ASSERT_EQ(request.revocation_size(), 1);
  const std::string der = request.revocation(0).response_der();
  const std::string sha256 = Sha256(der);
  request.mutable_revocation(0)->clear_response_der();
  request.mutable_revocation(0)->set_response_sha256(sha256);
  EvidenceCache cache(1 << 20);
  VouchingSigner signer(config_, {CertificateToDer(va_certificate_.get())},
                        VouchingSigner::Keys{*va_key_, *log_key_}, NewLogState(), *enrolled_,
                        *trust_lists_, clock_, /*metrics=*/nullptr, approval_public_key_.get(),
                        &cache);
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse needed, signer.SignVouching(request));
  ASSERT_TRUE(needed.has_evidence_needed()) << needed.ShortDebugString();
  EXPECT_THAT(needed.evidence_needed().response_sha256(), ElementsAre(sha256));

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EvidenceUpload> upload,
                       EvidenceUpload::Begin(cache, sha256, der.size()));
  ASSERT_OK(upload->Add(der));
  ASSERT_OK(upload->Finish().status());
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse signed_response, signer.SignVouching(request));
  EXPECT_TRUE(signed_response.has_vouching_data()) << signed_response.ShortDebugString();
  // A signer without a cache refuses evidence named by hash alone, as before.
  EXPECT_EQ(RefusalFor(request).reason(), v1::REVOCATION_UNKNOWN);
}

TEST_F(VouchingSignerTest, IssuesForUnanimousEvidenceWithAnInMemoryKey) {
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse response, MakeSigner()->SignVouching(Request()));
  ASSERT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
  v1::VouchingStatement statement;
  ASSERT_NO_FATAL_FAILURE(ExpectVerifiedStatement(
      response.vouching_data(), CertificateToDer(va_certificate_.get()), &statement));
  EXPECT_EQ(statement.va_id(), kVaId);
  EXPECT_EQ(statement.hostname(), kHost);
  EXPECT_EQ(statement.port(), kPort);
  EXPECT_THAT(statement.certificate_sha256(), ElementsAre(Sha256(pki_.leaf.der)));
  EXPECT_EQ(statement.perspectives_size(), 3);
  EXPECT_EQ(statement.issued_at_unix_seconds(), absl::ToUnixSeconds(FixtureNow()));
  // The trust list does not require out-of-band approval, so the VD does not claim it.
  EXPECT_FALSE(statement.issuance_approved_out_of_band());
}

TEST_F(VouchingSignerTest, ObservationOrderDoesNotMatter) {
  v1::SignVouchingRequest request = Request();
  request.mutable_observations()->SwapElements(0, 2);
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse response, MakeSigner()->SignVouching(request));
  EXPECT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
}

TEST_F(VouchingSignerTest, RefusesATamperedObservation) {
  // The coordinator rewrites what a perspective saw after the agent signed it.
  v1::SignVouchingRequest request = Request();
  v1::ObservationBody body = Body(1);
  body.mutable_addresses(0)->set_leaf_sha256(Sha256("a certificate the agent never saw"));
  request.mutable_observations(1)->set_tbs(body.SerializeAsString());
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::INVALID_OBSERVATION,
                        HasSubstr("the Observation from 'us-east-1a' is not signed by its "
                                  "enrolled key")));
}

TEST_F(VouchingSignerTest, RefusesObservationBytesThatAreNoObservation) {
  v1::SignVouchingRequest request = Request();
  request.mutable_observations(0)->set_tbs(
      std::string("\x0a\x05"
                  "ab",
                  4));
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::INVALID_OBSERVATION, HasSubstr("not an ObservationBody")));
}

TEST_F(VouchingSignerTest, RefusesAnObservationSignedByAKeyThatIsNotEnrolled) {
  // A valid-looking Observation for an enrolled perspective, signed by an outsider.
  v1::SignVouchingRequest request = Request();
  *request.mutable_observations(0) = SignWith(outsider_key_.get(), Body(0));
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::INVALID_OBSERVATION,
                        HasSubstr("the Observation from 'eu-west-1a' is not signed by its "
                                  "enrolled key")));
}

TEST_F(VouchingSignerTest, RefusesAnObservationFromAPerspectiveThatIsNotEnrolled) {
  // Agent 3 exists but is not enrolled: its own, correctly signed Observation does not count.
  v1::SignVouchingRequest request = Request();
  *request.add_observations() = Sign(3, Body(3));
  EXPECT_THAT(
      RefusalFor(request),
      IsRefusal(v1::INVALID_OBSERVATION, HasSubstr("no agent with id 'us-west-2a' is enrolled")));
}

TEST_F(VouchingSignerTest, RefusesAnObservationClaimingAnotherRegion) {
  v1::SignVouchingRequest request = Request();
  v1::ObservationBody body = Body(2);
  body.mutable_perspective()->set_region("eu-west");
  Replace(&request, 2, body);
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::INVALID_OBSERVATION,
                        HasSubstr("names perspective ap-south-1a/eu-west but the agent is "
                                  "enrolled as ap-south-1a/ap-south")));
}

TEST_F(VouchingSignerTest, RefusesAnObservationWithAnotherNonce) {
  v1::SignVouchingRequest request = Request();
  v1::ObservationBody body = Body(0);
  body.set_nonce("an-older-probe-round-nonce");
  Replace(&request, 0, body);
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::INVALID_OBSERVATION,
                        HasSubstr("bound to another VR or probe round (digest or nonce differ)")));
}

TEST_F(VouchingSignerTest, RefusesWhenTheRequestNonceDiffersFromEveryObservation) {
  v1::SignVouchingRequest request = Request();
  request.set_probe_nonce("another-probe-nonce-0123456789");
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::INVALID_OBSERVATION, HasSubstr("digest or nonce differ")));
}

TEST_F(VouchingSignerTest, RefusesAnObservationBoundToAnotherVouchingRequest) {
  ASSERT_OK_AND_ASSIGN(std::string other_request,
                       BuildRequest(MakeBody(FixtureNow() - absl::Seconds(10))));
  ASSERT_NE(other_request, vouching_request_);
  v1::SignVouchingRequest request = Request();
  v1::ObservationBody body = Body(1);
  body.set_vouching_request_sha256(Sha256(other_request));
  Replace(&request, 1, body);
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::INVALID_OBSERVATION, HasSubstr("bound to another VR or probe round")));
}

TEST_F(VouchingSignerTest, RefusesAnObservationForAnotherPort) {
  v1::SignVouchingRequest request = Request();
  v1::ObservationBody body = Body(1);
  body.set_port(8443);
  Replace(&request, 1, body);
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::INVALID_OBSERVATION,
                        HasSubstr("is for www.example.test:8443, not www.example.test:443")));
}

TEST_F(VouchingSignerTest, RefusesAStaleObservation) {
  // Observations finished 2 s before FixtureNow(); the signer looks at them 121 s later, when
  // they are 123 s old. The VR itself is still within its 300 s window.
  const v1::SignVouchingRequest request = Request();
  clock_.Advance(absl::Seconds(kObservationMaxAgeSeconds + 1));
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::INVALID_OBSERVATION,
                        AllOf(HasSubstr("finished 2m3s ago"), HasSubstr("accepted 2m"))));
}

TEST_F(VouchingSignerTest, AcceptsAnObservationJustInsideTheMaximumAge) {
  const v1::SignVouchingRequest request = Request();
  clock_.Advance(absl::Seconds(kObservationMaxAgeSeconds - 2));
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse response, MakeSigner()->SignVouching(request));
  EXPECT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
}

TEST_F(VouchingSignerTest, RefusesTwoObservationsFromOnePerspective) {
  v1::SignVouchingRequest request = Request();
  v1::ObservationBody second = Body(1);
  second.set_started_at_unix_milliseconds(second.started_at_unix_milliseconds() + 500);
  *request.add_observations() = Sign(1, second);
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::INVALID_OBSERVATION,
                        HasSubstr("two Observations from perspective 'us-east-1a'")));
}

TEST_F(VouchingSignerTest, RefusesTheSameObservationPresentedTwice) {
  // Three Observations, but two of them are one agent's: the count alone must not satisfy it.
  v1::SignVouchingRequest request = Request(/*agents=*/2);
  *request.add_observations() = request.observations(0);
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::INVALID_OBSERVATION,
                        HasSubstr("two Observations from perspective 'eu-west-1a'")));
}

TEST_F(VouchingSignerTest, RefusesAMissingPerspectiveAsATimeout) {
  ASSERT_EQ(config_.policy().max_unreachable(), 0u);
  EXPECT_THAT(RefusalFor(Request(/*agents=*/2)),
              IsRefusal(v1::PERSPECTIVE_TIMEOUT,
                        HasSubstr("1 of 3 perspectives did not answer in time; the policy "
                                  "allows 0")));
}

TEST_F(VouchingSignerTest, IssuesWithoutAnAllowedUnreachablePerspective) {
  // Four agents, max_unreachable 1: three agreeing perspectives in three regions suffice.
  ASSERT_NO_FATAL_FAILURE(Enroll(4, /*max_unreachable=*/1));
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse response,
                       MakeSigner()->SignVouching(Request(/*agents=*/3)));
  ASSERT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
  v1::VouchingStatement statement;
  ASSERT_TRUE(statement.ParseFromString(response.vouching_data().statement()));
  EXPECT_THAT(IdsAndRegions(statement.perspectives()),
              ElementsAre(Pair("eu-west-1a", "eu-west"), Pair("us-east-1a", "us-east"),
                          Pair("ap-south-1a", "ap-south")));
  // Two missing are one more than allowed.
  EXPECT_THAT(RefusalFor(Request(/*agents=*/2)),
              IsRefusal(v1::PERSPECTIVE_TIMEOUT, HasSubstr("2 of 4 perspectives")));
}

TEST_F(VouchingSignerTest, AForgedObservationIsRefusedAsForgedEvenWhenATimeoutIsAllowed) {
  // With max_unreachable 1 a forged Observation must not count as "did not answer": the other
  // three would otherwise make a quorum.
  ASSERT_NO_FATAL_FAILURE(Enroll(4, /*max_unreachable=*/1));
  v1::SignVouchingRequest request = Request(/*agents=*/4);
  std::string tampered = request.observations(3).tbs();
  tampered[tampered.size() / 2] ^= 0x01;
  request.mutable_observations(3)->set_tbs(tampered);
  EXPECT_THAT(RefusalFor(request), IsRefusal(v1::INVALID_OBSERVATION, _));
}

TEST_F(VouchingSignerTest, RefusesWhenOnePerspectiveSeesAnotherCertificate) {
  // A split view: one region is served an impostor's certificate for the same name.
  ASSERT_OK_AND_ASSIGN(IssuedCertificate impostor, pki_.IssueLeaf(kHost, LeafOptions()));
  v1::SignVouchingRequest request = Request();
  v1::ObservationBody body = Body(2);
  *body.mutable_addresses(0) = SawLeaf("192.0.2.3", impostor.der);
  Replace(&request, 2, body);
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::CERTIFICATE_MISMATCH,
                        AllOf(HasSubstr("perspective ap-south-1a (ap-south)"),
                              HasSubstr(ShortHex(Sha256(impostor.der))),
                              HasSubstr("at 192.0.2.3, which the VR does not name"))));
}

TEST_F(VouchingSignerTest, RefusesWhenOneAddressOfAPerspectiveSeesAnotherCertificate) {
  // Unanimity covers every address: the first address agrees, the second does not.
  ASSERT_OK_AND_ASSIGN(IssuedCertificate impostor, pki_.IssueLeaf(kHost, LeafOptions()));
  v1::SignVouchingRequest request = Request();
  v1::ObservationBody body = Body(0);
  body.add_resolved_addresses("2001:db8::1");
  *body.add_addresses() = SawLeaf("2001:db8::1", impostor.der);
  Replace(&request, 0, body);
  EXPECT_THAT(RefusalFor(request), IsRefusal(v1::CERTIFICATE_MISMATCH,
                                             AllOf(HasSubstr("perspective eu-west-1a (eu-west)"),
                                                   HasSubstr("at 2001:db8::1"))));
}

TEST_F(VouchingSignerTest, RefusesAStaleVouchingRequest) {
  ASSERT_OK_AND_ASSIGN(vouching_request_,
                       BuildRequest(MakeBody(FixtureNow() - absl::Seconds(301))));
  EXPECT_THAT(RefusalFor(Request()),
              IsRefusal(v1::STALE_TIMESTAMP,
                        AllOf(HasSubstr("5m1s away from now"), HasSubstr("window is ±5m"))));
}

TEST_F(VouchingSignerTest, RefusesATamperedVouchingRequest) {
  // The coordinator changes the port inside the signed VR and has the agents probe that; every
  // Observation is genuine and bound to the tampered VR, but the server never signed it.
  v1::VouchingRequest tampered;
  ASSERT_TRUE(tampered.ParseFromString(vouching_request_));
  v1::VouchingRequestBody body;
  ASSERT_TRUE(body.ParseFromString(tampered.single().tbs()));
  body.set_trust_list("another-list");
  tampered.mutable_single()->set_tbs(body.SerializeAsString());
  vouching_request_ = tampered.SerializeAsString();
  EXPECT_THAT(RefusalFor(Request()), IsRefusal(v1::BAD_SIGNATURE, HasSubstr("does not verify")));
}

TEST_F(VouchingSignerTest, RefusesAVouchingRequestWhoseChainTheSignerDoesNotTrust) {
  // A chain to a root outside the signer's trust list, signed by its own leaf: the VR envelope is
  // valid, so only the signer's own chain check can refuse it.
  ASSERT_OK_AND_ASSIGN(TestPki foreign, BuildTestPki(kHost));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<InMemorySigningKey> foreign_leaf_key,
                       SignerFor(foreign.leaf.key.get()));
  ASSERT_OK_AND_ASSIGN(vouching_request_,
                       BuildVouchingRequest(MakeBody(), foreign.ChainDer(), *foreign_leaf_key));
  EXPECT_THAT(RefusalFor(Request()), IsRefusal(v1::UNTRUSTED_CHAIN, testing::_));
}

TEST_F(VouchingSignerTest, RefusesAShortProbeNonce) {
  // Fifteen bytes, carried by every Observation too, so only the length is wrong.
  const std::string short_nonce = "fifteen-bytes!!";
  ASSERT_EQ(short_nonce.size(), 15u);
  v1::SignVouchingRequest request = Request();
  request.set_probe_nonce(short_nonce);
  for (size_t i = 0; i < 3; ++i) {
    v1::ObservationBody body = Body(i);
    body.set_nonce(short_nonce);
    Replace(&request, i, body);
  }
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::MALFORMED_REQUEST, HasSubstr("the probe nonce must have 16 to 64")));
}

TEST_F(VouchingSignerTest, RefusesAMissingProbeNonce) {
  v1::SignVouchingRequest request = Request();
  request.clear_probe_nonce();
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::MALFORMED_REQUEST, HasSubstr("the probe nonce must have 16 to 64")));
}

TEST_F(VouchingSignerTest, RefusesAnOverlongProbeNonce) {
  const std::string long_nonce(65, 'n');
  v1::SignVouchingRequest request = Request();
  request.set_probe_nonce(long_nonce);
  for (size_t i = 0; i < 3; ++i) {
    v1::ObservationBody body = Body(i);
    body.set_nonce(long_nonce);
    Replace(&request, i, body);
  }
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::MALFORMED_REQUEST, HasSubstr("the probe nonce must have 16 to 64")));
}

TEST_F(VouchingSignerTest, RefusesAnEmptyShardId) {
  v1::SignVouchingRequest request = Request();
  request.clear_log_shard_id();
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::MALFORMED_REQUEST, HasSubstr("the log shard id is missing")));
}

TEST_F(VouchingSignerTest, IssuesForARolloverWhenPerspectivesSeeEitherCertificate) {
  ASSERT_OK_AND_ASSIGN(IssuedCertificate next, pki_.IssueLeaf(kHost, LeafOptions()));
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingRequest request, RolloverRequest(MakeBody(), next));
  v1::VouchingStatement statement;
  ASSERT_NO_FATAL_FAILURE(ExpectSignedForBoth(request, next, &statement));
  EXPECT_EQ(statement.perspectives_size(), 3);

  // A third certificate at any address still refuses during rollover.
  ASSERT_OK_AND_ASSIGN(IssuedCertificate third, pki_.IssueLeaf(kHost, LeafOptions()));
  v1::ObservationBody sees_third = Body(0);
  *sees_third.mutable_addresses(0) = SawLeaf("192.0.2.1", third.der);
  Replace(&request, 0, sees_third);
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::CERTIFICATE_MISMATCH, HasSubstr("perspective eu-west-1a (eu-west)")));
}

// docs/PROTOCOL.md "Key-typed handshakes": a server holding an RSA certificate beside the fixture's
// EC P-256 leaf. The VR names the RSA certificate alone; each agent's one handshake asked for RSA.
TEST_F(VouchingSignerTest, RefusesWhenTheHandshakeForTheVrsKeyTypeSawAnotherCertificate) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr rsa_key, GenerateRsaKey(2048));
  ASSERT_OK_AND_ASSIGN(IssuedCertificate rsa, pki_.IssueLeaf(kHost, LeafOptions(), rsa_key.get()));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<InMemorySigningKey> rsa_signer, SignerFor(rsa.key.get()));
  ASSERT_OK_AND_ASSIGN(
      vouching_request_,
      BuildVouchingRequest(MakeBody(), {rsa.der, pki_.intermediate.der}, *rsa_signer));
  v1::SignVouchingRequest request = Request();
  request.clear_revocation();
  *request.add_revocation() = CrlEvidence(rsa.certificate.get(), rsa.der);
  for (size_t i = 0; i < 3; ++i) {
    v1::ObservationBody body = Body(i);
    body.set_certificate_key_types(0, v1::KEY_TYPE_RSA);
    *body.mutable_addresses(0) = SawLeaf(body.addresses(0).address(), rsa.der, v1::KEY_TYPE_RSA);
    Replace(&request, i, body);
  }
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse response, MakeSigner()->SignVouching(request));
  ASSERT_TRUE(response.has_vouching_data()) << response.refusal().explanation();

  // The server answered one agent's RSA-only handshake with its ECDSA certificate.
  v1::ObservationBody shown_ecdsa = Body(1);
  shown_ecdsa.set_certificate_key_types(0, v1::KEY_TYPE_RSA);
  *shown_ecdsa.mutable_addresses(0) = SawLeaf("192.0.2.2", pki_.leaf.der, v1::KEY_TYPE_RSA);
  Replace(&request, 1, shown_ecdsa);
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::CERTIFICATE_MISMATCH,
                        AllOf(HasSubstr("perspective us-east-1a (us-east)"),
                              HasSubstr(ShortHex(Sha256(pki_.leaf.der))),
                              HasSubstr("at 192.0.2.2, which the VR does not name (asking for a "
                                        "certificate with an RSA key)"))));
}

// An agent that was asked for no key type (or predates key-typed handshakes) saw the VR's
// certificate with its default offer: not evidence that a client asking for the certificate's key
// type is shown it.
TEST_F(VouchingSignerTest, RefusesAnObservationNotMadeForTheVrsKeyTypes) {
  v1::SignVouchingRequest request = Request();
  v1::ObservationBody default_offer = Body(0);
  default_offer.clear_certificate_key_types();
  default_offer.mutable_addresses(0)->clear_requested_key_type();
  Replace(&request, 0, default_offer);
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::INVALID_OBSERVATION,
                        HasSubstr("asked for certificates of key types none, not those of the "
                                  "VR's certificates (EC P-256)")));
}

// A rollover from an RSA to an EC P-256 certificate (MECAI proposal, "Server behaviour"): both are
// asked for at every address, and each handshake must show the VR's certificate of its key type.
TEST_F(VouchingSignerTest, IssuesForARolloverBetweenKeyTypesOnlyWhenEveryAddressServesBoth) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr rsa_key, GenerateRsaKey(2048));
  ASSERT_OK_AND_ASSIGN(IssuedCertificate next, pki_.IssueLeaf(kHost, LeafOptions(), rsa_key.get()));
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingRequest request, RolloverRequest(MakeBody(), next));
  const auto serving_both = [&](size_t index) {
    v1::ObservationBody body = Body(index);
    body.add_certificate_key_types(v1::KEY_TYPE_RSA);
    const std::string address = body.addresses(0).address();
    *body.add_addresses() = SawLeaf(address, next.der, v1::KEY_TYPE_RSA);
    return body;
  };
  for (size_t i = 0; i < 3; ++i) Replace(&request, i, serving_both(i));
  v1::VouchingStatement statement;
  ASSERT_NO_FATAL_FAILURE(ExpectSignedForBoth(request, next, &statement));
  EXPECT_EQ(statement.perspectives_size(), 3);

  // The RSA handshake shown the ECDSA certificate, which the VR names for the other key type.
  v1::ObservationBody crossed = serving_both(0);
  *crossed.mutable_addresses(1) = SawLeaf("192.0.2.1", pki_.leaf.der, v1::KEY_TYPE_RSA);
  Replace(&request, 0, crossed);
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::CERTIFICATE_MISMATCH,
                        HasSubstr("which the VR names as a certificate of another key type")));
  // A server that no longer serves the RSA certificate: its RSA handshake fails.
  v1::ObservationBody no_rsa = serving_both(0);
  v1::AddressObservation* failed = no_rsa.mutable_addresses(1);
  failed->clear_certificate_chain_der();
  failed->clear_leaf_sha256();
  failed->set_outcome(v1::PROBE_HANDSHAKE_FAILED);
  failed->set_error_class(v1::TLS_ALERT);
  failed->set_tls_alert(40);
  failed->set_error("TLS handshake with 192.0.2.1 port 443 failed: handshake failure");
  Replace(&request, 0, no_rsa);
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::HANDSHAKE_FAILED, HasSubstr("perspective eu-west-1a (eu-west)")));
  // An agent that made only the EC P-256 handshake.
  Replace(&request, 0, Body(0));
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::INVALID_OBSERVATION,
                        HasSubstr("key types EC P-256, not those of the VR's certificates (EC "
                                  "P-256, RSA)")));
}

// ARCHITECTURE.md §1: the signer verifies the revocation evidence itself.
TEST_F(VouchingSignerTest, StatementCarriesTheRevocationSourceAndTime) {
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse response, MakeSigner()->SignVouching(Request()));
  ASSERT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
  v1::VouchingStatement statement;
  ASSERT_TRUE(statement.ParseFromString(response.vouching_data().statement()));
  EXPECT_EQ(statement.revocation_source(), v1::CRL);
  EXPECT_EQ(statement.revocation_checked_at_unix_seconds(), clock_.NowUnixSeconds() - 3600);
}

TEST_F(VouchingSignerTest, RefusesWithoutRevocationEvidence) {
  v1::SignVouchingRequest request = Request();
  request.clear_revocation();
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::REVOCATION_UNKNOWN, HasSubstr("no valid revocation evidence")));
}

TEST_F(VouchingSignerTest, RefusesEvidenceThatTheCertificateIsRevoked) {
  v1::SignVouchingRequest request = Request();
  *request.add_revocation() =
      CrlEvidence(pki_.leaf.certificate.get(), pki_.leaf.der, /*revoked=*/true);
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::CERTIFICATE_REVOKED, HasSubstr("crl.example.test")));
}

TEST_F(VouchingSignerTest, RefusesAnExpiredOrForgedCrlAsUnknown) {
  v1::SignVouchingRequest expired = Request();
  *expired.mutable_revocation(0) = CrlEvidence(pki_.leaf.certificate.get(), pki_.leaf.der,
                                               /*revoked=*/false, -absl::Minutes(1));
  EXPECT_THAT(RefusalFor(expired), IsRefusal(v1::REVOCATION_UNKNOWN, HasSubstr("expired")));

  v1::SignVouchingRequest forged = Request();
  std::string* der = forged.mutable_revocation(0)->mutable_response_der();
  (*der)[der->size() - 5] ^= 0x40;  // Inside the signature.
  EXPECT_THAT(RefusalFor(forged), IsRefusal(v1::REVOCATION_UNKNOWN, HasSubstr("crl.example.test")));

  v1::SignVouchingRequest other_certificate = Request();
  other_certificate.mutable_revocation(0)->set_certificate_sha256(Sha256("another certificate"));
  EXPECT_THAT(RefusalFor(other_certificate),
              IsRefusal(v1::REVOCATION_UNKNOWN, HasSubstr("no valid revocation evidence")));
}

// Checkpoints: signed by the log key, from a body the signer builds itself, only for a tree that
// provably extends the last one it signed (docs/SECURITY.md T7).
class SignCheckpointTest : public VouchingSignerTest {
 protected:
  void SetUp() override {
    VouchingSignerTest::SetUp();
    for (int i = 0; i < 40; ++i) {
      ASSERT_OK(tree_.AppendLeafHash(LeafHash(absl::StrCat("record ", i))));
    }
    ASSERT_OK_AND_ASSIGN(forked_root_, [] {
      MerkleTree fork;
      for (int i = 0; i < 30; ++i) {
        absl::Status appended = fork.AppendLeafHash(LeafHash(absl::StrCat("forged ", i)));
        if (!appended.ok()) return absl::StatusOr<std::string>(appended);
      }
      return fork.RootHash(30);
    }());
    signer_ = MakeSigner();
  }

  // The request an honest coordinator sends for the first `size` leaves of tree_, proving
  // consistency from `previous` leaves.
  v1::SignCheckpointRequest Request(uint64_t size, uint64_t previous) const {
    v1::SignCheckpointRequest request;
    v1::CheckpointBody* checkpoint = request.mutable_checkpoint();
    checkpoint->set_log_shard_id(kShard);
    checkpoint->set_tree_size(size);
    checkpoint->set_root_hash(tree_.RootHash(size).value());
    checkpoint->set_timestamp_unix_milliseconds(clock_.NowUnixMilliseconds() - 1500);
    if (previous > 0) {
      request.set_previous_tree_size(previous);
      const std::vector<std::string> proof = tree_.ConsistencyProof(previous, size).value();
      for (const std::string& node : proof) request.add_consistency_proof(node);
    }
    return request;
  }

  absl::StatusOr<v1::SignedCheckpoint> Sign(const v1::SignCheckpointRequest& request) {
    ASSIGN_OR_RETURN(v1::SignCheckpointResponse response, signer_->SignCheckpoint(request));
    if (!response.has_checkpoint()) {
      return absl::AbortedError(
          absl::StrCat("no checkpoint; the signer's size is ", response.signer_tree_size()));
    }
    return response.checkpoint();
  }

  MerkleTree tree_;
  std::string forked_root_;
  std::unique_ptr<VouchingSigner> signer_;
};

TEST_F(SignCheckpointTest, SignsABodyItBuiltWithTheLogKeyNotTheVaKey) {
  v1::SignCheckpointRequest request = Request(12, 0);
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint signed_checkpoint, Sign(request));
  ASSERT_OK(VerifyObject(log_key_->key(), SignedObject::kCheckpoint, signed_checkpoint.signature(),
                         signed_checkpoint.tbs()));
  // Not by the VA key, and not as a VD statement under any key.
  EXPECT_FALSE(VerifyObject(va_key_->key(), SignedObject::kCheckpoint,
                            signed_checkpoint.signature(), signed_checkpoint.tbs())
                   .ok());
  EXPECT_FALSE(VerifyObject(log_key_->key(), SignedObject::kVouchingStatement,
                            signed_checkpoint.signature(), signed_checkpoint.tbs())
                   .ok());
  EXPECT_THAT(signed_checkpoint.va_certificate_chain_der(),
              ElementsAre(CertificateToDer(va_certificate_.get())));
  v1::CheckpointBody body;
  ASSERT_OK(ParseSignedBytes(signed_checkpoint.tbs(), "the checkpoint", &body));
  EXPECT_EQ(body.va_id(), kVaId);
  EXPECT_EQ(body.log_shard_id(), kShard);
  EXPECT_EQ(body.tree_size(), 12u);
  EXPECT_EQ(body.root_hash(), request.checkpoint().root_hash());
  EXPECT_EQ(body.timestamp_unix_milliseconds(), request.checkpoint().timestamp_unix_milliseconds());
}

// The checkpoint-as-VD forgery: a coordinator hides VouchingStatement fields in the checkpoint as
// fields CheckpointBody does not know, hoping the signer copies them into what it signs.
TEST_F(SignCheckpointTest, RefusesACheckpointCarryingFieldsItDoesNotKnow) {
  v1::SignCheckpointRequest request = Request(12, 0);
  std::string smuggled;
  {
    google::protobuf::io::StringOutputStream raw(&smuggled);
    google::protobuf::io::CodedOutputStream out(&raw);
    out.WriteTag((1 << 3) | 0);  // VouchingStatement.version, as a varint.
    out.WriteVarint32(2);
    out.WriteTag((4 << 3) | 2);  // .hostname
    out.WriteVarint32(12);
    out.WriteString("bank.example");
    out.WriteTag((6 << 3) | 2);  // .certificate_sha256
    out.WriteVarint32(32);
    out.WriteString(Sha256("the attacker's certificate"));
  }
  request.mutable_checkpoint()
      ->GetReflection()
      ->MutableUnknownFields(request.mutable_checkpoint())
      ->ParseFromArray(smuggled.data(), static_cast<int>(smuggled.size()));
  ASSERT_FALSE(
      request.checkpoint().GetReflection()->GetUnknownFields(request.checkpoint()).empty());
  EXPECT_THAT(signer_->SignCheckpoint(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not know")));
  // Nothing was recorded: the honest checkpoint still signs as the first one.
  ASSERT_OK(Sign(Request(12, 0)).status());
}

TEST_F(SignCheckpointTest, RefusesAVaIdChosenByTheCaller) {
  v1::SignCheckpointRequest request = Request(12, 0);
  request.mutable_checkpoint()->set_va_id("someone-else");
  EXPECT_THAT(signer_->SignCheckpoint(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("own VA id")));
}

// docs/PUBLIC_LOG.md: with a log origin prefix the signer signs the tree it accepted a second
// time, as a C2SP checkpoint note, with the log key in the HSM (Ed25519, CKM_EDDSA).
TEST_F(SignCheckpointTest, WithAnOriginPrefixSignsTheAcceptedTreeAsAC2spNoteInTheHsm) {
  ASSERT_OK_AND_ASSIGN(std::string token_directory, test_pki::MakeTempDirectory());
  ASSERT_OK(InitSoftHsmToken(token_directory, kTokenLabel, kUserPin, kSoPin));
  v1::Pkcs11Config pkcs11 = config_.pkcs11();
  pkcs11.set_key_label("va-log-key");
  pkcs11.set_pin_file(absl::StrCat(token_directory, "/user.pin"));
  ASSERT_OK(WriteFileAtomically(pkcs11.pin_file(), absl::StrCat(kUserPin, "\n"), 0600));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr log_public_key, GenerateEd25519KeyPairInToken(pkcs11));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11SigningKey> hsm_log_key,
                       Pkcs11SigningKey::Open(pkcs11, {v1::ED25519}));
  v1::SignerConfig config = config_;
  config.set_log_origin_prefix("log.va.example/mecai");
  VouchingSigner signer(config, {CertificateToDer(va_certificate_.get())},
                        {*va_key_, *hsm_log_key, log_public_key.get()}, NewLogState(), *enrolled_,
                        *trust_lists_, clock_);

  ASSERT_OK_AND_ASSIGN(v1::SignCheckpointResponse response, signer.SignCheckpoint(Request(12, 0)));
  ASSERT_TRUE(response.has_checkpoint());
  const v1::SignedCheckpoint& signed_checkpoint = response.checkpoint();
  // The MECAI checkpoint is signed as before, by the same key.
  ASSERT_OK(VerifyObject(log_public_key.get(), SignedObject::kCheckpoint,
                         signed_checkpoint.signature(), signed_checkpoint.tbs()));
  const std::string origin = absl::StrCat("log.va.example/mecai/", kShard);
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey vkey, Ed25519VerifierKey(origin, log_public_key.get()));
  ASSERT_OK_AND_ASSIGN(OpenedNote note, OpenSignedNote(signed_checkpoint.note(), {vkey}));
  ASSERT_OK_AND_ASSIGN(TlogCheckpoint checkpoint, ParseCheckpointText(note.text));
  EXPECT_EQ(checkpoint.origin, origin);
  EXPECT_EQ(checkpoint.tree_size, 12u);
  EXPECT_EQ(checkpoint.root_hash, tree_.RootHash(12).value());
  EXPECT_TRUE(checkpoint.extension_lines.empty());
  // Under another key name (another shard's origin) it is no one's note.
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey other,
                       Ed25519VerifierKey("log.va.example/mecai/other", log_public_key.get()));
  EXPECT_THAT(OpenSignedNote(signed_checkpoint.note(), {other}),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("no known key")));

  // A fork is refused: no MECAI checkpoint and no note.
  v1::SignCheckpointRequest fork = Request(30, 12);
  fork.mutable_checkpoint()->set_root_hash(forked_root_);
  EXPECT_THAT(signer.SignCheckpoint(fork), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                    HasSubstr("is not proven to extend")));
  // A shard whose id cannot be in a key name is refused before its tree is accepted.
  v1::SignCheckpointRequest spaced = Request(12, 0);
  spaced.mutable_checkpoint()->set_log_shard_id("shard one");
  EXPECT_THAT(signer.SignCheckpoint(spaced),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("note origin")));
}

TEST_F(SignCheckpointTest, WithoutAnOriginPrefixThereIsNoNote) {
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint signed_checkpoint, Sign(Request(12, 0)));
  EXPECT_TRUE(signed_checkpoint.note().empty());
}

TEST_F(SignCheckpointTest, AnEcdsaLogKeyCannotSignNotes) {
  v1::SignerConfig config = config_;
  config.set_log_origin_prefix("log.va.example/mecai");
  VouchingSigner signer(config, {CertificateToDer(va_certificate_.get())},
                        {*va_key_, *log_key_, log_key_->key()}, NewLogState(), *enrolled_,
                        *trust_lists_, clock_);
  EXPECT_THAT(signer.SignCheckpoint(Request(12, 0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Ed25519")));
}

TEST_F(SignCheckpointTest, SignsOnlyTreesProvenToExtendTheLastOne) {
  ASSERT_OK(Sign(Request(12, 0)).status());
  ASSERT_OK(Sign(Request(20, 12)).status());
  // The same tree again (a fresh timestamp) needs no proof.
  ASSERT_OK(Sign(Request(20, 20)).status());
  // A smaller tree: refused.
  EXPECT_THAT(Sign(Request(15, 0)), StatusIs(absl::StatusCode::kFailedPrecondition,
                                             HasSubstr("does not sign the smaller tree")));
  // A fork: another tree of 30 leaves, with the honest proof from 20 to 30.
  v1::SignCheckpointRequest fork = Request(30, 20);
  fork.mutable_checkpoint()->set_root_hash(forked_root_);
  EXPECT_THAT(Sign(fork), StatusIs(absl::StatusCode::kFailedPrecondition,
                                   HasSubstr("is not proven to extend")));
  // A different root at the signed size: refused too.
  v1::SignCheckpointRequest rewritten = Request(20, 20);
  rewritten.mutable_checkpoint()->set_root_hash(forked_root_);
  EXPECT_THAT(Sign(rewritten), StatusIs(absl::StatusCode::kFailedPrecondition, _));
  // The honest extension still signs.
  ASSERT_OK(Sign(Request(30, 20)).status());
}

TEST_F(SignCheckpointTest, NamesItsSizeWhenTheCallerProvesFromAnother) {
  ASSERT_OK(Sign(Request(12, 0)).status());
  ASSERT_OK_AND_ASSIGN(v1::SignCheckpointResponse response,
                       signer_->SignCheckpoint(Request(30, 20)));
  EXPECT_FALSE(response.has_checkpoint());
  EXPECT_TRUE(response.previous_tree_size_mismatch());
  EXPECT_EQ(response.signer_tree_size(), 12u);
}

TEST_F(SignCheckpointTest, RemembersTheLastCheckpointAcrossARestart) {
  ASSERT_OK_AND_ASSIGN(std::string directory, test_pki::MakeTempDirectory());
  const std::string path = directory + "/log-state.pb";
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<SignerLogState> state, SignerLogState::Open(path));
    VouchingSigner signer(config_, {CertificateToDer(va_certificate_.get())}, {*va_key_, *log_key_},
                          *state, *enrolled_, *trust_lists_, clock_);
    ASSERT_OK(signer.SignCheckpoint(Request(20, 0)).status());
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SignerLogState> state, SignerLogState::Open(path));
  EXPECT_EQ(state->TreeSize(kShard), 20u);
  VouchingSigner restarted(config_, {CertificateToDer(va_certificate_.get())},
                           {*va_key_, *log_key_}, *state, *enrolled_, *trust_lists_, clock_);
  v1::SignCheckpointRequest fork = Request(30, 20);
  fork.mutable_checkpoint()->set_root_hash(forked_root_);
  EXPECT_THAT(restarted.SignCheckpoint(fork), StatusIs(absl::StatusCode::kFailedPrecondition, _));
  // A VD at a position the signed tree covers is refused after the restart too.
  v1::SignVouchingRequest request = VouchingSignerTest::Request();
  request.set_log_index(19);
  EXPECT_THAT(restarted.SignVouching(request),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("inside the tree")));
}

TEST_F(SignCheckpointTest, AStateFileThatDoesNotParseStopsTheSigner) {
  ASSERT_OK_AND_ASSIGN(std::string directory, test_pki::MakeTempDirectory());
  const std::string path = directory + "/log-state.pb";
  ASSERT_OK(WriteFileAtomically(path, "\xff\xff not a state", 0600));
  EXPECT_THAT(SignerLogState::Open(path),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("not a SignerLogState")));
}

TEST_F(SignCheckpointTest, RefusesARootThatIsNot32Bytes) {
  v1::SignCheckpointRequest request = Request(12, 0);
  request.mutable_checkpoint()->set_root_hash(std::string(31, '\x5a'));
  EXPECT_THAT(signer_->SignCheckpoint(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("32-byte root hash")));
}

TEST_F(SignCheckpointTest, RefusesAnEmptyShardId) {
  v1::SignCheckpointRequest request = Request(12, 0);
  request.mutable_checkpoint()->clear_log_shard_id();
  EXPECT_THAT(signer_->SignCheckpoint(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs a shard id")));
}

TEST_F(SignCheckpointTest, RefusesATimeTenMinutesOffEitherWay) {
  for (absl::Duration offset : {absl::Minutes(10), -absl::Minutes(10)}) {
    v1::SignCheckpointRequest request = Request(12, 0);
    request.mutable_checkpoint()->set_timestamp_unix_milliseconds(
        absl::ToUnixMillis(clock_.Now() + offset));
    EXPECT_THAT(
        signer_->SignCheckpoint(request),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than 5 minutes from now")))
        << "offset " << offset;
  }
}

// A log as a coordinator keeps it: the serialized record of each index and their Merkle tree.
class RecordLog {
 public:
  // Appends `record` (its index and shard set here) and returns its index.
  uint64_t Append(v1::QuorumRecord record) {
    record.set_log_index(records_.size());
    record.set_log_shard_id(kShard);
    records_.push_back(record.SerializeAsString());
    EXPECT_TRUE(tree_.AppendLeafHash(*LeafHashOfRecord(records_.back())).ok());
    return records_.size() - 1;
  }
  // Appends refused records up to `size`.
  void FillTo(uint64_t size) {
    while (records_.size() < size) Append(Refused());
  }
  static v1::QuorumRecord Refused() {
    v1::QuorumRecord record;
    record.set_decision(v1::REFUSED);
    return record;
  }
  static v1::QuorumRecord Issued(const v1::VouchingData& vd) {
    v1::QuorumRecord record;
    record.set_decision(v1::ISSUED);
    *record.mutable_vouching_data() = vd;
    return record;
  }
  static v1::QuorumRecord Carrying(const v1::VouchingData& vd) {
    v1::QuorumRecord record;
    *record.mutable_unrecorded_vouching_data() = vd;
    return record;
  }

  // The request for the whole log as a first checkpoint, with the records at `indices`.
  v1::SignCheckpointRequest Request(const std::vector<uint64_t>& indices, absl::Time now) const {
    v1::SignCheckpointRequest request;
    v1::CheckpointBody* checkpoint = request.mutable_checkpoint();
    checkpoint->set_log_shard_id(kShard);
    checkpoint->set_tree_size(records_.size());
    checkpoint->set_root_hash(tree_.RootHash(records_.size()).value());
    checkpoint->set_timestamp_unix_milliseconds(absl::ToUnixMillis(now));
    for (uint64_t index : indices) *request.add_vouched_records() = At(index, index);
    return request;
  }
  // Record `index` with the inclusion proof of record `proof_of`.
  v1::RecordAtIndex At(uint64_t index, uint64_t proof_of) const {
    v1::RecordAtIndex given;
    given.set_log_index(index);
    given.set_record(records_[index]);
    const std::vector<std::string> proof = tree_.InclusionProof(proof_of, records_.size()).value();
    for (const std::string& node : proof) given.add_inclusion_proof(node);
    return given;
  }

 private:
  std::vector<std::string> records_;
  MerkleTree tree_;
};

// A VD's log position: one no signed checkpoint covers, and one no other VD took; whoever asks
// for a taken position learns the VD signed there, so that the record there can carry it.
TEST_F(SignCheckpointTest, AVdLogIndexIsUsedOnceAndNeverInsideASignedTree) {
  v1::SignVouchingRequest request = VouchingSignerTest::Request();
  request.set_log_index(25);
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse first, signer_->SignVouching(request));
  ASSERT_TRUE(first.has_vouching_data()) << first.refusal().explanation();
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse again, signer_->SignVouching(request));
  ASSERT_TRUE(again.has_log_index_taken());
  EXPECT_THAT(again.log_index_taken().explanation(), HasSubstr("already given to another VD"));
  EXPECT_EQ(again.log_index_taken().vouching_data_at_index().SerializeAsString(),
            first.vouching_data().SerializeAsString());
  // Out of order below the high-water mark is fine once.
  request.set_log_index(23);
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse lower, signer_->SignVouching(request));
  ASSERT_TRUE(lower.has_vouching_data()) << lower.refusal().explanation();
  // A checkpoint of 30 leaves holding both VDs at their indices; then index 24 (never used) is
  // inside a signed tree.
  RecordLog log;
  log.FillTo(23);
  log.Append(RecordLog::Issued(lower.vouching_data()));
  log.Append(RecordLog::Refused());
  log.Append(RecordLog::Issued(first.vouching_data()));
  log.FillTo(30);
  ASSERT_OK_AND_ASSIGN(v1::SignCheckpointResponse signed_checkpoint,
                       signer_->SignCheckpoint(log.Request({23, 25}, clock_.Now())));
  ASSERT_TRUE(signed_checkpoint.has_checkpoint());
  request.set_log_index(24);
  EXPECT_THAT(signer_->SignVouching(request),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("inside the tree")));
}

// Every VD the signer signed is in the log before a checkpoint covers its index: the signer names
// the records it needs, checks each is proven and carries the VD, and names the VDs the log does
// not hold (docs/SECURITY.md T7).
TEST_F(SignCheckpointTest, ACheckpointCoversAVdOnlyWithARecordCarryingIt) {
  v1::SignVouchingRequest request = VouchingSignerTest::Request();
  request.set_log_index(5);
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse vouched, signer_->SignVouching(request));
  ASSERT_TRUE(vouched.has_vouching_data()) << vouched.refusal().explanation();
  const v1::VouchingData& vd = vouched.vouching_data();

  RecordLog honest;
  honest.FillTo(5);
  honest.Append(RecordLog::Issued(vd));
  honest.FillTo(8);
  // Without the record: the signer names the index it needs.
  ASSERT_OK_AND_ASSIGN(v1::SignCheckpointResponse needs,
                       signer_->SignCheckpoint(honest.Request({}, clock_.Now())));
  EXPECT_FALSE(needs.has_checkpoint());
  EXPECT_THAT(needs.records_needed(), ElementsAre(5));
  // The record with another record's inclusion proof: not proven.
  v1::SignCheckpointRequest unproven = honest.Request({}, clock_.Now());
  *unproven.add_vouched_records() = honest.At(5, 4);
  EXPECT_THAT(signer_->SignCheckpoint(unproven),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is not proven")));
  // Another record's bytes given as record 5: refused.
  v1::SignCheckpointRequest misplaced = honest.Request({}, clock_.Now());
  *misplaced.add_vouched_records() = honest.At(4, 4);
  misplaced.mutable_vouched_records(0)->set_log_index(5);
  EXPECT_THAT(signer_->SignCheckpoint(misplaced),
              StatusIs(absl::StatusCode::kFailedPrecondition, _));

  // A log whose record 5 is something else (a compromised coordinator logged a refusal there):
  // the signer names the VD the log must take and signs nothing.
  RecordLog hiding;
  hiding.FillTo(8);
  ASSERT_OK_AND_ASSIGN(v1::SignCheckpointResponse hidden,
                       signer_->SignCheckpoint(hiding.Request({5}, clock_.Now())));
  EXPECT_FALSE(hidden.has_checkpoint());
  ASSERT_EQ(hidden.unrecorded_vouching_data_size(), 1);
  EXPECT_EQ(hidden.unrecorded_vouching_data(0).statement(), vd.statement());
  // Once a later record carries it, the tree is signed.
  const uint64_t carrier = hiding.Append(RecordLog::Carrying(hidden.unrecorded_vouching_data(0)));
  ASSERT_OK_AND_ASSIGN(v1::SignCheckpointResponse signed_checkpoint,
                       signer_->SignCheckpoint(hiding.Request({5, carrier}, clock_.Now())));
  EXPECT_TRUE(signed_checkpoint.has_checkpoint());
}

// The record given is parsed strictly, like every signed object: fields it does not know refuse.
TEST_F(SignCheckpointTest, ARecordWithFieldsTheSignerDoesNotKnowIsRefused) {
  v1::SignVouchingRequest request = VouchingSignerTest::Request();
  request.set_log_index(2);
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse vouched, signer_->SignVouching(request));
  ASSERT_TRUE(vouched.has_vouching_data());
  v1::QuorumRecord record = RecordLog::Issued(vouched.vouching_data());
  record.GetReflection()->MutableUnknownFields(&record)->AddVarint(999, 1);
  RecordLog log;
  log.FillTo(2);
  log.Append(record);
  log.FillTo(4);
  EXPECT_THAT(signer_->SignCheckpoint(log.Request({2}, clock_.Now())),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not know")));
}

// A restarted signer still knows the VDs it signed since its last checkpoint (its journal).
TEST_F(SignCheckpointTest, ARestartedSignerStillDemandsTheRecordsOfItsVds) {
  ASSERT_OK_AND_ASSIGN(std::string directory, test_pki::MakeTempDirectory());
  const std::string path = directory + "/log-state.pb";
  v1::VouchingData vd;
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<SignerLogState> state, SignerLogState::Open(path));
    VouchingSigner signer(config_, {CertificateToDer(va_certificate_.get())}, {*va_key_, *log_key_},
                          *state, *enrolled_, *trust_lists_, clock_);
    v1::SignVouchingRequest request = VouchingSignerTest::Request();
    request.set_log_index(3);
    ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse vouched, signer.SignVouching(request));
    ASSERT_TRUE(vouched.has_vouching_data());
    vd = vouched.vouching_data();
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SignerLogState> state, SignerLogState::Open(path));
  VouchingSigner restarted(config_, {CertificateToDer(va_certificate_.get())},
                           {*va_key_, *log_key_}, *state, *enrolled_, *trust_lists_, clock_);
  v1::SignVouchingRequest request = VouchingSignerTest::Request();
  request.set_log_index(3);
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse taken, restarted.SignVouching(request));
  ASSERT_TRUE(taken.has_log_index_taken());
  EXPECT_EQ(taken.log_index_taken().vouching_data_at_index().SerializeAsString(),
            vd.SerializeAsString());
  RecordLog log;
  log.FillTo(6);
  ASSERT_OK_AND_ASSIGN(v1::SignCheckpointResponse needs,
                       restarted.SignCheckpoint(log.Request({}, clock_.Now())));
  EXPECT_FALSE(needs.has_checkpoint());
  EXPECT_THAT(needs.records_needed(), ElementsAre(3));
}

// ARCHITECTURE.md §7: for a trust list that requires issuance approval, the signer signs only with
// the approval service's signed APPROVED record for the certificate's key, checked by itself.
class ApprovalEvidenceTest : public VouchingSignerTest {
 protected:
  void SetUp() override {
    VouchingSignerTest::SetUp();
    v1::VouchingRequestBody body = MakeBody();
    body.set_trust_list(kApprovalTrustList);
    ASSERT_OK_AND_ASSIGN(vouching_request_, BuildRequest(body));
  }

  // The approval service's state for the fixture leaf's key, as GetIssuanceStatus returns it.
  v1::IssuanceStatus Status(v1::IssuanceState state = v1::ISSUANCE_STATE_APPROVED) const {
    v1::IssuanceStatus status;
    status.set_transaction_number("TXN20261122");
    status.set_domain("example.test");
    status.set_state(state);
    status.set_subject_public_key_info_sha256(
        SubjectPublicKeyInfoSha256(pki_.leaf.certificate.get()));
    status.add_names(kHost);
    return status;
  }

  v1::SignedApprovalRecord Record(const v1::IssuanceStatus& status, SigningKey& key,
                                  absl::Time signed_at) const {
    absl::StatusOr<v1::SignedApprovalRecord> record = SignApprovalRecord(status, key, signed_at);
    EXPECT_TRUE(record.ok()) << record.status();
    return record.value_or(v1::SignedApprovalRecord());
  }

  v1::SignVouchingRequest RequestWith(const v1::SignedApprovalRecord& record) const {
    v1::SignVouchingRequest request = Request();
    *request.add_approval_records() = record;
    return request;
  }
};

TEST_F(ApprovalEvidenceTest, IssuesWithASignedApprovedRecordAndTheVdSaysSo) {
  const v1::SignVouchingRequest request =
      RequestWith(Record(Status(), *approval_key_, clock_.Now() - absl::Seconds(10)));
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse response, MakeSigner()->SignVouching(request));
  ASSERT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
  v1::VouchingStatement statement;
  ASSERT_NO_FATAL_FAILURE(ExpectVerifiedStatement(
      response.vouching_data(), CertificateToDer(va_certificate_.get()), &statement));
  EXPECT_EQ(statement.trust_list(), kApprovalTrustList);
  EXPECT_TRUE(statement.issuance_approved_out_of_band());
}

TEST_F(ApprovalEvidenceTest, RefusesWithoutAnApprovalRecord) {
  EXPECT_THAT(RefusalFor(Request()),
              IsRefusal(v1::APPROVAL_REQUIRED,
                        HasSubstr("no out-of-band approval record was presented for key")));
}

TEST_F(ApprovalEvidenceTest, RefusesARecordForAnotherKey) {
  v1::IssuanceStatus status = Status();
  status.set_subject_public_key_info_sha256(Sha256("the key of another certificate"));
  EXPECT_THAT(
      RefusalFor(RequestWith(Record(status, *approval_key_, clock_.Now()))),
      IsRefusal(v1::APPROVAL_REQUIRED, AllOf(HasSubstr("is for key"), HasSubstr("not for key"))));
}

TEST_F(ApprovalEvidenceTest, RefusesARecordForgedWithAnotherKey) {
  // A coordinator (or anyone) signing its own "approval" with a key the signer does not know.
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr forger_key, GenerateEd25519Key());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<InMemorySigningKey> forger,
                       InMemorySigningKey::Create(std::move(forger_key)));
  EXPECT_THAT(RefusalFor(RequestWith(Record(Status(), *forger, clock_.Now()))),
              IsRefusal(v1::APPROVAL_REQUIRED, HasSubstr("signature does not verify")));
}

TEST_F(ApprovalEvidenceTest, RefusesARecordWhoseStateWasRewrittenAfterSigning) {
  // The service signed "awaiting approval"; the carrier turns it into "approved".
  v1::SignedApprovalRecord record =
      Record(Status(v1::ISSUANCE_STATE_AWAITING_APPROVAL), *approval_key_, clock_.Now());
  v1::ApprovalRecordBody body;
  ASSERT_TRUE(body.ParseFromString(record.tbs()));
  body.set_state(v1::ISSUANCE_STATE_APPROVED);
  record.set_tbs(body.SerializeAsString());
  EXPECT_THAT(RefusalFor(RequestWith(record)),
              IsRefusal(v1::APPROVAL_REQUIRED, HasSubstr("signature does not verify")));
}

TEST_F(ApprovalEvidenceTest, RefusesEveryStateButApproved) {
  for (v1::IssuanceState state : {v1::ISSUANCE_STATE_CALLING, v1::ISSUANCE_STATE_AWAITING_APPROVAL,
                                  v1::ISSUANCE_STATE_REJECTED, v1::ISSUANCE_STATE_LOCKED,
                                  v1::ISSUANCE_STATE_EXPIRED, v1::ISSUANCE_STATE_FAILED}) {
    SCOPED_TRACE(v1::IssuanceState_Name(state));
    EXPECT_THAT(
        RefusalFor(RequestWith(Record(Status(state), *approval_key_, clock_.Now()))),
        IsRefusal(v1::APPROVAL_REQUIRED, HasSubstr(absl::StrCat("TXN20261122 for example.test is ",
                                                                DescribeIssuanceState(state)))));
  }
}

TEST_F(ApprovalEvidenceTest, RefusesAStaleRecord) {
  // Default approval_record_max_age_seconds: 300.
  EXPECT_THAT(
      RefusalFor(RequestWith(Record(Status(), *approval_key_, clock_.Now() - absl::Seconds(301)))),
      IsRefusal(v1::APPROVAL_REQUIRED, HasSubstr("outside the accepted age")));
}

TEST_F(ApprovalEvidenceTest, RefusesARecordSignedInTheFuture) {
  // A record dated ahead would stay "fresh" until its date plus the maximum age.
  EXPECT_THAT(
      RefusalFor(RequestWith(Record(Status(), *approval_key_, clock_.Now() + absl::Minutes(10)))),
      IsRefusal(v1::APPROVAL_REQUIRED, HasSubstr("outside the accepted age")));
  // Within the 5 minutes of clock skew allowed, it is accepted.
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse response,
                       MakeSigner()->SignVouching(RequestWith(
                           Record(Status(), *approval_key_, clock_.Now() + absl::Minutes(4)))));
  EXPECT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
}

TEST_F(ApprovalEvidenceTest, RefusesARecordForAnotherDomain) {
  v1::IssuanceStatus status = Status();
  status.set_domain("ample.test");  // A suffix of the hostname, but not a parent domain.
  EXPECT_THAT(RefusalFor(RequestWith(Record(status, *approval_key_, clock_.Now()))),
              IsRefusal(v1::APPROVAL_REQUIRED,
                        HasSubstr("approves the domain ample.test, which does not cover")));
}

TEST_F(ApprovalEvidenceTest, RefusesARecordWhoseNamesDoNotIncludeTheHostname) {
  // The approver saw a CSR for mail.example.test; that approval is not one for the VR's host,
  // although the key and the domain are the same.
  v1::IssuanceStatus status = Status();
  status.clear_names();
  status.add_names("mail.example.test");
  status.add_names("*.mail.example.test");
  EXPECT_THAT(RefusalFor(RequestWith(Record(status, *approval_key_, clock_.Now()))),
              IsRefusal(v1::APPROVAL_REQUIRED,
                        HasSubstr("TXN20261122 approves the names mail.example.test, "
                                  "*.mail.example.test, none of which is www.example.test")));
}

TEST_F(ApprovalEvidenceTest, AWildcardNameCoversExactlyOneLabel) {
  // RFC 6125 §6.4.3: "*.example.test" covers www.example.test.
  v1::IssuanceStatus status = Status();
  status.clear_names();
  status.add_names("*.example.test");
  ASSERT_OK_AND_ASSIGN(
      v1::SignVouchingResponse response,
      MakeSigner()->SignVouching(RequestWith(Record(status, *approval_key_, clock_.Now()))));
  EXPECT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
  // A wildcard never spans two labels: "*.test" does not cover www.example.test.
  status.clear_names();
  status.add_names("*.test");
  EXPECT_THAT(RefusalFor(RequestWith(Record(status, *approval_key_, clock_.Now()))),
              IsRefusal(v1::APPROVAL_REQUIRED, HasSubstr("none of which is www.example.test")));
}

TEST_F(ApprovalEvidenceTest, ARequestByPublicKeyCoversItsWholeDomain) {
  // Submitted as a bare SubjectPublicKeyInfo: names holds the domain alone, whole_domain is set,
  // and the domain covers the host.
  v1::IssuanceStatus status = Status();
  status.clear_names();
  status.add_names("example.test");
  status.set_whole_domain(true);
  ASSERT_OK_AND_ASSIGN(
      v1::SignVouchingResponse response,
      MakeSigner()->SignVouching(RequestWith(Record(status, *approval_key_, clock_.Now()))));
  EXPECT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
  // The same names from a CSR for the domain itself do not cover www.example.test.
  status.set_whole_domain(false);
  EXPECT_THAT(RefusalFor(RequestWith(Record(status, *approval_key_, clock_.Now()))),
              IsRefusal(v1::APPROVAL_REQUIRED,
                        HasSubstr("approves the names example.test, none of which is")));
}

TEST_F(ApprovalEvidenceTest, ARolloverNeedsAnApprovalForEachKey) {
  ASSERT_OK_AND_ASSIGN(IssuedCertificate next, pki_.IssueLeaf(kHost, LeafOptions()));
  v1::VouchingRequestBody body = MakeBody();
  body.set_trust_list(kApprovalTrustList);
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingRequest request, RolloverRequest(body, next));
  v1::IssuanceStatus next_status = Status();
  next_status.set_transaction_number("TXN20261123");
  const std::string next_key = SubjectPublicKeyInfoSha256(next.certificate.get());
  next_status.set_subject_public_key_info_sha256(next_key);

  // The old key approved, the new one without a record: refused, naming the new key.
  *request.add_approval_records() = Record(Status(), *approval_key_, clock_.Now());
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::APPROVAL_REQUIRED, HasSubstr("not for key " + ShortHex(next_key))));

  // Both approved: signed, for both certificates, with the flag.
  *request.add_approval_records() = Record(next_status, *approval_key_, clock_.Now());
  v1::VouchingStatement statement;
  ASSERT_NO_FATAL_FAILURE(ExpectSignedForBoth(request, next, &statement));
  EXPECT_TRUE(statement.issuance_approved_out_of_band());
}

TEST_F(ApprovalEvidenceTest, ASignerWithoutTheApprovalKeyRefuses) {
  std::unique_ptr<VouchingSigner> signer =
      MakeSigner(*va_key_, va_certificate_.get(), /*approval_key=*/nullptr);
  ASSERT_OK_AND_ASSIGN(
      v1::SignVouchingResponse response,
      signer->SignVouching(RequestWith(Record(Status(), *approval_key_, clock_.Now()))));
  EXPECT_THAT(response.refusal(),
              IsRefusal(v1::APPROVAL_REQUIRED, HasSubstr("has no approval service key")));
}

// The signer's own revocation rule (common/revocation/revocation.h CombineRevocationVerdicts, RFC
// 5280 §6.3, RFC 6960): it relies only on what the CA signed, no older than its bound, from every
// source the certificate names, for every vouched certificate.
class RevocationEvidenceTest : public VouchingSignerTest {
 protected:
  static constexpr char kCrlUrl[] = "http://crl.example.test/intermediate.crl";
  static constexpr char kOcspUrl[] = "http://ocsp.example.test/";

  // A CRL of the intermediate signed at `this_update`, valid for a week from now, listing
  // `certificate` when `revoked`. The coordinator claims to have obtained it just now.
  v1::RevocationEvidence CrlEvidenceAt(X509* certificate, const std::string& der,
                                       absl::Time this_update, bool revoked = false) const {
    CrlSpec crl;
    crl.this_update = this_update;
    crl.next_update = clock_.Now() + absl::Hours(24 * 7);
    if (revoked) crl.revoked.push_back({certificate, this_update - absl::Minutes(5), 1});
    absl::StatusOr<std::string> crl_der =
        IssueCrlDer(crl, pki_.intermediate.certificate.get(), pki_.intermediate.key.get());
    EXPECT_TRUE(crl_der.ok()) << crl_der.status();
    v1::RevocationEvidence evidence;
    evidence.set_certificate_sha256(Sha256(der));
    evidence.set_source(v1::CRL);
    evidence.set_response_der(crl_der.value_or(""));
    evidence.set_obtained_at_unix_seconds(clock_.NowUnixSeconds());
    evidence.set_url(kCrlUrl);
    return evidence;
  }

  // A "good" OCSP response about `certificate` by the intermediate, produced at `this_update`.
  v1::RevocationEvidence OcspEvidenceAt(X509* certificate, const std::string& der,
                                        absl::Time this_update) const {
    test_revocation::OcspResponseSpec spec;
    spec.certificate = certificate;
    spec.issuer = pki_.intermediate.certificate.get();
    spec.signer = pki_.intermediate.certificate.get();
    spec.signer_key = pki_.intermediate.key.get();
    spec.this_update = this_update;
    spec.next_update = clock_.Now() + absl::Hours(24);
    absl::StatusOr<std::string> response = test_revocation::MakeOcspResponseDer(spec);
    EXPECT_TRUE(response.ok()) << response.status();
    v1::RevocationEvidence evidence;
    evidence.set_certificate_sha256(Sha256(der));
    evidence.set_source(v1::OCSP);
    evidence.set_response_der(response.value_or(""));
    evidence.set_obtained_at_unix_seconds(clock_.NowUnixSeconds());
    evidence.set_url(kOcspUrl);
    return evidence;
  }

  // Makes `vouching_request_` a single-form VR for `leaf`, a new leaf of the intermediate naming
  // both a CRL distribution point and an OCSP responder, and returns the honest request for it
  // (every agent sees `leaf`) without revocation evidence.
  absl::StatusOr<v1::SignVouchingRequest> RequestForALeafNamingBothSources(
      IssuedCertificate* leaf) {
    CertificateSpec spec;
    spec.common_name = kHost;
    spec.dns_names = {kHost};
    spec.extended_key_usages = {"serverAuth"};
    spec.not_before = FixtureNow() - absl::Hours(24);
    spec.not_after = FixtureNow() + absl::Hours(24 * 90);
    spec.crl_url = kCrlUrl;
    spec.ocsp_url = kOcspUrl;
    ASSIGN_OR_RETURN(leaf->key, GenerateEcKey(256));
    ASSIGN_OR_RETURN(leaf->certificate,
                     IssueCertificate(spec, leaf->key.get(), pki_.intermediate.certificate.get(),
                                      pki_.intermediate.key.get()));
    leaf->der = CertificateToDer(leaf->certificate.get());
    ASSIGN_OR_RETURN(std::unique_ptr<InMemorySigningKey> leaf_key, SignerFor(leaf->key.get()));
    ASSIGN_OR_RETURN(
        vouching_request_,
        BuildVouchingRequest(MakeBody(), {leaf->der, pki_.intermediate.der}, *leaf_key));
    v1::SignVouchingRequest request = Request();
    request.clear_revocation();
    for (size_t i = 0; i < 3; ++i) {
      v1::ObservationBody body = Body(i);
      *body.mutable_addresses(0) = SawLeaf(body.addresses(0).address(), leaf->der);
      Replace(&request, i, body);
    }
    return request;
  }

  // The statement of the VD `request` gets; a failure if it is refused.
  void ExpectSigned(const v1::SignVouchingRequest& request,
                    v1::VouchingStatement* statement) const {
    ASSERT_OK_AND_ASSIGN(v1::SignVouchingResponse response, MakeSigner()->SignVouching(request));
    ASSERT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
    ASSERT_NO_FATAL_FAILURE(ExpectVerifiedStatement(
        response.vouching_data(), CertificateToDer(va_certificate_.get()), statement));
  }
};

// A "good" CRL still days from its nextUpdate, but signed 25 hours ago: a revocation since may be
// missing from it. Refused under the default bound, and under a configured one.
TEST_F(RevocationEvidenceTest, RefusesAGoodCrlOlderThanTheEvidenceBound) {
  v1::SignVouchingRequest request = Request();
  *request.mutable_revocation(0) =
      CrlEvidenceAt(pki_.leaf.certificate.get(), pki_.leaf.der, clock_.Now() - absl::Hours(25));
  EXPECT_THAT(RefusalFor(request),
              IsRefusal(v1::REVOCATION_UNKNOWN,
                        AllOf(HasSubstr("no valid revocation evidence for certificate " +
                                        ShortHex(Sha256(pki_.leaf.der))),
                              HasSubstr("too old to rely on"), HasSubstr("more than 24h"))));

  // The honest request's CRL is an hour old: too old for a bound of 30 minutes.
  config_.set_revocation_evidence_max_age_seconds(1800);
  EXPECT_THAT(RefusalFor(Request()),
              IsRefusal(v1::REVOCATION_UNKNOWN,
                        AllOf(HasSubstr("too old to rely on"), HasSubstr("more than 30m"))));
}

// The coordinator's obtained_at is its own claim; the VD states the CA's thisUpdate.
TEST_F(RevocationEvidenceTest, TheVdStatesTheCaSignedTimeNotTheCoordinatorsObtainedAt) {
  v1::SignVouchingRequest request = Request();
  *request.mutable_revocation(0) =
      CrlEvidenceAt(pki_.leaf.certificate.get(), pki_.leaf.der, clock_.Now() - absl::Hours(2));
  ASSERT_EQ(request.revocation(0).obtained_at_unix_seconds(), clock_.NowUnixSeconds());
  v1::VouchingStatement statement;
  ASSERT_NO_FATAL_FAILURE(ExpectSigned(request, &statement));
  EXPECT_EQ(statement.revocation_checked_at_unix_seconds(),
            absl::ToUnixSeconds(clock_.Now() - absl::Hours(2)));
  EXPECT_EQ(statement.revocation_source(), v1::CRL);
}

// The certificate names a CRL distribution point and an OCSP responder: evidence from both must
// be presented and say good. Withholding the CRL (which may list it) is not enough.
TEST_F(RevocationEvidenceTest, RefusesOnlyOneSourceForALeafNamingBoth) {
  IssuedCertificate leaf;
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingRequest request, RequestForALeafNamingBothSources(&leaf));
  const v1::RevocationEvidence ocsp =
      OcspEvidenceAt(leaf.certificate.get(), leaf.der, clock_.Now() - absl::Minutes(30));
  const v1::RevocationEvidence crl =
      CrlEvidenceAt(leaf.certificate.get(), leaf.der, clock_.Now() - absl::Hours(3));

  v1::SignVouchingRequest only_ocsp = request;
  *only_ocsp.add_revocation() = ocsp;
  EXPECT_THAT(RefusalFor(only_ocsp),
              IsRefusal(v1::REVOCATION_UNKNOWN,
                        HasSubstr(std::string("the certificate names the CRL distribution point ") +
                                  kCrlUrl + ", and no CRL was presented")));

  v1::SignVouchingRequest only_crl = request;
  *only_crl.add_revocation() = crl;
  EXPECT_THAT(RefusalFor(only_crl),
              IsRefusal(v1::REVOCATION_UNKNOWN,
                        HasSubstr(std::string("the certificate names the OCSP responder ") +
                                  kOcspUrl + ", and no OCSP response was presented")));

  // Both: signed, stating the older of the two CA-signed times.
  *request.add_revocation() = ocsp;
  *request.add_revocation() = crl;
  v1::VouchingStatement statement;
  ASSERT_NO_FATAL_FAILURE(ExpectSigned(request, &statement));
  EXPECT_THAT(statement.certificate_sha256(), ElementsAre(Sha256(leaf.der)));
  EXPECT_EQ(statement.revocation_checked_at_unix_seconds(),
            absl::ToUnixSeconds(clock_.Now() - absl::Hours(3)));
  EXPECT_EQ(statement.revocation_source(), v1::CRL);
}

// Revoked anywhere refuses: a newer CRL listing the certificate beside an older one that does not,
// and an older CRL listing it (even one too old to rely on for "good") beside a newer one that
// leaves it out.
TEST_F(RevocationEvidenceTest, ARevokedCrlWinsOverAGoodOneWhicheverIsNewer) {
  v1::SignVouchingRequest newer_revoked = Request();
  newer_revoked.clear_revocation();
  *newer_revoked.add_revocation() =
      CrlEvidenceAt(pki_.leaf.certificate.get(), pki_.leaf.der, clock_.Now() - absl::Hours(3));
  *newer_revoked.add_revocation() = CrlEvidenceAt(pki_.leaf.certificate.get(), pki_.leaf.der,
                                                  clock_.Now() - absl::Hours(1), /*revoked=*/true);
  EXPECT_THAT(
      RefusalFor(newer_revoked),
      IsRefusal(v1::CERTIFICATE_REVOKED, AllOf(HasSubstr("is revoked"), HasSubstr(kCrlUrl))));

  v1::SignVouchingRequest older_revoked = Request();
  older_revoked.clear_revocation();
  *older_revoked.add_revocation() = CrlEvidenceAt(pki_.leaf.certificate.get(), pki_.leaf.der,
                                                  clock_.Now() - absl::Hours(30), /*revoked=*/true);
  *older_revoked.add_revocation() =
      CrlEvidenceAt(pki_.leaf.certificate.get(), pki_.leaf.der, clock_.Now() - absl::Hours(1));
  EXPECT_THAT(RefusalFor(older_revoked),
              IsRefusal(v1::CERTIFICATE_REVOKED, HasSubstr("revoked at")));
}

// A rollover vouches for two certificates; the second one's revocation is checked as the first's.
TEST_F(RevocationEvidenceTest, RefusesARolloverWhoseSecondCertificateIsRevoked) {
  ASSERT_OK_AND_ASSIGN(IssuedCertificate next, pki_.IssueLeaf(kHost, LeafOptions()));
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingRequest request, RolloverRequest(MakeBody(), next));
  ASSERT_EQ(request.revocation(1).certificate_sha256(), Sha256(next.der));
  *request.mutable_revocation(1) = CrlEvidenceAt(next.certificate.get(), next.der,
                                                 clock_.Now() - absl::Hours(1), /*revoked=*/true);
  EXPECT_THAT(
      RefusalFor(request),
      IsRefusal(v1::CERTIFICATE_REVOKED,
                HasSubstr("says certificate " + ShortHex(Sha256(next.der)) + " is revoked")));
}

TEST_F(RevocationEvidenceTest, RefusesARolloverWithoutEvidenceForTheSecondCertificate) {
  ASSERT_OK_AND_ASSIGN(IssuedCertificate next, pki_.IssueLeaf(kHost, LeafOptions()));
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingRequest request, RolloverRequest(MakeBody(), next));
  request.mutable_revocation()->RemoveLast();
  EXPECT_THAT(
      RefusalFor(request),
      IsRefusal(v1::REVOCATION_UNKNOWN, HasSubstr("no valid revocation evidence for certificate " +
                                                  ShortHex(Sha256(next.der)))));
}

// The VD's revocation time covers both certificates of a rollover: the older CA-signed time.
TEST_F(RevocationEvidenceTest, ARolloverStatesTheOlderCaSignedTimeOfItsTwoCertificates) {
  ASSERT_OK_AND_ASSIGN(IssuedCertificate next, pki_.IssueLeaf(kHost, LeafOptions()));
  ASSERT_OK_AND_ASSIGN(v1::SignVouchingRequest request, RolloverRequest(MakeBody(), next));
  *request.mutable_revocation(1) =
      CrlEvidenceAt(next.certificate.get(), next.der, clock_.Now() - absl::Hours(5));
  v1::VouchingStatement statement;
  ASSERT_NO_FATAL_FAILURE(ExpectSignedForBoth(request, next, &statement));
  EXPECT_EQ(statement.revocation_checked_at_unix_seconds(),
            absl::ToUnixSeconds(clock_.Now() - absl::Hours(5)));
}

}  // namespace
}  // namespace mecai
