#include "common/evidence/validated_chain_cache.h"

#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <time.h>

#include <optional>
#include <string>
#include <vector>

#include "common/crypto/certificate_cache.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/testing/test_pki.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::BuildTestPki;
using ::mecai::test_pki::FixtureNow;
using ::mecai::test_pki::TestPki;

ValidatedPath PathOf(const TestPki& pki) {
  ValidatedPath validated;
  validated.path.push_back(ShareCertificate(pki.leaf.certificate.get()));
  validated.path.push_back(ShareCertificate(pki.intermediate.certificate.get()));
  validated.path.push_back(ShareCertificate(pki.root.certificate.get()));
  validated.root_sha256 = Sha256(pki.root.der);
  return validated;
}

TEST(ValidatedChainCacheTest, KeysNameTheListAndEveryCertificateUnambiguously) {
  auto pki = BuildTestPki("www.example.test");
  ASSERT_TRUE(pki.ok()) << pki.status();
  X509* leaf = pki->leaf.certificate.get();
  X509* intermediate = pki->intermediate.certificate.get();
  const std::string key = ValidatedChainCache::KeyOf("list", {leaf, intermediate});
  EXPECT_EQ(key, ValidatedChainCache::KeyOf("list", {leaf, intermediate}));
  EXPECT_NE(key, ValidatedChainCache::KeyOf("list", {leaf}));
  EXPECT_NE(key, ValidatedChainCache::KeyOf("list", {intermediate, leaf}));
  EXPECT_NE(key, ValidatedChainCache::KeyOf("other", {leaf, intermediate}));
  // A list whose name ends as another's key begins cannot spell that key.
  const std::string leaf_hash = Sha256(pki->leaf.der);
  EXPECT_NE(ValidatedChainCache::KeyOf("a", {leaf, intermediate}),
            ValidatedChainCache::KeyOf("a" + leaf_hash, {intermediate}));
}

TEST(ValidatedChainCacheTest, AnswersOnlyWithinEveryCertificatesValidityPeriod) {
  auto pki = BuildTestPki("www.example.test");
  ASSERT_TRUE(pki.ok()) << pki.status();
  ValidatedChainCache cache(8);
  cache.Insert("key", PathOf(*pki));
  // The fixture leaf is valid from FixtureNow() - 1 day until FixtureNow() + 90 days.
  EXPECT_TRUE(cache.Find("key", FixtureNow()).has_value());
  EXPECT_TRUE(cache.Find("key", FixtureNow() + absl::Hours(24 * 89)).has_value());
  EXPECT_FALSE(cache.Find("key", FixtureNow() + absl::Hours(24 * 91)).has_value());
  EXPECT_FALSE(cache.Find("key", FixtureNow() - absl::Hours(25)).has_value());
  EXPECT_FALSE(cache.Find("other key", FixtureNow()).has_value());
  EXPECT_EQ(cache.hits(), 2u);
  std::optional<ValidatedPath> found = cache.Find("key", FixtureNow());
  ASSERT_TRUE(found.has_value());
  ASSERT_EQ(found->path.size(), 3u);
  EXPECT_EQ(CertificateToDer(found->path[0].get()), pki->leaf.der);
  EXPECT_EQ(found->root_sha256, Sha256(pki->root.der));
}

absl::Time TimeOf(const ASN1_TIME* time) {
  struct tm broken_down = {};
  EXPECT_EQ(ASN1_TIME_to_tm(time, &broken_down), 1);
  return absl::FromTimeT(timegm(&broken_down));
}

// X509_verify_cert's boundaries (OpenSSL 3.0): valid from notBefore on, expired from notAfter on.
TEST(ValidatedChainCacheTest, KeepsOpenSslsBoundariesToTheSecond) {
  auto pki = BuildTestPki("www.example.test");
  ASSERT_TRUE(pki.ok()) << pki.status();
  ValidatedChainCache cache(8);
  cache.Insert("key", PathOf(*pki));
  X509* leaf = pki->leaf.certificate.get();
  const absl::Time not_before = TimeOf(X509_get0_notBefore(leaf));
  const absl::Time not_after = TimeOf(X509_get0_notAfter(leaf));
  EXPECT_FALSE(cache.Find("key", not_before - absl::Seconds(1)).has_value());
  EXPECT_TRUE(cache.Find("key", not_before).has_value());
  EXPECT_TRUE(cache.Find("key", not_after - absl::Seconds(1)).has_value());
  EXPECT_FALSE(cache.Find("key", not_after).has_value());
}

TEST(ValidatedChainCacheTest, APathKeptAgainReplacesTheOneBefore) {
  auto pki = BuildTestPki("www.example.test");
  auto other = BuildTestPki("www.example.test");
  ASSERT_TRUE(pki.ok() && other.ok());
  ValidatedChainCache cache(8);
  cache.Insert("key", PathOf(*pki));
  cache.Insert("key", PathOf(*other));
  EXPECT_EQ(cache.size(), 1u);
  std::optional<ValidatedPath> found = cache.Find("key", FixtureNow());
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->root_sha256, Sha256(other->root.der));
}

TEST(ValidatedChainCacheTest, DropsTheOldestWhenFullAndEverythingOnClear) {
  auto pki = BuildTestPki("www.example.test");
  ASSERT_TRUE(pki.ok()) << pki.status();
  ValidatedChainCache cache(2);
  cache.Insert("first", PathOf(*pki));
  cache.Insert("second", PathOf(*pki));
  cache.Insert("third", PathOf(*pki));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.Find("first", FixtureNow()).has_value());
  EXPECT_TRUE(cache.Find("second", FixtureNow()).has_value());
  EXPECT_TRUE(cache.Find("third", FixtureNow()).has_value());
  cache.Clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.Find("third", FixtureNow()).has_value());
  ValidatedChainCache none(0);
  none.Insert("key", PathOf(*pki));
  EXPECT_EQ(none.size(), 0u);
}

}  // namespace
}  // namespace mecai
