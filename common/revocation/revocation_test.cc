#include "common/revocation/revocation.h"

#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/pki/pki_builder.h"
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

// A cache that verified a CRL when it stored it says so with the issuer's key; a CRL is then
// judged without verifying its signature again, for that key only.
TEST_F(RevocationTest, ACrlVerifiedBeforeWithTheIssuersKeyIsNotVerifiedAgain) {
  absl::StatusOr<EvpPkeyPtr> impostor = GenerateEcKey();
  ASSERT_TRUE(impostor.ok());
  absl::StatusOr<std::string> der = test_revocation::MakeCrlDer(ValidCrl(), ca(), impostor->get());
  ASSERT_TRUE(der.ok()) << der.status();
  absl::StatusOr<X509CrlPtr> crl = ParseCrl(*der);
  ASSERT_TRUE(crl.ok()) << crl.status();
  const std::string issuer_key = IssuerKeyDer(ca());
  ASSERT_FALSE(issuer_key.empty());
  // Told that the issuer's key verified it, the (here forged) signature is not checked again.
  EXPECT_EQ(CheckParsedCrl(crl->get(), leaf(), ca(), now_, issuer_key).status,
            RevocationStatus::kGood);
  // Any other key, or none, and the signature is verified: it does not verify.
  absl::StatusOr<RevocationPki> other_pki = test_revocation::BuildRevocationPki(now_);
  ASSERT_TRUE(other_pki.ok());
  for (const std::string& verified_with :
       {std::string(), IssuerKeyDer(other_pki->ca.certificate.get()), issuer_key.substr(1)}) {
    EXPECT_THAT(CheckParsedCrl(crl->get(), leaf(), ca(), now_, verified_with),
                IsVerdict(RevocationStatus::kUnusable,
                          "the CRL's signature does not verify with the issuer's key"));
  }
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

// A log record names its CRL by hash (RevocationEvidence.response_sha256); evidence sent for
// re-checking must carry the response itself, and a hash beside it must be that response's.
TEST_F(RevocationTest, EvidenceByHashAloneOrWithAnotherHashIsUnusable) {
  v1::RevocationEvidence evidence;
  evidence.set_certificate_sha256(Sha256(leaf_.der));
  evidence.set_source(v1::CRL);
  const std::string crl = Crl(ValidCrl());
  evidence.set_response_sha256(Sha256(crl));
  EXPECT_THAT(VerifyRevocationEvidence(evidence, leaf(), ca(), now_),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("only its hash")));
  evidence.set_response_der(crl);
  EXPECT_EQ(VerifyRevocationEvidence(evidence, leaf(), ca(), now_).status, RevocationStatus::kGood);
  evidence.set_response_sha256(Sha256("another CRL"));
  EXPECT_THAT(VerifyRevocationEvidence(evidence, leaf(), ca(), now_),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("not the SHA-256 of its response")));
}

TEST_F(RevocationTest, EvidenceWithoutSourceIsUnusable) {
  v1::RevocationEvidence evidence;
  evidence.set_certificate_sha256(Sha256(leaf_.der));
  evidence.set_response_der(Crl(ValidCrl()));
  EXPECT_THAT(VerifyRevocationEvidence(evidence, leaf(), ca(), now_),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("names no source")));
}

// --- The cRLSign key usage (RFC 5280 §4.2.1.3, §6.3.3 f) ---------------------------------------

TEST_F(RevocationTest, CrlOfAnIssuerWithoutCrlSignIsUnusable) {
  // An "issuer" whose keyUsage is digitalSignature only: it issues a certificate and signs an
  // otherwise valid CRL that does not list it. The signature verifies; the key may not sign CRLs.
  absl::StatusOr<IssuedCertificate> issuer = pki_.IssueResponder(false);
  ASSERT_TRUE(issuer.ok()) << issuer.status();
  ASSERT_EQ(X509_get_key_usage(issuer->certificate.get()) & KU_CRL_SIGN, 0u);
  CertificateSpec spec;
  spec.common_name = "issued-by-a-non-crl-signer.example.test";
  spec.dns_names = {"issued-by-a-non-crl-signer.example.test"};
  spec.not_before = now_ - absl::Hours(1);
  spec.not_after = now_ + absl::Hours(24);
  absl::StatusOr<EvpPkeyPtr> key = GenerateEcKey();
  ASSERT_TRUE(key.ok());
  absl::StatusOr<X509Ptr> certificate =
      IssueCertificate(spec, key->get(), issuer->certificate.get(), issuer->key.get());
  ASSERT_TRUE(certificate.ok()) << certificate.status();
  absl::StatusOr<std::string> crl =
      test_revocation::MakeCrlDer(ValidCrl(), issuer->certificate.get(), issuer->key.get());
  ASSERT_TRUE(crl.ok()) << crl.status();
  EXPECT_THAT(CheckCrl(*crl, certificate->get(), issuer->certificate.get(), now_),
              IsVerdict(RevocationStatus::kUnusable, HasSubstr("does not allow cRLSign")));
}

// --- One verdict per certificate (CombineRevocationVerdicts, JudgeRevocationEvidence) ----------

class RevocationJudgementTest : public RevocationTest {
 protected:
  v1::RevocationEvidence Evidence(X509* certificate, v1::RevocationSource source,
                                  const std::string& der) {
    v1::RevocationEvidence evidence;
    evidence.set_certificate_sha256(Sha256(CertificateToDer(certificate)));
    evidence.set_source(source);
    evidence.set_response_der(der);
    evidence.set_url(source == v1::CRL ? kCrlUrl : kOcspUrl);
    // What the coordinator says about when it fetched the evidence; never relied on.
    evidence.set_obtained_at_unix_seconds(absl::ToUnixSeconds(now_));
    return evidence;
  }

  v1::RevocationEvidence CrlEvidence(absl::Time this_update, bool revoked = false) {
    CrlSpec spec = ValidCrl();
    spec.this_update = this_update;
    spec.next_update = now_ + absl::Hours(24 * 5);
    if (revoked) spec.revoked.push_back({leaf(), this_update - absl::Minutes(5), -1});
    return Evidence(leaf(), v1::CRL, Crl(spec));
  }

  v1::RevocationEvidence OcspEvidence(absl::Time this_update) {
    OcspResponseSpec spec = GoodOcsp();
    spec.this_update = this_update;
    spec.next_update = now_ + absl::Hours(24 * 2);
    return Evidence(leaf(), v1::OCSP, Ocsp(spec));
  }

  RevocationJudgement Judge(std::vector<v1::RevocationEvidence> evidence,
                            RevocationLimits limits = RevocationLimits()) {
    google::protobuf::RepeatedPtrField<v1::RevocationEvidence> repeated(evidence.begin(),
                                                                        evidence.end());
    return JudgeRevocationEvidence(repeated, leaf(), ca(), now_, limits);
  }
};

MATCHER_P2(IsJudgement, reason, explanation_matcher, "") {
  if (arg.reason != reason) {
    *result_listener << "whose reason is " << v1::RefusalReason_Name(arg.reason) << " ("
                     << arg.explanation << ")";
    return false;
  }
  return ::testing::ExplainMatchResult(explanation_matcher, arg.explanation, result_listener);
}

TEST_F(RevocationJudgementTest, FreshGoodEvidenceOfBothNamedSourcesIsGood) {
  RevocationJudgement judgement =
      Judge({CrlEvidence(now_ - absl::Hours(3)), OcspEvidence(now_ - absl::Hours(2))});
  EXPECT_THAT(judgement, IsJudgement(v1::REFUSAL_REASON_UNSPECIFIED,
                                     AllOf(HasSubstr(std::string("CRL ") + kCrlUrl),
                                           HasSubstr(std::string("OCSP ") + kOcspUrl))));
  EXPECT_EQ(judgement.source, v1::CRL);
}

// The time is the CA's: the oldest, over the sources relied on, of each source's freshest good
// thisUpdate. The coordinator's obtained_at (now, in Evidence) plays no part.
TEST_F(RevocationJudgementTest, CaSignedTimeIsTheOldestOfEachSourcesFreshestThisUpdate) {
  RevocationJudgement judgement =
      Judge({CrlEvidence(now_ - absl::Hours(5)), CrlEvidence(now_ - absl::Hours(1)),
             OcspEvidence(now_ - absl::Hours(2))});
  ASSERT_TRUE(judgement.good()) << judgement.explanation;
  EXPECT_EQ(judgement.ca_signed_at, now_ - absl::Hours(2));
  judgement = Judge({CrlEvidence(now_ - absl::Hours(4)), OcspEvidence(now_ - absl::Minutes(10))});
  ASSERT_TRUE(judgement.good()) << judgement.explanation;
  EXPECT_EQ(judgement.ca_signed_at, now_ - absl::Hours(4));
}

TEST_F(RevocationJudgementTest, StaleButUnexpiredGoodCrlIsRefused) {
  // Valid for days more, but signed 25 hours ago: a revocation since then would not be in it.
  RevocationJudgement judgement =
      Judge({CrlEvidence(now_ - absl::Hours(25)), OcspEvidence(now_ - absl::Hours(1))});
  EXPECT_THAT(judgement,
              IsJudgement(v1::REVOCATION_UNKNOWN,
                          HasSubstr(std::string("CRL ") + kCrlUrl +
                                    ": too old to rely on: its thisUpdate " +
                                    FormatRevocationTime(now_ - absl::Hours(25)) +
                                    " is more than 24h before " + FormatRevocationTime(now_))));
  EXPECT_EQ(judgement.ca_signed_at, absl::InfinitePast());
  // Exactly at the bound it is still relied on.
  EXPECT_TRUE(
      Judge({CrlEvidence(now_ - absl::Hours(24)), OcspEvidence(now_ - absl::Hours(1))}).good());
}

TEST_F(RevocationJudgementTest, StaleButUnexpiredGoodOcspResponseIsRefused) {
  EXPECT_THAT(Judge({CrlEvidence(now_ - absl::Hours(1)), OcspEvidence(now_ - absl::Hours(30))}),
              IsJudgement(v1::REVOCATION_UNKNOWN,
                          HasSubstr(std::string("OCSP ") + kOcspUrl + ": too old to rely on")));
}

TEST_F(RevocationJudgementTest, TheBoundIsConfigurable) {
  RevocationLimits limits;
  limits.max_evidence_age = absl::Minutes(30);
  EXPECT_THAT(
      Judge({CrlEvidence(now_ - absl::Hours(1)), OcspEvidence(now_ - absl::Minutes(10))}, limits),
      IsJudgement(v1::REVOCATION_UNKNOWN, HasSubstr("is more than 30m before")));
  EXPECT_TRUE(
      Judge({CrlEvidence(now_ - absl::Minutes(20)), OcspEvidence(now_ - absl::Minutes(10))}, limits)
          .good());
}

// A good CRL too old to rely on beside a fresh one does not matter: what each source says is its
// freshest good answer.
TEST_F(RevocationJudgementTest, AnOldGoodCrlBesideAFreshOneIsHarmless) {
  RevocationJudgement judgement =
      Judge({CrlEvidence(now_ - absl::Hours(40)), CrlEvidence(now_ - absl::Hours(2)),
             OcspEvidence(now_ - absl::Hours(1))});
  ASSERT_TRUE(judgement.good()) << judgement.explanation;
  EXPECT_EQ(judgement.ca_signed_at, now_ - absl::Hours(2));
}

TEST_F(RevocationJudgementTest, OnlyOcspWhenTheCertificateAlsoNamesACrlIsRefused) {
  EXPECT_THAT(Judge({OcspEvidence(now_ - absl::Hours(1))}),
              IsJudgement(v1::REVOCATION_UNKNOWN,
                          HasSubstr(std::string("the certificate names the CRL distribution "
                                                "point ") +
                                    kCrlUrl + ", and no CRL was presented")));
  EXPECT_THAT(Judge({CrlEvidence(now_ - absl::Hours(1))}),
              IsJudgement(v1::REVOCATION_UNKNOWN,
                          HasSubstr(std::string("the certificate names the OCSP responder ") +
                                    kOcspUrl + ", and no OCSP response was presented")));
}

TEST_F(RevocationJudgementTest, WhenOnlyOneSourceIsNamedItSuffices) {
  absl::StatusOr<IssuedCertificate> crl_only = pki_.IssueLeaf("crl-only.example.test", kCrlUrl, "");
  ASSERT_TRUE(crl_only.ok());
  CrlSpec spec = ValidCrl();
  google::protobuf::RepeatedPtrField<v1::RevocationEvidence> evidence;
  *evidence.Add() = Evidence(crl_only->certificate.get(), v1::CRL, Crl(spec));
  RevocationJudgement judgement = JudgeRevocationEvidence(evidence, crl_only->certificate.get(),
                                                          ca(), now_, RevocationLimits());
  EXPECT_TRUE(judgement.good()) << judgement.explanation;
  EXPECT_EQ(judgement.source, v1::CRL);
  EXPECT_EQ(judgement.ca_signed_at, spec.this_update);

  absl::StatusOr<IssuedCertificate> ocsp_only =
      pki_.IssueLeaf("ocsp-only.example.test", "", kOcspUrl);
  ASSERT_TRUE(ocsp_only.ok());
  OcspResponseSpec ocsp = GoodOcsp();
  ocsp.certificate = ocsp_only->certificate.get();
  evidence.Clear();
  *evidence.Add() = Evidence(ocsp_only->certificate.get(), v1::OCSP, Ocsp(ocsp));
  judgement = JudgeRevocationEvidence(evidence, ocsp_only->certificate.get(), ca(), now_,
                                      RevocationLimits());
  EXPECT_TRUE(judgement.good()) << judgement.explanation;
  EXPECT_EQ(judgement.source, v1::OCSP);
  EXPECT_EQ(judgement.ca_signed_at, ocsp.this_update);
}

TEST_F(RevocationJudgementTest, RevokedAnywhereWinsAtAnyAge) {
  // An old good CRL and a newer one listing the certificate.
  EXPECT_THAT(Judge({CrlEvidence(now_ - absl::Hours(3)),
                     CrlEvidence(now_ - absl::Hours(1), /*revoked=*/true),
                     OcspEvidence(now_ - absl::Hours(1))}),
              IsJudgement(v1::CERTIFICATE_REVOKED,
                          HasSubstr(std::string("CRL ") + kCrlUrl + ": the CRL lists")));
  // A CRL listing it that is older than the bound still says revoked: a revocation is not undone
  // by a newer answer that leaves it out.
  RevocationJudgement judgement =
      Judge({CrlEvidence(now_ - absl::Hours(30), /*revoked=*/true),
             CrlEvidence(now_ - absl::Hours(1)), OcspEvidence(now_ - absl::Hours(1))});
  EXPECT_THAT(judgement, IsJudgement(v1::CERTIFICATE_REVOKED, HasSubstr("revoked at")));
  EXPECT_EQ(judgement.source, v1::CRL);
}

TEST_F(RevocationJudgementTest, NoEvidenceAtAllIsUnknown) {
  EXPECT_THAT(Judge({}), IsJudgement(v1::REVOCATION_UNKNOWN, HasSubstr("no CRL was presented")));
  absl::StatusOr<IssuedCertificate> no_urls = pki_.IssueLeaf("no-urls.example.test", "", "");
  ASSERT_TRUE(no_urls.ok());
  EXPECT_THAT(
      JudgeRevocationEvidence({}, no_urls->certificate.get(), ca(), now_, RevocationLimits()),
      IsJudgement(v1::REVOCATION_UNKNOWN, IsEmpty()));
}

TEST_F(RevocationJudgementTest, EveryVouchedCertificateIsJudgedAndTheOldestTimeIsKept) {
  absl::StatusOr<IssuedCertificate> next = pki_.IssueLeaf("www.example.test", kCrlUrl, kOcspUrl);
  ASSERT_TRUE(next.ok());
  std::vector<std::vector<X509Ptr>> paths(2);
  for (auto [path, certificate] :
       {std::pair{&paths[0], leaf()}, std::pair{&paths[1], next->certificate.get()}}) {
    X509_up_ref(certificate);
    path->emplace_back(certificate);
    X509_up_ref(ca());
    path->emplace_back(ca());
  }
  google::protobuf::RepeatedPtrField<v1::RevocationEvidence> evidence;
  *evidence.Add() = CrlEvidence(now_ - absl::Hours(1));
  *evidence.Add() = OcspEvidence(now_ - absl::Hours(1));
  RevocationJudgement judgement =
      JudgeRevocationOfEveryCertificate(evidence, paths, now_, RevocationLimits());
  // Nothing about the second certificate: unknown, naming it.
  EXPECT_THAT(judgement, IsJudgement(v1::REVOCATION_UNKNOWN,
                                     HasSubstr("no valid revocation evidence for certificate " +
                                               ShortHex(Sha256(next->der)))));

  CrlSpec spec = ValidCrl();
  spec.this_update = now_ - absl::Hours(6);
  *evidence.Add() = Evidence(next->certificate.get(), v1::CRL, Crl(spec));
  OcspResponseSpec ocsp = GoodOcsp();
  ocsp.certificate = next->certificate.get();
  *evidence.Add() = Evidence(next->certificate.get(), v1::OCSP, Ocsp(ocsp));
  judgement = JudgeRevocationOfEveryCertificate(evidence, paths, now_, RevocationLimits());
  EXPECT_TRUE(judgement.good()) << judgement.explanation;
  EXPECT_EQ(judgement.ca_signed_at, now_ - absl::Hours(6));

  // A path without an issuer cannot be checked.
  paths[1].pop_back();
  EXPECT_THAT(JudgeRevocationOfEveryCertificate(evidence, paths, now_, RevocationLimits()),
              IsJudgement(v1::REVOCATION_UNKNOWN, HasSubstr("has no issuer")));
}

}  // namespace
}  // namespace mecai
