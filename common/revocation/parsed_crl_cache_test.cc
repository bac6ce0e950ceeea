#include "common/revocation/parsed_crl_cache.h"

#include <openssl/ocsp.h>

#include <string>
#include <utility>

#include "common/crypto/hashing.h"
#include "common/pki/pki_builder.h"
#include "common/revocation/revocation.h"
#include "common/testing/test_pki.h"
#include "common/testing/test_revocation.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using test_revocation::CrlSpec;
using test_revocation::IssuedCertificate;
using test_revocation::RevocationPki;

constexpr char kCrlUrl[] = "http://crl.example.test/issuing.crl";
constexpr char kNotItsHash[] =
    "the revocation evidence's response_sha256 is not the SHA-256 of its response";
constexpr char kDoesNotVerify[] = "the CRL's signature does not verify with the issuer's key";

class ParsedCrlCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    now_ = test_pki::FixtureNow();
    absl::StatusOr<RevocationPki> pki = test_revocation::BuildRevocationPki(now_);
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::move(*pki);
    absl::StatusOr<IssuedCertificate> good = pki_.IssueLeaf("good.example.test", kCrlUrl, "");
    absl::StatusOr<IssuedCertificate> revoked = pki_.IssueLeaf("revoked.example.test", kCrlUrl, "");
    ASSERT_TRUE(good.ok() && revoked.ok());
    good_ = std::move(*good);
    revoked_ = std::move(*revoked);
    CrlSpec spec;
    spec.this_update = now_ - absl::Hours(1);
    spec.next_update = now_ + absl::Hours(23);
    spec.revoked.push_back(
        {revoked_.certificate.get(), now_ - absl::Hours(48), OCSP_REVOKED_STATUS_KEYCOMPROMISE});
    absl::StatusOr<std::string> der = test_revocation::MakeCrlDer(spec, ca(), pki_.ca.key.get());
    ASSERT_TRUE(der.ok()) << der.status();
    crl_ = std::move(*der);
  }

  X509* ca() { return pki_.ca.certificate.get(); }
  X509* good() { return good_.certificate.get(); }

  absl::Time now_;
  RevocationPki pki_;
  IssuedCertificate good_;
  IssuedCertificate revoked_;
  std::string crl_;
};

TEST_F(ParsedCrlCacheTest, GivesCheckCrlsVerdictsAndParsesEachCrlOnce) {
  ParsedCrlCache cache(1 << 20);
  for (int round = 0; round < 2; ++round) {
    RevocationVerdict fresh = CheckCrl(crl_, good(), ca(), now_);
    RevocationVerdict cached = cache.Check(Sha256(crl_), crl_, good(), ca(), now_);
    EXPECT_EQ(cached.status, RevocationStatus::kGood);
    EXPECT_EQ(cached.status, fresh.status);
    EXPECT_EQ(cached.detail, fresh.detail);
    EXPECT_EQ(cached.this_update, fresh.this_update);
    EXPECT_EQ(cached.next_update, fresh.next_update);

    RevocationVerdict revoked =
        cache.Check(Sha256(crl_), crl_, revoked_.certificate.get(), ca(), now_);
    EXPECT_EQ(revoked.status, RevocationStatus::kRevoked);
    EXPECT_EQ(revoked.revocation_time, now_ - absl::Hours(48));
    EXPECT_EQ(revoked.detail, CheckCrl(crl_, revoked_.certificate.get(), ca(), now_).detail);
    // After its nextUpdate the kept CRL says nothing, as a fresh parse would.
    EXPECT_EQ(cache.Check(Sha256(crl_), crl_, good(), ca(), now_ + absl::Hours(24)).status,
              RevocationStatus::kUnusable);
  }
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_GE(cache.held_memory_bytes(), 2 * crl_.size());
  EXPECT_EQ(cache.hits(), 5u);
}

TEST_F(ParsedCrlCacheTest, AClaimThatIsNotTheHashOfTheBytesIsUnusable) {
  ParsedCrlCache cache(1 << 20);
  EXPECT_EQ(cache.Check(Sha256("another response"), crl_, good(), ca(), now_).detail, kNotItsHash);
  EXPECT_EQ(cache.size(), 0u);
  // Kept under its true hash, the CRL's hash names it; other bytes under that name do not pass
  // for it (the bytes are compared, not trusted by the name).
  ASSERT_EQ(cache.Check(Sha256(crl_), crl_, good(), ca(), now_).status, RevocationStatus::kGood);
  std::string altered = crl_;
  altered[altered.size() / 2] ^= 1;
  EXPECT_EQ(cache.Check(Sha256(crl_), altered, good(), ca(), now_).detail, kNotItsHash);
  // No claim: the bytes are hashed and found.
  const size_t hits = cache.hits();
  EXPECT_EQ(cache.Check("", crl_, good(), ca(), now_).status, RevocationStatus::kGood);
  EXPECT_EQ(cache.hits(), hits + 1);
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(ParsedCrlCacheTest, AForgedSignatureIsRefusedEveryTime) {
  absl::StatusOr<EvpPkeyPtr> impostor = GenerateEcKey();
  ASSERT_TRUE(impostor.ok());
  CrlSpec spec;
  spec.this_update = now_ - absl::Hours(1);
  spec.next_update = now_ + absl::Hours(23);
  absl::StatusOr<std::string> forged = test_revocation::MakeCrlDer(spec, ca(), impostor->get());
  ASSERT_TRUE(forged.ok());
  ParsedCrlCache cache(1 << 20);
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(cache.Check(Sha256(*forged), *forged, good(), ca(), now_).detail, kDoesNotVerify);
  }
  // Bytes no CA signed take no room.
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(ParsedCrlCacheTest, AnIssuerWithTheSameNameAndAnotherKeyHasTheSignatureVerifiedAgain) {
  ParsedCrlCache cache(1 << 20);
  ASSERT_EQ(cache.Check(Sha256(crl_), crl_, good(), ca(), now_).status, RevocationStatus::kGood);
  absl::StatusOr<EvpPkeyPtr> impostor_key = GenerateEcKey();
  ASSERT_TRUE(impostor_key.ok());
  X509Ptr impostor(X509_dup(ca()));
  ASSERT_EQ(X509_set_pubkey(impostor.get(), impostor_key->get()), 1);
  ASSERT_GT(X509_sign(impostor.get(), impostor_key->get(), EVP_sha256()), 0);
  EXPECT_EQ(cache.Check(Sha256(crl_), crl_, good(), impostor.get(), now_).detail, kDoesNotVerify);
  // The true issuer still verifies (its key is compared, not remembered as the last one used).
  EXPECT_EQ(cache.Check(Sha256(crl_), crl_, good(), ca(), now_).status, RevocationStatus::kGood);
}

TEST_F(ParsedCrlCacheTest, KeepsAtMostItsBudgetAndNothingUnparsable) {
  // A CRL counts its DER twice (the copy kept and OpenSSL's) and 300 bytes per entry.
  ParsedCrlCache small(2 * crl_.size());
  EXPECT_EQ(small.Check(Sha256(crl_), crl_, good(), ca(), now_).status, RevocationStatus::kGood);
  EXPECT_EQ(small.size(), 0u);

  ParsedCrlCache cache(2 * crl_.size() + 300 + 10);
  const std::string garbage = "not a CRL";
  EXPECT_EQ(cache.Check(Sha256(garbage), garbage, good(), ca(), now_).status,
            RevocationStatus::kUnusable);
  EXPECT_EQ(cache.size(), 0u);
  ASSERT_EQ(cache.Check(Sha256(crl_), crl_, good(), ca(), now_).status, RevocationStatus::kGood);
  // A second CRL does not fit beside the first: the first is dropped.
  CrlSpec spec;
  spec.this_update = now_ - absl::Hours(2);
  spec.next_update = now_ + absl::Hours(22);
  absl::StatusOr<std::string> newer = test_revocation::MakeCrlDer(spec, ca(), pki_.ca.key.get());
  ASSERT_TRUE(newer.ok());
  ASSERT_EQ(cache.Check(Sha256(*newer), *newer, good(), ca(), now_).status,
            RevocationStatus::kGood);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_LE(cache.held_memory_bytes(), 2 * crl_.size() + 300 + 10);
  const size_t hits = cache.hits();
  EXPECT_EQ(cache.Check(Sha256(*newer), *newer, good(), ca(), now_).status,
            RevocationStatus::kGood);
  EXPECT_EQ(cache.hits(), hits + 1);
}

// VerifyRevocationEvidence with a cache gives the verdicts it gives without one.
TEST_F(ParsedCrlCacheTest, VerifyRevocationEvidenceGivesTheSameVerdictsThroughTheCache) {
  ParsedCrlCache cache(1 << 20);
  v1::RevocationEvidence evidence;
  evidence.set_source(v1::CRL);
  evidence.set_certificate_sha256(Sha256(good_.der));
  evidence.set_response_der(crl_);
  evidence.set_response_sha256(Sha256(crl_));
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(VerifyRevocationEvidence(evidence, good(), ca(), now_, &cache).status,
              VerifyRevocationEvidence(evidence, good(), ca(), now_).status);
  }
  v1::RevocationEvidence wrong_hash = evidence;
  wrong_hash.set_response_sha256(Sha256("other"));
  EXPECT_EQ(VerifyRevocationEvidence(wrong_hash, good(), ca(), now_, &cache).detail,
            VerifyRevocationEvidence(wrong_hash, good(), ca(), now_).detail);
  v1::RevocationEvidence about_another = evidence;
  about_another.set_certificate_sha256(Sha256(revoked_.der));
  EXPECT_EQ(VerifyRevocationEvidence(about_another, good(), ca(), now_, &cache).detail,
            VerifyRevocationEvidence(about_another, good(), ca(), now_).detail);
  EXPECT_EQ(cache.hits(), 1u);
}

}  // namespace
}  // namespace mecai
