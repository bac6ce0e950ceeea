#include "common/evidence/vouching_request.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"
#include "common/evidence/trust_lists.h"
#include "common/pki/pki_builder.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::BuildTestPki;
using ::mecai::test_pki::FixtureNow;
using ::mecai::test_pki::IsNotRefused;
using ::mecai::test_pki::IsRefusal;
using ::mecai::test_pki::IssuedCertificate;
using ::mecai::test_pki::KeyType;
using ::mecai::test_pki::LeafOptions;
using ::mecai::test_pki::SignerFor;
using ::mecai::test_pki::StatusIs;
using ::mecai::test_pki::TestPki;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kHost[] = "www.example.test";
// Field 1, length-delimited, announcing 5 bytes of which only 2 follow: no message parses it.
constexpr char kTruncatedMessage[] =
    "\x0a\x05"
    "ab";
constexpr char kTrustList[] = "test-roots";

// Every fixture the tests share, built once per key type (RSA key generation is slow). Tests only
// read them; each test builds its own TrustLists.
struct Fixtures {
  TestPki pki;             // Root → intermediate → leaf for kHost.
  TestPki foreign_pki;     // The same shape under a root that no trust list contains.
  IssuedCertificate next;  // A second leaf for kHost under pki's intermediate, on another key.
};

Fixtures* BuildFixtures(KeyType key_type) {
  auto pki = BuildTestPki(kHost, key_type);
  EXPECT_TRUE(pki.ok()) << pki.status();
  auto foreign = BuildTestPki(kHost, key_type);
  EXPECT_TRUE(foreign.ok()) << foreign.status();
  if (!pki.ok() || !foreign.ok()) return nullptr;
  auto next = pki->IssueLeaf(kHost, LeafOptions());
  EXPECT_TRUE(next.ok()) << next.status();
  if (!next.ok()) return nullptr;
  return new Fixtures{std::move(*pki), std::move(*foreign), std::move(*next)};
}

const Fixtures* GetFixtures(KeyType key_type) {
  static Fixtures* ec = BuildFixtures(KeyType::kEcP256);
  static Fixtures* rsa = BuildFixtures(KeyType::kRsa2048);
  return key_type == KeyType::kEcP256 ? ec : rsa;
}

v1::VouchingRequestBody MakeBody(absl::Time timestamp = FixtureNow()) {
  v1::VouchingRequestBody body;
  body.set_hostname(kHost);
  body.set_port(443);
  body.set_trust_list(kTrustList);
  body.set_timestamp_unix_seconds(absl::ToUnixSeconds(timestamp));
  body.set_nonce("nonce-0123456789");
  return body;
}

// Signs `body` with `chain` and `key`, as a TLS server does.
std::string BuildSingle(const v1::VouchingRequestBody& body, const std::vector<std::string>& chain,
                        EVP_PKEY* key) {
  auto signer = SignerFor(key);
  EXPECT_TRUE(signer.ok()) << signer.status();
  if (!signer.ok()) return "";
  auto request = BuildVouchingRequest(body, chain, **signer);
  EXPECT_TRUE(request.ok()) << request.status();
  return request.ok() ? *request : "";
}

v1::VouchingRequest Parse(const std::string& serialized) {
  v1::VouchingRequest request;
  EXPECT_TRUE(request.ParseFromString(serialized));
  return request;
}

std::string FlipLastByte(std::string bytes) {
  bytes.back() ^= 0x01;
  return bytes;
}

class VouchingRequestTest : public ::testing::TestWithParam<KeyType> {
 protected:
  void SetUp() override {
    fixtures_ = GetFixtures(GetParam());
    ASSERT_NE(fixtures_, nullptr);
    v1::TrustListConfig config;
    config.set_name(kTrustList);
    config.set_pem_file(fixtures_->pki.root_pem_path);
    google::protobuf::RepeatedPtrField<v1::TrustListConfig> configs;
    *configs.Add() = config;
    auto lists = TrustLists::Load(configs);
    ASSERT_TRUE(lists.ok()) << lists.status();
    trust_lists_ = std::move(*lists);
  }

  const TestPki& pki() const { return fixtures_->pki; }
  EVP_PKEY* leaf_key() const { return pki().leaf.key.get(); }

  // A single-form VR for `body` signed by the fixture leaf.
  std::string Single(const v1::VouchingRequestBody& body) const {
    return BuildSingle(body, pki().ChainDer(), leaf_key());
  }

  // A single-form VR for a leaf issued under the fixture intermediate with `options`.
  std::string SingleForLeaf(const LeafOptions& options,
                            const v1::VouchingRequestBody& body = MakeBody()) const {
    auto leaf = pki().IssueLeaf(kHost, options);
    EXPECT_TRUE(leaf.ok()) << leaf.status();
    if (!leaf.ok()) return "";
    return BuildSingle(body, {leaf->der, pki().intermediate.der}, leaf->key.get());
  }

  VouchingRequestCheck Check(const std::string& serialized, absl::Time now = FixtureNow()) const {
    return CheckVouchingRequest(serialized, limits_, *trust_lists_, now);
  }

  const Fixtures* fixtures_ = nullptr;
  std::unique_ptr<TrustLists> trust_lists_;
  VouchingRequestLimits limits_;
};

INSTANTIATE_TEST_SUITE_P(KeyTypes, VouchingRequestTest,
                         ::testing::Values(KeyType::kEcP256, KeyType::kRsa2048),
                         [](const ::testing::TestParamInfo<KeyType>& info) {
                           return test_pki::KeyTypeName(info.param);
                         });

// ---------------------------------------------------------------------------------------------
// Accepted single-form VRs.

TEST_P(VouchingRequestTest, AcceptsAWellFormedFreshSignedRequest) {
  const std::string serialized = Single(MakeBody());
  VouchingRequestCheck check = Check(serialized);
  EXPECT_THAT(check.refusal, IsNotRefused());
  EXPECT_TRUE(check.accepted());
  EXPECT_EQ(check.request.body.hostname(), kHost);
  EXPECT_EQ(check.request.body.port(), 443u);
  EXPECT_EQ(check.request.body.trust_list(), kTrustList);
  EXPECT_EQ(check.request.body.timestamp_unix_seconds(), absl::ToUnixSeconds(FixtureNow()));
  EXPECT_THAT(check.request.body.certificate_chain_der(),
              ElementsAre(pki().leaf.der, pki().intermediate.der));
  EXPECT_THAT(check.request.leaf_sha256, ElementsAre(Sha256(pki().leaf.der)));
  ASSERT_EQ(check.request.chains.size(), 1u);
  ASSERT_EQ(check.request.chains[0].size(), 2u);
  EXPECT_EQ(CertificateToDer(check.request.chains[0][0].get()), pki().leaf.der);
  EXPECT_EQ(CertificateToDer(check.request.chains[0][1].get()), pki().intermediate.der);
}

// docs/PROTOCOL.md "Key-typed handshakes": the agents ask for the certificate by its key type.
TEST_P(VouchingRequestTest, NamesTheLeafWithItsKeyType) {
  VouchingRequestCheck check = Check(Single(MakeBody()));
  ASSERT_THAT(check.refusal, IsNotRefused());
  const v1::CertificateKeyType expected =
      GetParam() == KeyType::kEcP256 ? v1::KEY_TYPE_EC_P256 : v1::KEY_TYPE_RSA;
  ASSERT_EQ(check.request.vouched.size(), 1u);
  EXPECT_EQ(check.request.vouched[0].sha256, Sha256(pki().leaf.der));
  EXPECT_EQ(check.request.vouched[0].key_type, expected);
  EXPECT_THAT(ProbeKeyTypes(check.request), ElementsAre(expected));
}

// A certificate whose key no agent can ask a server for could never be vouched for: refused
// before its signature is checked (here the signature is by another key, which would otherwise be
// BAD_SIGNATURE).
TEST_P(VouchingRequestTest, RefusesACertificateKeyNoAgentCanAskForBeforeItsSignature) {
  EvpPkeyPtr p521(EVP_EC_gen("P-521"));
  ASSERT_NE(p521, nullptr);
  auto leaf = pki().IssueLeaf(kHost, LeafOptions(), p521.get());
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  const std::string serialized =
      BuildSingle(MakeBody(), {leaf->der, pki().intermediate.der}, leaf_key());
  EXPECT_THAT(Check(serialized).refusal,
              IsRefusal(v1::UNSUPPORTED_KEY_TYPE,
                        StartsWith("the certificate has an ECDSA key on secp521r1, which no probe "
                                   "agent can ask a server for")));
  // Stale comes first (ARCHITECTURE.md §3 order: form, freshness, key type, signatures).
  const std::string stale = BuildSingle(MakeBody(FixtureNow() - absl::Hours(1)),
                                        {leaf->der, pki().intermediate.der}, leaf_key());
  EXPECT_THAT(Check(stale).refusal, IsRefusal(v1::STALE_TIMESTAMP, ::testing::_));
}

TEST_P(VouchingRequestTest, RequestSha256IsTheDigestOfTheExactBytes) {
  const std::string serialized = Single(MakeBody());
  VouchingRequestCheck check = Check(serialized);
  ASSERT_THAT(check.refusal, IsNotRefused());
  EXPECT_EQ(check.request.request_sha256, Sha256(serialized));
  EXPECT_EQ(check.request.request_sha256.size(), 32u);
  // A VR differing only in its nonce has another digest.
  v1::VouchingRequestBody other = MakeBody();
  other.set_nonce("nonce-other");
  VouchingRequestCheck other_check = Check(Single(other));
  ASSERT_THAT(other_check.refusal, IsNotRefused());
  EXPECT_NE(other_check.request.request_sha256, check.request.request_sha256);
}

TEST_P(VouchingRequestTest, EnvelopeThenCertificatesEqualsTheWholeCheck) {
  const std::string serialized = Single(MakeBody());
  VouchingRequestCheck check = CheckVouchingRequestEnvelope(serialized, limits_, FixtureNow());
  ASSERT_THAT(check.refusal, IsNotRefused());
  CheckVouchingRequestCertificates(*trust_lists_, FixtureNow(), &check);
  EXPECT_THAT(check.refusal, IsNotRefused());
  // The envelope alone does not look at the certificate: a hostname mismatch passes it.
  v1::VouchingRequestBody other_host = MakeBody();
  other_host.set_hostname("other.example.test");
  EXPECT_THAT(CheckVouchingRequestEnvelope(Single(other_host), limits_, FixtureNow()).refusal,
              IsNotRefused());
}

TEST_P(VouchingRequestTest, AcceptsEverySignatureAlgorithmThatFitsTheLeafKey) {
  // RSA keys may sign with PKCS#1 v1.5 or PSS; a P-256 key only with ECDSA P-256.
  const std::vector<v1::SignatureAlgorithm> algorithms =
      GetParam() == KeyType::kRsa2048
          ? std::vector<v1::SignatureAlgorithm>{v1::RSA_PKCS1_SHA256, v1::RSA_PSS_SHA256}
          : std::vector<v1::SignatureAlgorithm>{v1::ECDSA_P256_SHA256};
  for (v1::SignatureAlgorithm algorithm : algorithms) {
    SCOPED_TRACE(v1::SignatureAlgorithm_Name(algorithm));
    v1::VouchingRequestBody body = MakeBody();
    for (const std::string& der : pki().ChainDer()) *body.add_certificate_chain_der() = der;
    v1::VouchingRequest request;
    request.mutable_single()->set_tbs(body.SerializeAsString());
    auto signature =
        SignBytes(leaf_key(), algorithm,
                  SignedMessage(SignedObject::kVouchingRequestBody, request.single().tbs()));
    ASSERT_TRUE(signature.ok()) << signature.status();
    *request.mutable_single()->mutable_signature() = *signature;
    EXPECT_THAT(Check(request.SerializeAsString()).refusal, IsNotRefused());
  }
}

// ---------------------------------------------------------------------------------------------
// REQUEST_TOO_LARGE.

TEST_P(VouchingRequestTest, RefusesARequestLargerThanTheByteLimit) {
  const std::string serialized = Single(MakeBody());
  limits_.max_request_bytes = serialized.size() - 1;
  EXPECT_THAT(Check(serialized).refusal,
              IsRefusal(v1::REQUEST_TOO_LARGE,
                        absl::StrCat("the VR is ", serialized.size(), " bytes; the limit is ",
                                     serialized.size() - 1)));
  limits_.max_request_bytes = serialized.size();
  EXPECT_THAT(Check(serialized).refusal, IsNotRefused());
}

TEST_P(VouchingRequestTest, SizeLimitComesBeforeParsing) {
  limits_.max_request_bytes = 8;
  EXPECT_THAT(Check("this is not a protobuf at all").refusal,
              IsRefusal(v1::REQUEST_TOO_LARGE, HasSubstr("the limit is 8")));
}

TEST_P(VouchingRequestTest, RefusesAChainLongerThanTheChainLimit) {
  // The leaf and ten copies of the intermediate: eleven certificates, the default limit is ten.
  std::vector<std::string> chain = {pki().leaf.der};
  for (int i = 0; i < 10; ++i) chain.push_back(pki().intermediate.der);
  EXPECT_THAT(Check(BuildSingle(MakeBody(), chain, leaf_key())).refusal,
              IsRefusal(v1::REQUEST_TOO_LARGE, "the chain has 11 certificates; the limit is 10"));
  // Ten certificates are within the limit.
  chain.pop_back();
  EXPECT_THAT(CheckVouchingRequestEnvelope(BuildSingle(MakeBody(), chain, leaf_key()), limits_,
                                           FixtureNow())
                  .refusal,
              IsNotRefused());
}

TEST_P(VouchingRequestTest, RefusesAChainOverAConfiguredChainLimit) {
  limits_.max_chain_length = 1;
  EXPECT_THAT(Check(Single(MakeBody())).refusal,
              IsRefusal(v1::REQUEST_TOO_LARGE, "the chain has 2 certificates; the limit is 1"));
}

TEST_P(VouchingRequestTest, RefusesANonceLongerThan64Bytes) {
  v1::VouchingRequestBody body = MakeBody();
  body.set_nonce(std::string(65, 'n'));
  EXPECT_THAT(Check(Single(body)).refusal,
              IsRefusal(v1::REQUEST_TOO_LARGE, "the nonce is longer than 64 bytes"));
  body.set_nonce(std::string(64, 'n'));
  EXPECT_THAT(Check(Single(body)).refusal, IsNotRefused());
}

// ---------------------------------------------------------------------------------------------
// MALFORMED_REQUEST.

TEST_P(VouchingRequestTest, RefusesBytesThatAreNotAVouchingRequest) {
  const auto not_a_request =
      IsRefusal(v1::MALFORMED_REQUEST, "the request is not a serialized VouchingRequest");
  EXPECT_THAT(Check("").refusal, not_a_request);
  // Field 1, length 5, but only two bytes follow.
  EXPECT_THAT(Check(std::string(kTruncatedMessage)).refusal, not_a_request);
  // A wire type that does not exist (7).
  EXPECT_THAT(Check(std::string("\x0f\x01", 2)).refusal, not_a_request);
}

TEST_P(VouchingRequestTest, RefusesARequestWithNeitherForm) {
  // Field 3 of statement version 1's envelope (the unsigned next-certificate chain) alone.
  const std::string envelope = absl::StrCat("\x1a", std::string(1, '\x03'), "abc");
  EXPECT_THAT(Check(envelope).refusal,
              IsRefusal(v1::MALFORMED_REQUEST, HasSubstr("field this verifier does not know")));
}

// Every byte of a VR is signed: nothing can be added beside the signed body.
TEST_P(VouchingRequestTest, RefusesAnUnsignedFieldBesideTheSignedBody) {
  const std::string signed_request = Single(MakeBody());
  // A next-certificate chain in the envelope, where version 1 carried it outside the signature.
  std::string with_next_chain = signed_request;
  with_next_chain += '\x1a';
  with_next_chain += static_cast<char>((pki().leaf.der.size() & 0x7f) | 0x80);
  with_next_chain += static_cast<char>(pki().leaf.der.size() >> 7);
  with_next_chain += pki().leaf.der;
  EXPECT_THAT(Check(with_next_chain).refusal,
              IsRefusal(v1::MALFORMED_REQUEST, HasSubstr("VouchingRequest field number 3")));
  // Any unknown field: a new request digest for the same signed VR would dodge the replay cache.
  EXPECT_THAT(Check(signed_request + std::string("\xf8\x01\x01", 3)).refusal,
              IsRefusal(v1::MALFORMED_REQUEST, HasSubstr("field number 31")));
}

TEST_P(VouchingRequestTest, RefusesASignedBodyWithAFieldItDoesNotKnow) {
  v1::VouchingRequestBody body = MakeBody();
  for (const std::string& der : pki().ChainDer()) *body.add_certificate_chain_der() = der;
  v1::VouchingRequest request;
  request.mutable_single()->set_tbs(body.SerializeAsString() + std::string("\xf8\x01\x01", 3));
  auto signature =
      SignBytes(leaf_key(), AlgorithmForKey(leaf_key()).value(),
                SignedMessage(SignedObject::kVouchingRequestBody, request.single().tbs()));
  ASSERT_TRUE(signature.ok()) << signature.status();
  *request.mutable_single()->mutable_signature() = *signature;
  EXPECT_THAT(Check(request.SerializeAsString()).refusal,
              IsRefusal(v1::MALFORMED_REQUEST, HasSubstr("does not know")));
}

TEST_P(VouchingRequestTest, RefusesABodySignedWithoutTheContext) {
  // Statement version 1 signed the body's bytes alone.
  v1::VouchingRequestBody body = MakeBody();
  for (const std::string& der : pki().ChainDer()) *body.add_certificate_chain_der() = der;
  v1::VouchingRequest request;
  request.mutable_single()->set_tbs(body.SerializeAsString());
  auto signature =
      SignBytes(leaf_key(), AlgorithmForKey(leaf_key()).value(), request.single().tbs());
  ASSERT_TRUE(signature.ok()) << signature.status();
  *request.mutable_single()->mutable_signature() = *signature;
  EXPECT_THAT(Check(request.SerializeAsString()).refusal,
              IsRefusal(v1::BAD_SIGNATURE, "signature does not verify"));
}

TEST_P(VouchingRequestTest, RefusesASignedBodyThatIsNotABody) {
  v1::VouchingRequest request;
  request.mutable_single()->set_tbs(std::string(kTruncatedMessage));
  auto signature =
      SignBytes(leaf_key(), AlgorithmForKey(leaf_key()).value(),
                SignedMessage(SignedObject::kVouchingRequestBody, request.single().tbs()));
  ASSERT_TRUE(signature.ok()) << signature.status();
  *request.mutable_single()->mutable_signature() = *signature;
  EXPECT_THAT(Check(request.SerializeAsString()).refusal,
              IsRefusal(v1::MALFORMED_REQUEST, "the signed VR body is not a VouchingRequestBody"));
}

TEST_P(VouchingRequestTest, RefusesABodyWithoutCertificate) {
  EXPECT_THAT(Check(BuildSingle(MakeBody(), {}, leaf_key())).refusal,
              IsRefusal(v1::MALFORMED_REQUEST, "the VR carries no certificate"));
}

TEST_P(VouchingRequestTest, RefusesAChainWithABadCertificate) {
  EXPECT_THAT(Check(BuildSingle(MakeBody(), {pki().leaf.der, "not DER"}, leaf_key())).refusal,
              IsRefusal(v1::MALFORMED_REQUEST, HasSubstr("certificate 1 of the chain")));
  EXPECT_THAT(
      Check(BuildSingle(MakeBody(), {pki().leaf.der + "x", pki().intermediate.der}, leaf_key()))
          .refusal,
      IsRefusal(v1::MALFORMED_REQUEST,
                "certificate 0 of the chain: trailing bytes after DER certificate"));
}

TEST_P(VouchingRequestTest, RefusesInvalidHostnames) {
  for (const std::string& hostname :
       {std::string("WWW.example.test"), std::string("Www.Example.Test"),
        std::string("under_score.example.test"), std::string("a..example.test"),
        std::string(".example.test"), std::string("www.example.test."), std::string(""),
        std::string("-www.example.test"), std::string("www-.example.test"),
        std::string("www.exa mple.test"), std::string("www.example.test:443"),
        std::string("*.example.test"), std::string("caf\xc3\xa9.example.test"),
        absl::StrCat(std::string(64, 'a'), ".example.test")}) {
    SCOPED_TRACE(hostname);
    v1::VouchingRequestBody body = MakeBody();
    body.set_hostname(hostname);
    // The refusal is the hostname rule's own message (common/net/dns_name.h), naming the failed
    // rule.
    EXPECT_THAT(
        Check(Single(body)).refusal,
        IsRefusal(v1::MALFORMED_REQUEST,
                  AllOf(StartsWith(absl::StrCat("hostname \"", absl::CHexEscape(hostname), "\": ")),
                        Eq(std::string(ValidateVouchingRequestHostname(hostname).message())))));
  }
}

// Names that passed the LDH-only check of earlier versions and reached the agents, which refused
// them: now refused before probing, with the rule that fails.
TEST_P(VouchingRequestTest, RefusesNamesTheAgentsRefuse) {
  for (const auto& [hostname, why] : std::vector<std::pair<std::string, std::string>>{
           {"ab--cd.example.test",
            "label \"ab--cd\" has \"--\" in positions 3-4, reserved for "
            "A-labels (RFC 5890 §2.3.1)"},
           {"www.example.123", "all-numeric top-level label \"123\""},
           {"192.0.2.1", "is an IP address literal"},
           {"192.168.1.256", "all-numeric top-level label \"256\""}}) {
    SCOPED_TRACE(hostname);
    v1::VouchingRequestBody body = MakeBody();
    body.set_hostname(hostname);
    EXPECT_THAT(
        Check(Single(body)).refusal,
        IsRefusal(v1::MALFORMED_REQUEST,
                  AllOf(HasSubstr(absl::StrCat("hostname \"", hostname, "\"")), HasSubstr(why))));
  }
}

TEST(ValidateVouchingRequestHostnameTest, AcceptsLowerCaseLdhNamesAndALabels) {
  EXPECT_TRUE(ValidateVouchingRequestHostname("www.example.test").ok());
  EXPECT_TRUE(ValidateVouchingRequestHostname("localhost").ok());
  EXPECT_TRUE(ValidateVouchingRequestHostname("xn--caf-dma.example.test").ok());
  EXPECT_TRUE(ValidateVouchingRequestHostname("a-b.0.example.test").ok());
  EXPECT_TRUE(
      ValidateVouchingRequestHostname(absl::StrCat(std::string(63, 'a'), ".example.test")).ok());
  // 253 characters: four labels of 63 and the dots.
  std::string longest = absl::StrCat(std::string(63, 'a'), ".", std::string(63, 'b'), ".",
                                     std::string(63, 'c'), ".", std::string(61, 'd'));
  ASSERT_EQ(longest.size(), 253u);
  EXPECT_TRUE(ValidateVouchingRequestHostname(longest).ok());
  EXPECT_THAT(ValidateVouchingRequestHostname(longest + "d"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("is 254 octets; a name has at most 253 (RFC 1035 §2.3.4)")));
  EXPECT_THAT(ValidateVouchingRequestHostname("Example.test"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("label \"Example\" has upper-case letters")));
  EXPECT_THAT(ValidateVouchingRequestHostname("a_b.test"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("label \"a_b\" has \"_\" at position 2")));
  EXPECT_THAT(ValidateVouchingRequestHostname(""),
              StatusIs(absl::StatusCode::kInvalidArgument, "hostname \"\": is empty"));
  EXPECT_THAT(
      ValidateVouchingRequestHostname("a..b"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has an empty label (label 2")));
}

TEST_P(VouchingRequestTest, RefusesPortsOutOfRange) {
  for (uint32_t port : {0u, 65536u, 4294967295u}) {
    SCOPED_TRACE(port);
    v1::VouchingRequestBody body = MakeBody();
    body.set_port(port);
    EXPECT_THAT(Check(Single(body)).refusal,
                IsRefusal(v1::MALFORMED_REQUEST, absl::StrCat("port ", port, " is out of range")));
  }
  v1::VouchingRequestBody body = MakeBody();
  body.set_port(65535);
  EXPECT_THAT(Check(Single(body)).refusal, IsNotRefused());
  body.set_port(1);
  EXPECT_THAT(Check(Single(body)).refusal, IsNotRefused());
}

TEST_P(VouchingRequestTest, RefusesAnEmptyOrOverlongTrustListName) {
  const auto bad_name =
      IsRefusal(v1::MALFORMED_REQUEST, "the trust-list name is empty or too long");
  v1::VouchingRequestBody body = MakeBody();
  body.set_trust_list("");
  EXPECT_THAT(Check(Single(body)).refusal, bad_name);
  body.set_trust_list(std::string(65, 't'));
  EXPECT_THAT(Check(Single(body)).refusal, bad_name);
  // 64 characters are well-formed; this VS just does not serve such a list.
  body.set_trust_list(std::string(64, 't'));
  EXPECT_THAT(Check(Single(body)).refusal,
              IsRefusal(v1::UNKNOWN_TRUST_LIST, HasSubstr(std::string(64, 't'))));
}

// ---------------------------------------------------------------------------------------------
// STALE_TIMESTAMP (default window ±300 s; `now` is always explicit).

TEST_P(VouchingRequestTest, RefusesTimestampsOutsideTheFreshnessWindow) {
  EXPECT_THAT(
      Check(Single(MakeBody(FixtureNow() - absl::Seconds(301)))).refusal,
      IsRefusal(v1::STALE_TIMESTAMP, "the VR timestamp is 5m1s away from now; the window is ±5m"));
  EXPECT_THAT(
      Check(Single(MakeBody(FixtureNow() + absl::Seconds(301)))).refusal,
      IsRefusal(v1::STALE_TIMESTAMP, "the VR timestamp is -5m1s away from now; the window is ±5m"));
  EXPECT_THAT(Check(Single(MakeBody(FixtureNow() - absl::Hours(24 * 365)))).refusal,
              IsRefusal(v1::STALE_TIMESTAMP, HasSubstr("the window is ±5m")));
}

TEST_P(VouchingRequestTest, AcceptsTimestampsInsideTheFreshnessWindow) {
  for (absl::Duration offset : {absl::Seconds(-300), absl::Seconds(-299), absl::ZeroDuration(),
                                absl::Seconds(299), absl::Seconds(300)}) {
    SCOPED_TRACE(absl::FormatDuration(offset));
    EXPECT_THAT(Check(Single(MakeBody(FixtureNow() + offset))).refusal, IsNotRefused());
  }
}

TEST_P(VouchingRequestTest, FreshnessIsJudgedAgainstTheGivenNow) {
  FakeClock clock(FixtureNow());
  const std::string serialized = Single(MakeBody(clock.Now()));
  EXPECT_THAT(Check(serialized, clock.Now()).refusal, IsNotRefused());
  clock.Advance(absl::Seconds(300));
  EXPECT_THAT(Check(serialized, clock.Now()).refusal, IsNotRefused());
  clock.Advance(absl::Seconds(1));
  EXPECT_THAT(Check(serialized, clock.Now()).refusal,
              IsRefusal(v1::STALE_TIMESTAMP, HasSubstr("5m1s")));
}

TEST_P(VouchingRequestTest, HonoursAConfiguredFreshnessWindow) {
  limits_.freshness_window = absl::Seconds(10);
  EXPECT_THAT(Check(Single(MakeBody(FixtureNow() - absl::Seconds(11)))).refusal,
              IsRefusal(v1::STALE_TIMESTAMP,
                        "the VR timestamp is 11s away from now; the window "
                        "is ±10s"));
  EXPECT_THAT(Check(Single(MakeBody(FixtureNow() - absl::Seconds(10)))).refusal, IsNotRefused());
}

// ---------------------------------------------------------------------------------------------
// BAD_SIGNATURE.

TEST_P(VouchingRequestTest, RefusesABodyTamperedWithAfterSigning) {
  v1::VouchingRequest request = Parse(Single(MakeBody()));
  v1::VouchingRequestBody body;
  ASSERT_TRUE(body.ParseFromString(request.single().tbs()));
  body.set_port(8443);
  request.mutable_single()->set_tbs(body.SerializeAsString());
  EXPECT_THAT(Check(request.SerializeAsString()).refusal,
              IsRefusal(v1::BAD_SIGNATURE, "signature does not verify"));
}

TEST_P(VouchingRequestTest, RefusesAnAlteredSignatureValue) {
  v1::VouchingRequest request = Parse(Single(MakeBody()));
  request.mutable_single()->mutable_signature()->set_value(
      FlipLastByte(request.single().signature().value()));
  EXPECT_THAT(Check(request.SerializeAsString()).refusal,
              IsRefusal(v1::BAD_SIGNATURE, "signature does not verify"));
}

TEST_P(VouchingRequestTest, RefusesASignatureByAnotherKey) {
  // The foreign leaf's key is of the same type: the algorithm fits, the signature does not.
  const std::string serialized =
      BuildSingle(MakeBody(), pki().ChainDer(), fixtures_->foreign_pki.leaf.key.get());
  EXPECT_THAT(Check(serialized).refusal, IsRefusal(v1::BAD_SIGNATURE, "signature does not verify"));
}

TEST_P(VouchingRequestTest, RefusesASignatureByTheIssuersKey) {
  const std::string serialized =
      BuildSingle(MakeBody(), pki().ChainDer(), pki().intermediate.key.get());
  EXPECT_THAT(Check(serialized).refusal, IsRefusal(v1::BAD_SIGNATURE, "signature does not verify"));
}

TEST_P(VouchingRequestTest, RefusesAnAlgorithmThatDoesNotFitTheLeafKey) {
  v1::VouchingRequest request = Parse(Single(MakeBody()));
  const v1::SignatureAlgorithm wrong =
      GetParam() == KeyType::kEcP256 ? v1::RSA_PKCS1_SHA256 : v1::ECDSA_P256_SHA256;
  request.mutable_single()->mutable_signature()->set_algorithm(wrong);
  EXPECT_THAT(
      Check(request.SerializeAsString()).refusal,
      IsRefusal(v1::BAD_SIGNATURE,
                HasSubstr(absl::StrCat("signature algorithm ", v1::SignatureAlgorithm_Name(wrong),
                                       " does not fit the key"))));
}

TEST_P(VouchingRequestTest, RefusesAnUnsignedRequest) {
  v1::VouchingRequest request = Parse(Single(MakeBody()));
  request.mutable_single()->clear_signature();
  EXPECT_THAT(Check(request.SerializeAsString()).refusal,
              IsRefusal(v1::BAD_SIGNATURE, HasSubstr("SIGNATURE_ALGORITHM_UNSPECIFIED")));
}

// ---------------------------------------------------------------------------------------------
// Certificate checks: HOSTNAME_MISMATCH, NOT_SERVER_AUTH, UNKNOWN_TRUST_LIST, UNTRUSTED_CHAIN,
// CERTIFICATE_EXPIRED.

TEST_P(VouchingRequestTest, RefusesACertificateForAnotherHostname) {
  v1::VouchingRequestBody body = MakeBody();
  body.set_hostname("mail.example.test");
  EXPECT_THAT(Check(Single(body)).refusal,
              IsRefusal(v1::HOSTNAME_MISMATCH,
                        "the certificate is not valid for mail.example.test (RFC 6125)"));
}

TEST_P(VouchingRequestTest, WildcardCoversExactlyOneLeftMostLabel) {
  LeafOptions wildcard;
  wildcard.dns_names = {"*.example.test"};
  for (const char* accepted : {"a.example.test", "www.example.test"}) {
    SCOPED_TRACE(accepted);
    v1::VouchingRequestBody body = MakeBody();
    body.set_hostname(accepted);
    EXPECT_THAT(Check(SingleForLeaf(wildcard, body)).refusal, IsNotRefused());
  }
  for (const char* refused : {"a.b.example.test", "example.test", "a.example.other"}) {
    SCOPED_TRACE(refused);
    v1::VouchingRequestBody body = MakeBody();
    body.set_hostname(refused);
    EXPECT_THAT(Check(SingleForLeaf(wildcard, body)).refusal,
                IsRefusal(v1::HOSTNAME_MISMATCH, HasSubstr(refused)));
  }
}

TEST_P(VouchingRequestTest, PartialWildcardIsNotMatched) {
  LeafOptions partial;
  partial.dns_names = {"f*.example.test"};
  v1::VouchingRequestBody body = MakeBody();
  body.set_hostname("foo.example.test");
  EXPECT_THAT(Check(SingleForLeaf(partial, body)).refusal,
              IsRefusal(v1::HOSTNAME_MISMATCH, HasSubstr("foo.example.test")));
}

TEST_P(VouchingRequestTest, CommonNameWithoutSubjectAltNameIsAMismatch) {
  LeafOptions cn_only;
  cn_only.omit_subject_alt_name = true;
  cn_only.common_name = kHost;
  EXPECT_THAT(Check(SingleForLeaf(cn_only)).refusal,
              IsRefusal(v1::HOSTNAME_MISMATCH, HasSubstr(kHost)));
}

TEST_P(VouchingRequestTest, RefusesALeafWithOnlyClientAuth) {
  LeafOptions client_only;
  client_only.extended_key_usages = {"clientAuth"};
  EXPECT_THAT(Check(SingleForLeaf(client_only)).refusal,
              IsRefusal(v1::NOT_SERVER_AUTH,
                        "the certificate lacks the serverAuth extended key usage (RFC 5280 "
                        "§4.2.1.12)"));
}

TEST_P(VouchingRequestTest, AcceptsALeafWithoutExtendedKeyUsage) {
  LeafOptions no_eku;
  no_eku.extended_key_usages = {};
  EXPECT_THAT(Check(SingleForLeaf(no_eku)).refusal, IsNotRefused());
}

TEST_P(VouchingRequestTest, RefusesATrustListThisServerDoesNotServe) {
  v1::VouchingRequestBody body = MakeBody();
  body.set_trust_list("mozilla");
  EXPECT_THAT(Check(Single(body)).refusal,
              IsRefusal(v1::UNKNOWN_TRUST_LIST,
                        "this Vouching Server does not serve trust list 'mozilla'"));
}

TEST_P(VouchingRequestTest, RefusesAChainToAnotherRoot) {
  const TestPki& foreign = fixtures_->foreign_pki;
  EXPECT_THAT(Check(BuildSingle(MakeBody(), foreign.ChainDer(), foreign.leaf.key.get())).refusal,
              IsRefusal(v1::UNTRUSTED_CHAIN,
                        HasSubstr("does not build to a root of trust list 'test-roots'")));
}

TEST_P(VouchingRequestTest, RefusesAChainMissingItsIntermediate) {
  EXPECT_THAT(Check(BuildSingle(MakeBody(), {pki().leaf.der}, leaf_key())).refusal,
              IsRefusal(v1::UNTRUSTED_CHAIN, HasSubstr("unable to get local issuer certificate")));
}

TEST_P(VouchingRequestTest, RefusesAnExpiredLeaf) {
  LeafOptions expired;
  expired.not_before = FixtureNow() - absl::Hours(24 * 30);
  expired.not_after = FixtureNow() - absl::Hours(1);
  EXPECT_THAT(Check(SingleForLeaf(expired)).refusal,
              IsRefusal(v1::CERTIFICATE_EXPIRED, HasSubstr("certificate has expired")));
}

TEST_P(VouchingRequestTest, RefusesALeafThatIsNotYetValid) {
  LeafOptions future;
  future.not_before = FixtureNow() + absl::Hours(1);
  future.not_after = FixtureNow() + absl::Hours(24 * 30);
  EXPECT_THAT(Check(SingleForLeaf(future)).refusal,
              IsRefusal(v1::CERTIFICATE_EXPIRED, HasSubstr("certificate is not yet valid")));
}

TEST_P(VouchingRequestTest, ValidityIsJudgedAtTheGivenNow) {
  // The fixture leaf expires at FixtureNow() + 90 days; a fresh VR made after that is refused.
  const absl::Time later = FixtureNow() + absl::Hours(24 * 91);
  EXPECT_THAT(Check(Single(MakeBody(later)), later).refusal,
              IsRefusal(v1::CERTIFICATE_EXPIRED, HasSubstr("certificate has expired")));
}

TEST_P(VouchingRequestTest, RefusesAChainToARemovedRoot) {
  ASSERT_TRUE(trust_lists_->RemoveRoot(kTrustList, Sha256(pki().root.der)).ok());
  EXPECT_THAT(Check(Single(MakeBody())).refusal,
              IsRefusal(v1::ROOT_REMOVED, HasSubstr("removed from trust list 'test-roots'")));
}

// A self-signed server certificate listed as a root of the trust list builds a path of one
// certificate: nobody issued it, so no CRL or OCSP response about it can be verified. It is
// refused here, before the revocation checks of the coordinator and the signer read the issuer
// out of the path. The certificate names a CRL and an OCSP URL, which they would fetch or check.
TEST_P(VouchingRequestTest, RefusesALeafThatIsItsOwnTrustAnchor) {
  absl::StatusOr<EvpPkeyPtr> key = test_pki::GenerateKey(GetParam());
  ASSERT_TRUE(key.ok()) << key.status();
  CertificateSpec spec;
  spec.common_name = kHost;
  spec.dns_names = {kHost};
  spec.extended_key_usages = {"serverAuth"};
  spec.not_before = FixtureNow() - absl::Hours(24);
  spec.not_after = FixtureNow() + absl::Hours(24 * 90);
  spec.crl_url = "http://crl.example.test/self-signed.crl";
  spec.ocsp_url = "http://ocsp.example.test/";
  absl::StatusOr<X509Ptr> self_signed = IssueCertificate(spec, key->get(), nullptr, key->get());
  ASSERT_TRUE(self_signed.ok()) << self_signed.status();
  const std::string der = CertificateToDer(self_signed->get());
  absl::StatusOr<std::string> directory = test_pki::MakeTempDirectory();
  ASSERT_TRUE(directory.ok()) << directory.status();
  absl::StatusOr<std::string> pem_file = test_pki::WriteTestFile(
      *directory, "self-signed-root.pem", CertificateToPem(self_signed->get()));
  ASSERT_TRUE(pem_file.ok()) << pem_file.status();
  v1::TrustListConfig config;
  config.set_name(kTrustList);
  config.set_pem_file(*pem_file);
  google::protobuf::RepeatedPtrField<v1::TrustListConfig> configs;
  *configs.Add() = config;
  absl::StatusOr<std::unique_ptr<TrustLists>> lists = TrustLists::Load(configs);
  ASSERT_TRUE(lists.ok()) << lists.status();

  // The chain itself is valid: OpenSSL builds the one-certificate path to the listed anchor.
  ChainVerdict verdict = (*lists)->VerifyChain(kTrustList, {self_signed->get()}, FixtureNow());
  ASSERT_THAT(verdict.refusal, IsNotRefused());
  ASSERT_EQ(verdict.path.size(), 1u);

  VouchingRequestCheck check = CheckVouchingRequest(BuildSingle(MakeBody(), {der}, key->get()),
                                                    limits_, **lists, FixtureNow());
  EXPECT_THAT(
      check.refusal,
      IsRefusal(v1::REVOCATION_UNKNOWN,
                absl::StrCat("the certificate ", ShortHex(Sha256(der)),
                             " is its own trust anchor; its revocation cannot be checked")));
  EXPECT_TRUE(check.request.validated_paths.empty());
}

TEST_P(VouchingRequestTest, EveryAcceptedPathHasTheLeafsIssuer) {
  VouchingRequestCheck check = Check(Single(MakeBody()));
  ASSERT_THAT(check.refusal, IsNotRefused());
  ASSERT_EQ(check.request.validated_paths.size(), 1u);
  EXPECT_THAT(CheckPathHasIssuer(check.request.validated_paths[0]), IsNotRefused());
  EXPECT_THAT(CheckPathHasIssuer({}), IsRefusal(v1::REVOCATION_UNKNOWN, HasSubstr("no validated")));
}

// ---------------------------------------------------------------------------------------------
// Order of the checks (ARCHITECTURE.md §3): size; parse (the signed body and its chain, with the
// chain-length limit); the body fields (hostname, port, trust-list name, nonce length); the
// timestamp; the signature; then hostname match, serverAuth, trust list and chain. These tests
// pin that order.

TEST_P(VouchingRequestTest, OrderStaleAndBadlySignedIsStale) {
  v1::VouchingRequest request = Parse(Single(MakeBody(FixtureNow() - absl::Hours(1))));
  request.mutable_single()->mutable_signature()->set_value(
      FlipLastByte(request.single().signature().value()));
  EXPECT_THAT(Check(request.SerializeAsString()).refusal,
              IsRefusal(v1::STALE_TIMESTAMP, HasSubstr("window")));
}

TEST_P(VouchingRequestTest, OrderBadHostnameAndBadlySignedIsMalformed) {
  v1::VouchingRequestBody body = MakeBody();
  body.set_hostname("Not_A_Host");
  v1::VouchingRequest request = Parse(Single(body));
  request.mutable_single()->mutable_signature()->set_value(
      FlipLastByte(request.single().signature().value()));
  EXPECT_THAT(Check(request.SerializeAsString()).refusal,
              IsRefusal(v1::MALFORMED_REQUEST, HasSubstr("Not_A_Host")));
}

TEST_P(VouchingRequestTest, OrderChainTooLongAndBadlySignedIsTooLarge) {
  limits_.max_chain_length = 1;
  v1::VouchingRequest request = Parse(Single(MakeBody()));
  request.mutable_single()->mutable_signature()->set_value(
      FlipLastByte(request.single().signature().value()));
  EXPECT_THAT(Check(request.SerializeAsString()).refusal,
              IsRefusal(v1::REQUEST_TOO_LARGE, HasSubstr("the limit is 1")));
}

TEST_P(VouchingRequestTest, OrderBadHostnameAndStaleIsMalformed) {
  v1::VouchingRequestBody body = MakeBody(FixtureNow() - absl::Hours(1));
  body.set_hostname("UPPER.example.test");
  EXPECT_THAT(Check(Single(body)).refusal, IsRefusal(v1::MALFORMED_REQUEST, HasSubstr("UPPER")));
}

TEST_P(VouchingRequestTest, OrderStaleAndHostnameMismatchIsStale) {
  v1::VouchingRequestBody body = MakeBody(FixtureNow() - absl::Hours(1));
  body.set_hostname("mail.example.test");
  EXPECT_THAT(Check(Single(body)).refusal, IsRefusal(v1::STALE_TIMESTAMP, HasSubstr("1h")));
}

TEST_P(VouchingRequestTest, OrderHostnameMismatchBeforeServerAuthAndChain) {
  LeafOptions client_only;
  client_only.extended_key_usages = {"clientAuth"};
  v1::VouchingRequestBody body = MakeBody();
  body.set_hostname("mail.example.test");
  body.set_trust_list("mozilla");
  EXPECT_THAT(Check(SingleForLeaf(client_only, body)).refusal,
              IsRefusal(v1::HOSTNAME_MISMATCH, HasSubstr("mail.example.test")));
}

TEST_P(VouchingRequestTest, OrderNotServerAuthBeforeUnknownTrustList) {
  LeafOptions client_only;
  client_only.extended_key_usages = {"clientAuth"};
  v1::VouchingRequestBody body = MakeBody();
  body.set_trust_list("mozilla");
  EXPECT_THAT(Check(SingleForLeaf(client_only, body)).refusal,
              IsRefusal(v1::NOT_SERVER_AUTH, HasSubstr("serverAuth")));
}

TEST_P(VouchingRequestTest, OrderUnknownTrustListBeforeChain) {
  const TestPki& foreign = fixtures_->foreign_pki;
  v1::VouchingRequestBody body = MakeBody();
  body.set_trust_list("mozilla");
  EXPECT_THAT(Check(BuildSingle(body, foreign.ChainDer(), foreign.leaf.key.get())).refusal,
              IsRefusal(v1::UNKNOWN_TRUST_LIST, HasSubstr("'mozilla'")));
}

TEST_P(VouchingRequestTest, OrderExpiredLeafOfAnotherRootIsUntrusted) {
  const TestPki& foreign = fixtures_->foreign_pki;
  LeafOptions expired;
  expired.not_before = FixtureNow() - absl::Hours(24 * 30);
  expired.not_after = FixtureNow() - absl::Hours(1);
  auto leaf = foreign.IssueLeaf(kHost, expired);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_THAT(Check(BuildSingle(MakeBody(), {leaf->der, foreign.intermediate.der}, leaf->key.get()))
                  .refusal,
              IsRefusal(v1::UNTRUSTED_CHAIN, HasSubstr("unable to get local issuer certificate")));
}

// ---------------------------------------------------------------------------------------------
// Rollover, MECAI proposal: four signatures, or one signature and a same-key next certificate.

// Which of the four rollover signatures to corrupt.
enum class Corrupt { kNone, kOldInner, kNewInner, kOldOuter, kNewOuter };

// Assembles a rollover VR from its parts, as BuildRolloverVouchingRequest does, with separate
// bodies for the two halves, explicit wrapping keys and one signature optionally corrupted
// (an inner signature is corrupted before wrapping, so the wrapper stays valid over it).
std::string AssembleRollover(const v1::VouchingRequestBody& old_body,
                             const std::vector<std::string>& old_chain, EVP_PKEY* old_key,
                             const v1::VouchingRequestBody& new_body,
                             const std::vector<std::string>& new_chain, EVP_PKEY* new_key,
                             Corrupt corrupt, EVP_PKEY* old_wrapper_key = nullptr,
                             EVP_PKEY* new_wrapper_key = nullptr) {
  auto sign = [](EVP_PKEY* key, SignedObject kind, const std::string& data, bool corrupted) {
    auto signature = SignBytes(key, AlgorithmForKey(key).value(), SignedMessage(kind, data));
    EXPECT_TRUE(signature.ok()) << signature.status();
    v1::Signature result = signature.ok() ? *signature : v1::Signature();
    if (corrupted) result.set_value(FlipLastByte(result.value()));
    return result;
  };
  auto inner = [&](v1::VouchingRequestBody body, const std::vector<std::string>& chain,
                   EVP_PKEY* key, bool corrupted) {
    body.clear_certificate_chain_der();
    for (const std::string& der : chain) *body.add_certificate_chain_der() = der;
    v1::SignedVouchingRequest signed_request;
    signed_request.set_tbs(body.SerializeAsString());
    *signed_request.mutable_signature() =
        sign(key, SignedObject::kVouchingRequestBody, signed_request.tbs(), corrupted);
    return signed_request.SerializeAsString();
  };
  v1::VouchingRequest request;
  v1::WrappedVouchingRequest* old_half = request.mutable_rollover()->mutable_old_certificate();
  v1::WrappedVouchingRequest* new_half = request.mutable_rollover()->mutable_new_certificate();
  old_half->set_inner(inner(old_body, old_chain, old_key, corrupt == Corrupt::kOldInner));
  new_half->set_inner(inner(new_body, new_chain, new_key, corrupt == Corrupt::kNewInner));
  *old_half->mutable_outer_signature() =
      sign(old_wrapper_key ? old_wrapper_key : new_key, SignedObject::kVouchingRequestRolloverWrap,
           old_half->inner(), corrupt == Corrupt::kOldOuter);
  *new_half->mutable_outer_signature() =
      sign(new_wrapper_key ? new_wrapper_key : old_key, SignedObject::kVouchingRequestRolloverWrap,
           new_half->inner(), corrupt == Corrupt::kNewOuter);
  return request.SerializeAsString();
}

class RolloverTest : public VouchingRequestTest {
 protected:
  const IssuedCertificate& next() const { return fixtures_->next; }
  std::vector<std::string> NextChain() const { return {next().der, pki().intermediate.der}; }

  std::string Rollover(const v1::VouchingRequestBody& body) const {
    auto old_signer = SignerFor(leaf_key());
    auto new_signer = SignerFor(next().key.get());
    EXPECT_TRUE(old_signer.ok() && new_signer.ok());
    if (!old_signer.ok() || !new_signer.ok()) return "";
    auto request = BuildRolloverVouchingRequest(body, pki().ChainDer(), **old_signer, NextChain(),
                                                **new_signer);
    EXPECT_TRUE(request.ok()) << request.status();
    return request.ok() ? *request : "";
  }

  std::string Assemble(Corrupt corrupt) const {
    return AssembleRollover(MakeBody(), pki().ChainDer(), leaf_key(), MakeBody(), NextChain(),
                            next().key.get(), corrupt);
  }

  // A single-form VR signed by the fixture leaf carrying `next_chain` as the same-key chain.
  std::string SameKey(const std::vector<std::string>& next_chain) const {
    v1::VouchingRequestBody body = MakeBody();
    for (const std::string& der : next_chain) *body.add_same_key_next_certificate_chain_der() = der;
    return Single(body);
  }
};

INSTANTIATE_TEST_SUITE_P(KeyTypes, RolloverTest,
                         ::testing::Values(KeyType::kEcP256, KeyType::kRsa2048),
                         [](const ::testing::TestParamInfo<KeyType>& info) {
                           return test_pki::KeyTypeName(info.param);
                         });

TEST_P(RolloverTest, AcceptsFourValidSignaturesWithBothLeavesOldFirst) {
  const std::string serialized = Rollover(MakeBody());
  VouchingRequestCheck check = Check(serialized);
  EXPECT_THAT(check.refusal, IsNotRefused());
  EXPECT_THAT(check.request.leaf_sha256, ElementsAre(Sha256(pki().leaf.der), Sha256(next().der)));
  ASSERT_EQ(check.request.chains.size(), 2u);
  EXPECT_EQ(CertificateToDer(check.request.chains[0][0].get()), pki().leaf.der);
  EXPECT_EQ(CertificateToDer(check.request.chains[1][0].get()), next().der);
  EXPECT_THAT(check.request.body.certificate_chain_der(),
              ElementsAre(pki().leaf.der, pki().intermediate.der));
  EXPECT_EQ(check.request.request_sha256, Sha256(serialized));
}

TEST_P(RolloverTest, AcceptsARolloverBetweenKeyTypes) {
  // Old certificate on this suite's key type, new one on the other type.
  const KeyType other = GetParam() == KeyType::kEcP256 ? KeyType::kRsa2048 : KeyType::kEcP256;
  auto new_key = test_pki::GenerateKey(other);
  ASSERT_TRUE(new_key.ok()) << new_key.status();
  auto new_leaf = pki().IssueLeaf(kHost, LeafOptions(), new_key->get());
  ASSERT_TRUE(new_leaf.ok()) << new_leaf.status();
  const std::string serialized = AssembleRollover(
      MakeBody(), pki().ChainDer(), leaf_key(), MakeBody(), {new_leaf->der, pki().intermediate.der},
      new_leaf->key.get(), Corrupt::kNone);
  VouchingRequestCheck check = Check(serialized);
  EXPECT_THAT(check.refusal, IsNotRefused());
  EXPECT_THAT(check.request.leaf_sha256,
              ElementsAre(Sha256(pki().leaf.der), Sha256(new_leaf->der)));
  // Each certificate with its own key type; the agents ask every address for both (ascending).
  ASSERT_EQ(check.request.vouched.size(), 2u);
  const v1::CertificateKeyType old_type =
      GetParam() == KeyType::kEcP256 ? v1::KEY_TYPE_EC_P256 : v1::KEY_TYPE_RSA;
  const v1::CertificateKeyType new_type =
      GetParam() == KeyType::kEcP256 ? v1::KEY_TYPE_RSA : v1::KEY_TYPE_EC_P256;
  EXPECT_EQ(check.request.vouched[0].sha256, Sha256(pki().leaf.der));
  EXPECT_EQ(check.request.vouched[0].key_type, old_type);
  EXPECT_EQ(check.request.vouched[1].sha256, Sha256(new_leaf->der));
  EXPECT_EQ(check.request.vouched[1].key_type, new_type);
  EXPECT_THAT(ProbeKeyTypes(check.request), ElementsAre(v1::KEY_TYPE_EC_P256, v1::KEY_TYPE_RSA));
}

TEST_P(RolloverTest, ARolloverWithinOneKeyTypeIsProbedWithThatKeyTypeOnce) {
  VouchingRequestCheck check = Check(Rollover(MakeBody()));
  ASSERT_THAT(check.refusal, IsNotRefused());
  const v1::CertificateKeyType key_type =
      GetParam() == KeyType::kEcP256 ? v1::KEY_TYPE_EC_P256 : v1::KEY_TYPE_RSA;
  ASSERT_EQ(check.request.vouched.size(), 2u);
  EXPECT_EQ(check.request.vouched[1].key_type, key_type);
  EXPECT_THAT(ProbeKeyTypes(check.request), ElementsAre(key_type));
}

TEST_P(RolloverTest, RefusesARolloverToAKeyNoAgentCanAskFor) {
  EvpPkeyPtr p521(EVP_EC_gen("P-521"));
  ASSERT_NE(p521, nullptr);
  auto new_leaf = pki().IssueLeaf(kHost, LeafOptions(), p521.get());
  ASSERT_TRUE(new_leaf.ok()) << new_leaf.status();
  // Signed with the next key in place of the P-521 one, which this code cannot sign with: the key
  // type is refused before any signature is checked.
  const std::string serialized =
      AssembleRollover(MakeBody(), pki().ChainDer(), leaf_key(), MakeBody(),
                       {new_leaf->der, pki().intermediate.der}, next().key.get(), Corrupt::kNone);
  EXPECT_THAT(Check(serialized).refusal,
              IsRefusal(v1::UNSUPPORTED_KEY_TYPE,
                        StartsWith("new-certificate VR: the certificate has an ECDSA key on "
                                   "secp521r1")));
}

TEST_P(RolloverTest, AssembledRolloverWithoutCorruptionIsAccepted) {
  // Guards the corruption tests below: their only defect is the one they introduce.
  EXPECT_THAT(Check(Assemble(Corrupt::kNone)).refusal, IsNotRefused());
}

TEST_P(RolloverTest, RefusesASameKeyChainInsideARollover) {
  v1::VouchingRequestBody body = MakeBody();
  body.add_same_key_next_certificate_chain_der(next().der);
  EXPECT_THAT(Check(Rollover(body)).refusal,
              IsRefusal(v1::ROLLOVER_MISMATCH, HasSubstr("carries no same-key next certificate")));
}

TEST_P(RolloverTest, RefusesAWrapSignedAsABody) {
  // Each rollover signature names its role: a body signature does not serve as the wrap.
  std::string wrapped_as_body =
      AssembleRollover(MakeBody(), pki().ChainDer(), leaf_key(), MakeBody(), NextChain(),
                       next().key.get(), Corrupt::kNone);
  v1::VouchingRequest request = Parse(wrapped_as_body);
  auto signer = SignerFor(next().key.get());
  ASSERT_TRUE(signer.ok());
  auto body_signature = SignObject(**signer, SignedObject::kVouchingRequestBody,
                                   request.rollover().old_certificate().inner());
  ASSERT_TRUE(body_signature.ok());
  *request.mutable_rollover()->mutable_old_certificate()->mutable_outer_signature() =
      *body_signature;
  EXPECT_THAT(Check(request.SerializeAsString()).refusal,
              IsRefusal(v1::BAD_SIGNATURE, HasSubstr("not wrapped in a valid signature")));
}

TEST_P(RolloverTest, RefusesABrokenOldInnerSignature) {
  EXPECT_THAT(Check(Assemble(Corrupt::kOldInner)).refusal,
              IsRefusal(v1::BAD_SIGNATURE,
                        "the old-certificate VR is not signed by the old certificate's key"));
}

TEST_P(RolloverTest, RefusesABrokenNewInnerSignature) {
  EXPECT_THAT(Check(Assemble(Corrupt::kNewInner)).refusal,
              IsRefusal(v1::BAD_SIGNATURE,
                        "the new-certificate VR is not signed by the new certificate's key"));
}

TEST_P(RolloverTest, RefusesABrokenOuterSignatureOnTheOldHalf) {
  EXPECT_THAT(Check(Assemble(Corrupt::kOldOuter)).refusal,
              IsRefusal(v1::BAD_SIGNATURE,
                        "the old-certificate VR is not wrapped in a valid signature by the new "
                        "key"));
}

TEST_P(RolloverTest, RefusesABrokenOuterSignatureOnTheNewHalf) {
  EXPECT_THAT(Check(Assemble(Corrupt::kNewOuter)).refusal,
              IsRefusal(v1::BAD_SIGNATURE,
                        "the new-certificate VR is not wrapped in a valid signature by the old "
                        "key"));
}

TEST_P(RolloverTest, RefusesHalvesWrappedByTheirOwnKeys) {
  // Each half wrapped by its own key proves possession of nothing new.
  const std::string serialized =
      AssembleRollover(MakeBody(), pki().ChainDer(), leaf_key(), MakeBody(), NextChain(),
                       next().key.get(), Corrupt::kNone, /*old_wrapper_key=*/leaf_key(),
                       /*new_wrapper_key=*/next().key.get());
  EXPECT_THAT(Check(serialized).refusal,
              IsRefusal(v1::BAD_SIGNATURE, HasSubstr("not wrapped in a valid signature")));
}

TEST_P(RolloverTest, RefusesHalvesThatDifferInPort) {
  v1::VouchingRequestBody other_port = MakeBody();
  other_port.set_port(8443);
  const std::string serialized =
      AssembleRollover(MakeBody(), pki().ChainDer(), leaf_key(), other_port, NextChain(),
                       next().key.get(), Corrupt::kNone);
  EXPECT_THAT(Check(serialized).refusal,
              IsRefusal(v1::ROLLOVER_MISMATCH,
                        "the two VRs of the rollover differ in more than certificate and "
                        "signature"));
}

TEST_P(RolloverTest, RefusesHalvesThatDifferInAnyOtherField) {
  std::vector<v1::VouchingRequestBody> variants(4, MakeBody());
  variants[0].set_hostname("mail.example.test");
  variants[1].set_trust_list("other-roots");
  variants[2].set_timestamp_unix_seconds(variants[2].timestamp_unix_seconds() + 1);
  variants[3].set_nonce("another nonce");
  for (const v1::VouchingRequestBody& variant : variants) {
    SCOPED_TRACE(variant.ShortDebugString());
    EXPECT_THAT(Check(AssembleRollover(MakeBody(), pki().ChainDer(), leaf_key(), variant,
                                       NextChain(), next().key.get(), Corrupt::kNone))
                    .refusal,
                IsRefusal(v1::ROLLOVER_MISMATCH, HasSubstr("differ")));
  }
}

TEST_P(RolloverTest, RefusesTheSameCertificateTwice) {
  auto signer = SignerFor(leaf_key());
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto request = BuildRolloverVouchingRequest(MakeBody(), pki().ChainDer(), **signer,
                                              pki().ChainDer(), **signer);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_THAT(Check(*request).refusal,
              IsRefusal(v1::ROLLOVER_MISMATCH, "both certificates of the rollover are the same"));
}

TEST_P(RolloverTest, StaleRolloverIsRefused) {
  EXPECT_THAT(Check(Rollover(MakeBody(FixtureNow() - absl::Seconds(301)))).refusal,
              IsRefusal(v1::STALE_TIMESTAMP, HasSubstr("5m1s")));
}

TEST_P(RolloverTest, RefusesANewCertificateForAnotherHostname) {
  LeafOptions other_name;
  other_name.dns_names = {"mail.example.test"};
  auto new_leaf = pki().IssueLeaf(kHost, other_name);
  ASSERT_TRUE(new_leaf.ok()) << new_leaf.status();
  EXPECT_THAT(Check(AssembleRollover(MakeBody(), pki().ChainDer(), leaf_key(), MakeBody(),
                                     {new_leaf->der, pki().intermediate.der}, new_leaf->key.get(),
                                     Corrupt::kNone))
                  .refusal,
              IsRefusal(v1::HOSTNAME_MISMATCH,
                        "certificate 2 of 2 is not valid for www.example.test (RFC 6125)"));
}

TEST_P(RolloverTest, RefusesANewCertificateOfAnotherRoot) {
  const TestPki& foreign = fixtures_->foreign_pki;
  EXPECT_THAT(Check(AssembleRollover(MakeBody(), pki().ChainDer(), leaf_key(), MakeBody(),
                                     foreign.ChainDer(), foreign.leaf.key.get(), Corrupt::kNone))
                  .refusal,
              IsRefusal(v1::UNTRUSTED_CHAIN, HasSubstr("trust list 'test-roots'")));
}

TEST_P(RolloverTest, RefusesAWrappedHalfThatIsNotASignedRequest) {
  v1::VouchingRequest request = Parse(Assemble(Corrupt::kNone));
  request.mutable_rollover()->mutable_new_certificate()->set_inner(std::string(kTruncatedMessage));
  EXPECT_THAT(Check(request.SerializeAsString()).refusal,
              IsRefusal(v1::MALFORMED_REQUEST, "a wrapped VR is not a SignedVouchingRequest"));
}

TEST_P(RolloverTest, AcceptsTheSameKeyFormWithASecondCertificateOnTheSameKey) {
  auto same_key_leaf = pki().IssueLeaf(kHost, LeafOptions(), leaf_key());
  ASSERT_TRUE(same_key_leaf.ok()) << same_key_leaf.status();
  ASSERT_NE(same_key_leaf->der, pki().leaf.der);
  VouchingRequestCheck check = Check(SameKey({same_key_leaf->der, pki().intermediate.der}));
  EXPECT_THAT(check.refusal, IsNotRefused());
  EXPECT_THAT(check.request.leaf_sha256,
              ElementsAre(Sha256(pki().leaf.der), Sha256(same_key_leaf->der)));
  ASSERT_EQ(check.request.chains.size(), 2u);
  EXPECT_EQ(check.request.chains[1].size(), 2u);
  EXPECT_EQ(CertificateToDer(check.request.chains[1][0].get()), same_key_leaf->der);
}

TEST_P(RolloverTest, RefusesTheSameKeyFormWithACertificateOnAnotherKey) {
  EXPECT_THAT(Check(SameKey(NextChain())).refusal,
              IsRefusal(v1::BAD_SIGNATURE,
                        HasSubstr("the next certificate does not carry the key that signed the "
                                  "VR")));
}

TEST_P(RolloverTest, RefusesTheSameKeyFormRepeatingTheSameCertificate) {
  EXPECT_THAT(Check(SameKey(pki().ChainDer())).refusal,
              IsRefusal(v1::ROLLOVER_MISMATCH, "both certificates of the rollover are the same"));
}

TEST_P(RolloverTest, RefusesTheSameKeyFormWithABadOrOverlongNextChain) {
  EXPECT_THAT(Check(SameKey({"not DER"})).refusal,
              IsRefusal(v1::MALFORMED_REQUEST, HasSubstr("next certificate chain: ")));
  auto same_key_leaf = pki().IssueLeaf(kHost, LeafOptions(), leaf_key());
  ASSERT_TRUE(same_key_leaf.ok()) << same_key_leaf.status();
  std::vector<std::string> long_chain = {same_key_leaf->der};
  for (int i = 0; i < 10; ++i) long_chain.push_back(pki().intermediate.der);
  EXPECT_THAT(Check(SameKey(long_chain)).refusal,
              IsRefusal(v1::REQUEST_TOO_LARGE, "the next certificate chain is too long"));
}

TEST_P(RolloverTest, RefusesASameKeyNextCertificateForAnotherHostname) {
  LeafOptions other_name;
  other_name.dns_names = {"mail.example.test"};
  auto same_key_leaf = pki().IssueLeaf(kHost, other_name, leaf_key());
  ASSERT_TRUE(same_key_leaf.ok()) << same_key_leaf.status();
  EXPECT_THAT(Check(SameKey({same_key_leaf->der, pki().intermediate.der})).refusal,
              IsRefusal(v1::HOSTNAME_MISMATCH, HasSubstr("certificate 2 of 2")));
}

}  // namespace
}  // namespace mecai
