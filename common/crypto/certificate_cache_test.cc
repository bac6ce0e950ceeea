#include "common/crypto/certificate_cache.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto/pem.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

class CertificateCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK_AND_ASSIGN(pki_, test_pki::BuildTestPki("cache.mecai.test")); }
  test_pki::TestPki pki_;
};

// The same bytes parsed twice give the one certificate, shared, and the same as a fresh parse.
TEST_F(CertificateCacheTest, TheSameBytesAreParsedOnce) {
  CertificateCache cache(16);
  ASSERT_OK_AND_ASSIGN(X509Ptr first, cache.Parse(pki_.leaf.der));
  ASSERT_OK_AND_ASSIGN(X509Ptr second, cache.Parse(pki_.leaf.der));
  EXPECT_EQ(first.get(), second.get());
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(CertificateToDer(second.get()), pki_.leaf.der);
  ASSERT_OK_AND_ASSIGN(X509Ptr intermediate, cache.Parse(pki_.intermediate.der));
  EXPECT_NE(intermediate.get(), first.get());
  EXPECT_EQ(CertificateToDer(intermediate.get()), pki_.intermediate.der);
  EXPECT_EQ(cache.size(), 2u);
}

// Bytes that do not parse get ParseDerCertificate's error and are not cached; neither is a
// certificate with bytes after it.
TEST_F(CertificateCacheTest, WhatDoesNotParseIsRefusedAndNotCached) {
  CertificateCache cache(16);
  EXPECT_FALSE(cache.Parse("not a certificate").ok());
  EXPECT_FALSE(cache.Parse(pki_.leaf.der + "x").ok());
  std::string flipped = pki_.leaf.der;
  flipped[1] ^= 0x01;
  EXPECT_FALSE(cache.Parse(flipped).ok());
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.hits(), 0u);
}

// A certificate one bit away from a cached one (here in its signature, so it still parses) is
// parsed as itself: the key is the whole DER.
TEST_F(CertificateCacheTest, AnyOtherByteIsAnotherCertificate) {
  CertificateCache cache(16);
  ASSERT_OK_AND_ASSIGN(X509Ptr original, cache.Parse(pki_.leaf.der));
  std::string changed = pki_.leaf.der;
  changed.back() ^= 0x01;
  ASSERT_OK_AND_ASSIGN(X509Ptr other, cache.Parse(changed));
  EXPECT_NE(other.get(), original.get());
  EXPECT_EQ(CertificateToDer(other.get()), changed);
  EXPECT_EQ(cache.hits(), 0u);
}

// Full, the cache drops the certificate it cached first; a certificate handed out stays valid.
TEST_F(CertificateCacheTest, WhenFullTheOldestGoes) {
  CertificateCache cache(2);
  ASSERT_OK_AND_ASSIGN(X509Ptr leaf, cache.Parse(pki_.leaf.der));
  ASSERT_OK_AND_ASSIGN(X509Ptr intermediate, cache.Parse(pki_.intermediate.der));
  ASSERT_OK_AND_ASSIGN(X509Ptr root, cache.Parse(pki_.root.der));
  EXPECT_EQ(cache.size(), 2u);
  ASSERT_OK_AND_ASSIGN(X509Ptr leaf_again, cache.Parse(pki_.leaf.der));
  EXPECT_NE(leaf_again.get(), leaf.get()) << "the oldest was not dropped";
  EXPECT_EQ(CertificateToDer(leaf.get()), pki_.leaf.der);
  ASSERT_OK_AND_ASSIGN(X509Ptr root_again, cache.Parse(pki_.root.der));
  EXPECT_EQ(root_again.get(), root.get());
}

// Many threads parsing and using the same certificates at once (ThreadSanitizer checks the
// sharing).
TEST_F(CertificateCacheTest, ThreadsShareCertificates) {
  CertificateCache cache(2);
  const std::vector<std::string> ders = {pki_.leaf.der, pki_.intermediate.der, pki_.root.der};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        const std::string& der = ders[(t + i) % ders.size()];
        absl::StatusOr<X509Ptr> parsed = cache.Parse(der);
        if (!parsed.ok() || CertificateToDer(parsed->get()) != der ||
            X509_get0_pubkey(parsed->get()) == nullptr) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(cache.size(), 2u);
}

}  // namespace
}  // namespace mecai
