#include "common/revocation.h"

#include <openssl/ocsp.h>

#include <ostream>
#include <string>
#include <vector>

#include "common/hashing.h"
#include "common/pki_builder.h"
#include "common/testing/test_pki.h"
#include "common/testing/test_revocation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using test_revocation::CrlSpec;
using test_revocation::IssuedCertificate;
using test_revocation::OcspCertStatus;
using test_revocation::OcspResponseSpec;
using test_revocation::RevocationPki;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kCrlUrl[] = "http://crl.example.test/shard-1.crl";
constexpr char kOcspUrl[] = "http://ocsp.example.test/";

}  // namespace

void PrintTo(const RevocationVerdict& verdict, std::ostream* out) {
  static const char* const kNames[] = {"kGood", "kRevoked", "kUnusable"};
  *out << kNames[static_cast<int>(verdict.status)] << " (" << verdict.detail << ")";
}

namespace {

MATCHER_P2(IsVerdict, status, detail_matcher, "") {
  if (arg.status != status) {
    *result_listener << "whose status is " << static_cast<int>(arg.status) << " (" << arg.detail
                     << ")";
    return false;
  }
  return ::testing::ExplainMatchResult(detail_matcher, arg.detail, result_listener);
}

class RevocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    now_ = test_pki::FixtureNow();
    absl::StatusOr<RevocationPki> pki = test_revocation::BuildRevocationPki(now_);
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::move(*pki);
    absl::StatusOr<IssuedCertificate> leaf = pki_.IssueLeaf("www.example.test", kCrlUrl, kOcspUrl);
    ASSERT_TRUE(leaf.ok()) << leaf.status();
    leaf_ = std::move(*leaf);
  }

  X509* leaf() { return leaf_.certificate.get(); }
  X509* ca() { return pki_.ca.certificate.get(); }

  CrlSpec ValidCrl() {
    CrlSpec spec;
    spec.this_update = now_ - absl::Hours(1);
    spec.next_update = now_ + absl::Hours(23);
    return spec;
  }

  std::string Crl(const CrlSpec& spec) {
    absl::StatusOr<std::string> der = test_revocation::MakeCrlDer(spec, ca(), pki_.ca.key.get());
    EXPECT_TRUE(der.ok()) << der.status();
    return der.ok() ? *der : "";
  }

  OcspResponseSpec GoodOcsp() {
    OcspResponseSpec spec;
    spec.certificate = leaf();
    spec.issuer = ca();
    spec.signer = ca();
    spec.signer_key = pki_.ca.key.get();
    spec.this_update = now_ - absl::Minutes(10);
    spec.next_update = now_ + absl::Hours(4);
    return spec;
  }

  std::string Ocsp(const OcspResponseSpec& spec) {
    absl::StatusOr<std::string> der = test_revocation::MakeOcspResponseDer(spec);
    EXPECT_TRUE(der.ok()) << der.status();
    return der.ok() ? *der : "";
  }

  absl::Time now_;
  RevocationPki pki_;
  IssuedCertificate leaf_;
};

// --- Distribution points and requests --------------------------------------------------------

TEST_F(RevocationTest, ReadsDistributionPointAndResponderUrls) {
  EXPECT_THAT(CrlDistributionPointUrls(leaf()), ElementsAre(kCrlUrl));
  EXPECT_THAT(OcspResponderUrls(leaf()), ElementsAre(kOcspUrl));
}

TEST_F(RevocationTest, IgnoresNonHttpUrls) {
  absl::StatusOr<IssuedCertificate> leaf =
      pki_.IssueLeaf("ldap.example.test", "ldap://ldap.example.test/cn=crl", "");
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_THAT(CrlDistributionPointUrls(leaf->certificate.get()), IsEmpty());
  EXPECT_THAT(OcspResponderUrls(leaf->certificate.get()), IsEmpty());
  EXPECT_THAT(CrlDistributionPointUrls(ca()), IsEmpty());
}

TEST_F(RevocationTest, BuildsOcspRequestWithCertIdAndNonce) {
  const std::string nonce = "0123456789abcdef";
  absl::StatusOr<std::string> der = BuildOcspRequest(leaf(), ca(), nonce);
  ASSERT_TRUE(der.ok()) << der.status();
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der->data());
  OCSP_REQUEST* request = d2i_OCSP_REQUEST(nullptr, &cursor, static_cast<long>(der->size()));
  ASSERT_NE(request, nullptr);
  EXPECT_EQ(OCSP_request_onereq_count(request), 1);
  EXPECT_GE(OCSP_REQUEST_get_ext_by_NID(request, NID_id_pkix_OCSP_Nonce, -1), 0);
  OCSP_REQUEST_free(request);
}

// --- CRLs (RFC 5280 §6.3) --------------------------------------------------------------------

TEST_F(RevocationTest, CrlWithoutTheSerialIsGood) {
  RevocationVerdict verdict = CheckCrl(Crl(ValidCrl()), leaf(), ca(), now_);
  EXPECT_THAT(verdict, IsVerdict(RevocationStatus::kGood, HasSubstr("does not list")));
  EXPECT_EQ(verdict.this_update, now_ - absl::Hours(1));
  EXPECT_EQ(verdict.next_update, now_ + absl::Hours(23));
}

TEST_F(RevocationTest, CrlListingTheSerialIsRevokedWithDateAndReason) {
  CrlSpec spec = ValidCrl();
  absl::StatusOr<IssuedCertificate> other = pki_.IssueLeaf("other.example.test", kCrlUrl, "");
  ASSERT_TRUE(other.ok());
  spec.revoked.push_back({other->certificate.get(), now_ - absl::Hours(50), -1});
  spec.revoked.push_back({leaf(), now_ - absl::Hours(48), OCSP_REVOKED_STATUS_KEYCOMPROMISE});
  RevocationVerdict verdict = CheckCrl(Crl(spec), leaf(), ca(), now_);
  EXPECT_THAT(
      verdict,
      IsVerdict(RevocationStatus::kRevoked,
                AllOf(HasSubstr("revoked at " + FormatRevocationTime(now_ - absl::Hours(48))),
                      HasSubstr("keyCompromise"))));
  EXPECT_EQ(verdict.revocation_time, now_ - absl::Hours(48));
}

TEST_F(RevocationTest, AcceptsPemCrl) {
  CrlSpec spec = ValidCrl();
  spec.revoked.push_back({leaf(), now_ - absl::Hours(2), -1});
  absl::StatusOr<std::string> pem = test_revocation::CrlDerToPem(Crl(spec));
  ASSERT_TRUE(pem.ok()) << pem.status();
  EXPECT_THAT(CheckCrl(*pem, leaf(), ca(), now_),
              IsVerdict(RevocationStatus::kRevoked, HasSubstr("revoked at")));
}

TEST_F(RevocationTest, LargeCrlIsSearchedBySerial) {
  std::vector<IssuedCertificate> others;
  CrlSpec spec = ValidCrl();
  for (int i = 0; i < 200; ++i) {
    absl::StatusOr<IssuedCertificate> other = pki_.IssueLeaf("bulk.example.test", kCrlUrl, "");
    ASSERT_TRUE(other.ok());
    others.push_back(std::move(*other));
    spec.revoked.push_back({others.back().certificate.get(), now_ - absl::Hours(3), -1});
  }
  const std::string der = Crl(spec);
  EXPECT_THAT(CheckCrl(der, leaf(), ca(), now_),
              IsVerdict(RevocationStatus::kGood, HasSubstr("does not list")));
  EXPECT_THAT(CheckCrl(der, others[137].certificate.get(), ca(), now_),
              IsVerdict(RevocationStatus::kRevoked, HasSubstr("revoked at")));
}

TEST_F(RevocationTest, ExpiredCrlIsUnusable) {
  CrlSpec spec = ValidCrl();
  spec.this_update = now_ - absl::Hours(48);
  spec.next_update = now_ - absl::Hours(24);
  EXPECT_THAT(CheckCrl(Crl(spec), leaf(), ca(), now_),
              IsVerdict(RevocationStatus::kUnusable,
                        "the CRL expired at " + FormatRevocationTime(now_ - absl::Hours(24))));
}

TEST_F(RevocationTest, CrlExpiresExactlyAtNextUpdate) {
  const std::string der = Crl(ValidCrl());
  EXPECT_EQ(CheckCrl(der, leaf(), ca(), now_ + absl::Hours(23) - absl::Seconds(1)).status,
            RevocationStatus::kGood);
  EXPECT_THAT(CheckCrl(der, leaf(), ca(), now_ + absl::Hours(23)),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("the CRL expired at")));
}

TEST_F(RevocationTest, CrlFromTheFutureIsUnusable) {
  EXPECT_THAT(CheckCrl(Crl(ValidCrl()), leaf(), ca(), now_ - absl::Hours(2)),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("is in the future")));
}

TEST_F(RevocationTest, CrlWithoutNextUpdateIsUnusable) {
  CrlSpec spec = ValidCrl();
  spec.next_update = absl::InfinitePast();
  EXPECT_THAT(CheckCrl(Crl(spec), leaf(), ca(), now_),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("no nextUpdate")));
}

TEST_F(RevocationTest, CrlSignedByAnotherKeyIsUnusable) {
  absl::StatusOr<EvpPkeyPtr> impostor = GenerateEcKey();
  ASSERT_TRUE(impostor.ok());
  absl::StatusOr<std::string> der = test_revocation::MakeCrlDer(ValidCrl(), ca(), impostor->get());
  ASSERT_TRUE(der.ok()) << der.status();
  EXPECT_THAT(CheckCrl(*der, leaf(), ca(), now_),
              IsVerdict(RevocationStatus::kUnusable,
                        "the CRL's signature does not verify with the issuer's key"));
}

TEST_F(RevocationTest, CrlOfAnotherIssuerIsUnusable) {
  absl::StatusOr<RevocationPki> other_pki = test_revocation::BuildRevocationPki(now_);
  ASSERT_TRUE(other_pki.ok());
  absl::StatusOr<std::string> der = test_revocation::MakeCrlDer(
      ValidCrl(), other_pki->ca.certificate.get(), other_pki->ca.key.get());
  ASSERT_TRUE(der.ok());
  EXPECT_THAT(CheckCrl(*der, leaf(), ca(), now_),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("issued by another CA")));
}

TEST_F(RevocationTest, CrlShardForTheCertificatesDistributionPointIsUsed) {
  CrlSpec spec = ValidCrl();
  spec.issuing_distribution_point_url = kCrlUrl;
  spec.revoked.push_back({leaf(), now_ - absl::Hours(5), -1});
  EXPECT_THAT(CheckCrl(Crl(spec), leaf(), ca(), now_),
              IsVerdict(RevocationStatus::kRevoked, HasSubstr("revoked at")));
}

TEST_F(RevocationTest, CrlShardForAnotherDistributionPointIsUnusable) {
  CrlSpec spec = ValidCrl();
  spec.issuing_distribution_point_url = "http://crl.example.test/shard-2.crl";
  EXPECT_THAT(CheckCrl(Crl(spec), leaf(), ca(), now_),
              IsVerdict(RevocationStatus::kUnusable,
                        AllOf(HasSubstr("the CRL shard for http://crl.example.test/shard-2.crl"),
                              HasSubstr(kCrlUrl))));
}

TEST_F(RevocationTest, CrlOnlyForCaCertificatesDoesNotCoverALeaf) {
  CrlSpec spec = ValidCrl();
  spec.issuing_distribution_point_url = kCrlUrl;
  spec.only_ca_certificates = true;
  EXPECT_THAT(CheckCrl(Crl(spec), leaf(), ca(), now_),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("only CA certificates")));
}

TEST_F(RevocationTest, GarbageCrlIsUnusable) {
  EXPECT_THAT(CheckCrl("not a CRL", leaf(), ca(), now_),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("does not parse")));
  const std::string der = Crl(ValidCrl());
  EXPECT_THAT(CheckCrl(der + "x", leaf(), ca(), now_),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("trailing bytes")));
}

// --- OCSP (RFC 6960) -------------------------------------------------------------------------

TEST_F(RevocationTest, OcspGoodSignedByIssuer) {
  RevocationVerdict verdict = CheckOcspResponse(Ocsp(GoodOcsp()), leaf(), ca(), "", now_);
  EXPECT_THAT(verdict, IsVerdict(RevocationStatus::kGood, HasSubstr("says good")));
  EXPECT_EQ(verdict.next_update, now_ + absl::Hours(4));
}

TEST_F(RevocationTest, OcspRevoked) {
  OcspResponseSpec spec = GoodOcsp();
  spec.status = OcspCertStatus::kRevoked;
  spec.revoked_at = now_ - absl::Hours(24);
  RevocationVerdict verdict = CheckOcspResponse(Ocsp(spec), leaf(), ca(), "", now_);
  EXPECT_THAT(
      verdict,
      IsVerdict(RevocationStatus::kRevoked,
                AllOf(HasSubstr("revoked at " + FormatRevocationTime(now_ - absl::Hours(24))),
                      HasSubstr("keyCompromise"))));
  EXPECT_EQ(verdict.revocation_time, now_ - absl::Hours(24));
}

TEST_F(RevocationTest, OcspUnknownIsUnusable) {
  OcspResponseSpec spec = GoodOcsp();
  spec.status = OcspCertStatus::kUnknown;
  EXPECT_THAT(CheckOcspResponse(Ocsp(spec), leaf(), ca(), "", now_),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("status unknown")));
}

TEST_F(RevocationTest, OcspByDelegatedResponderWithOcspSigning) {
  absl::StatusOr<IssuedCertificate> responder = pki_.IssueResponder(true);
  ASSERT_TRUE(responder.ok()) << responder.status();
  OcspResponseSpec spec = GoodOcsp();
  spec.signer = responder->certificate.get();
  spec.signer_key = responder->key.get();
  EXPECT_THAT(CheckOcspResponse(Ocsp(spec), leaf(), ca(), "", now_),
              IsVerdict(RevocationStatus::kGood, HasSubstr("says good")));
}

TEST_F(RevocationTest, OcspByDelegatedResponderWithoutOcspSigningIsUnusable) {
  absl::StatusOr<IssuedCertificate> responder = pki_.IssueResponder(false);
  ASSERT_TRUE(responder.ok()) << responder.status();
  OcspResponseSpec spec = GoodOcsp();
  spec.signer = responder->certificate.get();
  spec.signer_key = responder->key.get();
  EXPECT_THAT(
      CheckOcspResponse(Ocsp(spec), leaf(), ca(), "", now_),
      IsVerdict(RevocationStatus::kUnusable, HasSubstr("does not carry id-kp-OCSPSigning")));
}

TEST_F(RevocationTest, OcspByResponderOfAnotherCaIsUnusable) {
  absl::StatusOr<RevocationPki> other_pki = test_revocation::BuildRevocationPki(now_);
  ASSERT_TRUE(other_pki.ok());
  absl::StatusOr<IssuedCertificate> responder = other_pki->IssueResponder(true);
  ASSERT_TRUE(responder.ok());
  OcspResponseSpec spec = GoodOcsp();
  spec.signer = responder->certificate.get();
  spec.signer_key = responder->key.get();
  EXPECT_THAT(
      CheckOcspResponse(Ocsp(spec), leaf(), ca(), "", now_),
      IsVerdict(RevocationStatus::kUnusable, HasSubstr("neither the certificate's issuer")));
}

TEST_F(RevocationTest, OcspWithoutTheResponderCertificateIsUnusable) {
  absl::StatusOr<IssuedCertificate> responder = pki_.IssueResponder(true);
  ASSERT_TRUE(responder.ok());
  OcspResponseSpec spec = GoodOcsp();
  spec.signer = responder->certificate.get();
  spec.signer_key = responder->key.get();
  spec.include_signer_certificate = false;
  EXPECT_THAT(CheckOcspResponse(Ocsp(spec), leaf(), ca(), "", now_),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("ResponderID matches neither")));
}

TEST_F(RevocationTest, OcspWithATamperedSignatureIsUnusable) {
  const std::string der = Ocsp(GoodOcsp());
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der.data());
  OcspResponsePtr response(d2i_OCSP_RESPONSE(nullptr, &cursor, static_cast<long>(der.size())));
  ASSERT_NE(response, nullptr);
  OcspBasicResponsePtr basic(OCSP_response_get1_basic(response.get()));
  ASSERT_NE(basic, nullptr);
  ASN1_OCTET_STRING* signature =
      const_cast<ASN1_OCTET_STRING*>(OCSP_resp_get0_signature(basic.get()));
  ASSERT_GT(ASN1_STRING_length(signature), 8);
  ASN1_STRING_data(signature)[ASN1_STRING_length(signature) - 2] ^= 0x01;
  OcspResponsePtr tampered(OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic.get()));
  ASSERT_NE(tampered, nullptr);
  unsigned char* tampered_der = nullptr;
  const int length = i2d_OCSP_RESPONSE(tampered.get(), &tampered_der);
  ASSERT_GT(length, 0);
  const std::string tampered_bytes(reinterpret_cast<char*>(tampered_der), length);
  OPENSSL_free(tampered_der);
  EXPECT_THAT(CheckOcspResponse(tampered_bytes, leaf(), ca(), "", now_),
              IsVerdict(RevocationStatus::kUnusable,
                        HasSubstr("the response signature or its signer does not verify")));
}

TEST_F(RevocationTest, OcspMatchingNonceIsAccepted) {
  OcspResponseSpec spec = GoodOcsp();
  spec.nonce = "0123456789abcdef";
  EXPECT_EQ(CheckOcspResponse(Ocsp(spec), leaf(), ca(), "0123456789abcdef", now_).status,
            RevocationStatus::kGood);
}

TEST_F(RevocationTest, OcspWrongNonceIsUnusable) {
  OcspResponseSpec spec = GoodOcsp();
  spec.nonce = "fedcba9876543210";
  EXPECT_THAT(CheckOcspResponse(Ocsp(spec), leaf(), ca(), "0123456789abcdef", now_),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("nonce differs")));
}

TEST_F(RevocationTest, OcspWithoutNonceIsAcceptedWhenOneWasSent) {
  EXPECT_EQ(CheckOcspResponse(Ocsp(GoodOcsp()), leaf(), ca(), "0123456789abcdef", now_).status,
            RevocationStatus::kGood);
}

TEST_F(RevocationTest, StaleOcspResponseIsUnusable) {
  OcspResponseSpec spec = GoodOcsp();
  spec.this_update = now_ - absl::Hours(10);
  spec.next_update = now_ - absl::Hours(1);
  EXPECT_THAT(
      CheckOcspResponse(Ocsp(spec), leaf(), ca(), "", now_),
      IsVerdict(RevocationStatus::kUnusable, "the OCSP response is stale: it expired at " +
                                                 FormatRevocationTime(now_ - absl::Hours(1))));
}

TEST_F(RevocationTest, OcspNextUpdateAllowsClockSkew) {
  OcspResponseSpec spec = GoodOcsp();
  spec.next_update = now_ - absl::Minutes(4);
  EXPECT_EQ(CheckOcspResponse(Ocsp(spec), leaf(), ca(), "", now_).status, RevocationStatus::kGood);
}

TEST_F(RevocationTest, OcspFromTheFutureIsUnusable) {
  OcspResponseSpec spec = GoodOcsp();
  spec.this_update = now_ + absl::Minutes(10);
  EXPECT_THAT(CheckOcspResponse(Ocsp(spec), leaf(), ca(), "", now_),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("is in the future")));
}

TEST_F(RevocationTest, OcspWithoutNextUpdateAgesOut) {
  OcspResponseSpec spec = GoodOcsp();
  spec.next_update = absl::InfinitePast();
  const std::string der = Ocsp(spec);
  EXPECT_EQ(CheckOcspResponse(der, leaf(), ca(), "", now_).status, RevocationStatus::kGood);
  EXPECT_THAT(CheckOcspResponse(der, leaf(), ca(), "", now_ + absl::Hours(2)),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("has no nextUpdate")));
}

TEST_F(RevocationTest, OcspAboutAnotherCertificateIsUnusable) {
  absl::StatusOr<IssuedCertificate> other = pki_.IssueLeaf("other.example.test", "", kOcspUrl);
  ASSERT_TRUE(other.ok());
  OcspResponseSpec spec = GoodOcsp();
  spec.certificate = other->certificate.get();
  EXPECT_THAT(CheckOcspResponse(Ocsp(spec), leaf(), ca(), "", now_),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("no status for this certificate")));
}

TEST_F(RevocationTest, OcspErrorResponseIsUnusable) {
  OcspResponseSpec spec = GoodOcsp();
  spec.response_status = OCSP_RESPONSE_STATUS_TRYLATER;
  EXPECT_THAT(CheckOcspResponse(Ocsp(spec), leaf(), ca(), "", now_),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("trylater")));
}

TEST_F(RevocationTest, GarbageOcspIsUnusable) {
  EXPECT_THAT(CheckOcspResponse("garbage", leaf(), ca(), "", now_),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("does not parse")));
}

// --- Evidence, as the signer re-checks it -----------------------------------------------------

TEST_F(RevocationTest, EvidenceIsReCheckedBySource) {
  v1::RevocationEvidence crl_evidence;
  crl_evidence.set_certificate_sha256(Sha256(leaf_.der));
  crl_evidence.set_source(v1::CRL);
  crl_evidence.set_response_der(Crl(ValidCrl()));
  EXPECT_EQ(VerifyRevocationEvidence(crl_evidence, leaf(), ca(), now_).status,
            RevocationStatus::kGood);
  EXPECT_THAT(VerifyRevocationEvidence(crl_evidence, leaf(), ca(), now_ + absl::Hours(48)),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("the CRL expired at")));

  v1::RevocationEvidence ocsp_evidence;
  ocsp_evidence.set_certificate_sha256(Sha256(leaf_.der));
  ocsp_evidence.set_source(v1::OCSP);
  OcspResponseSpec spec = GoodOcsp();
  spec.nonce = "a nonce the coordinator sent";
  ocsp_evidence.set_response_der(Ocsp(spec));
  EXPECT_EQ(VerifyRevocationEvidence(ocsp_evidence, leaf(), ca(), now_).status,
            RevocationStatus::kGood);

  // The same OCSP bytes labelled as a CRL say nothing.
  ocsp_evidence.set_source(v1::CRL);
  EXPECT_EQ(VerifyRevocationEvidence(ocsp_evidence, leaf(), ca(), now_).status,
            RevocationStatus::kUnusable);
}

TEST_F(RevocationTest, EvidenceAboutAnotherCertificateIsUnusable) {
  absl::StatusOr<IssuedCertificate> other = pki_.IssueLeaf("other.example.test", kCrlUrl, "");
  ASSERT_TRUE(other.ok());
  v1::RevocationEvidence evidence;
  evidence.set_certificate_sha256(Sha256(other->der));
  evidence.set_source(v1::CRL);
  evidence.set_response_der(Crl(ValidCrl()));
  EXPECT_THAT(VerifyRevocationEvidence(evidence, leaf(), ca(), now_),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("not this one")));
}

TEST_F(RevocationTest, EvidenceWithoutSourceIsUnusable) {
  v1::RevocationEvidence evidence;
  evidence.set_certificate_sha256(Sha256(leaf_.der));
  evidence.set_response_der(Crl(ValidCrl()));
  EXPECT_THAT(VerifyRevocationEvidence(evidence, leaf(), ca(), now_),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("names no source")));
}

}  // namespace
}  // namespace mecai
