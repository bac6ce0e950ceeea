// Test fixtures for the tests of //common/evidence:enrolled_agents: a throwaway PKI (root CA →
// intermediate → leaf for a hostname, EC P-256 or RSA-2048) built with //common/pki:pki_builder,
// written as PEM files into a fresh directory under $TEST_TMPDIR, plus the matchers those tests
// share (CONTRIBUTING.md rule 10: every assertion names the exact status code or refusal reason).
#ifndef MECAI_COMMON_TESTING_TEST_PKI_H_
#define MECAI_COMMON_TESTING_TEST_PKI_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/signature.h"
#include "gmock/gmock.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {
namespace test_pki {

enum class KeyType { kEcP256, kRsa2048 };

// "EcP256" or "Rsa2048", for parameterized test names.
std::string KeyTypeName(KeyType type);

// The instant every fixture is built around (2025-06-15T14:40:00Z). Tests pass it, or times
// derived from it, as the explicit `now` of the code under test.
absl::Time FixtureNow();

// A fresh key of `type`.
absl::StatusOr<EvpPkeyPtr> GenerateKey(KeyType type);

// A new reference to `key` (EVP_PKEY_up_ref), for APIs that take ownership.
EvpPkeyPtr ShareKey(EVP_PKEY* key);

// An InMemorySigningKey sharing `key`.
absl::StatusOr<std::unique_ptr<InMemorySigningKey>> SignerFor(EVP_PKEY* key);

// A fresh, empty directory under $TEST_TMPDIR (under /tmp when the variable is unset).
absl::StatusOr<std::string> MakeTempDirectory();

// Writes `contents` to `directory`/`name` and returns the path.
absl::StatusOr<std::string> WriteTestFile(const std::string& directory, const std::string& name,
                                          const std::string& contents);

// A certificate with its subject key.
struct IssuedCertificate {
  EvpPkeyPtr key;
  X509Ptr certificate;
  std::string der;
};

// How a leaf is issued. Unset times take the defaults below.
struct LeafOptions {
  // subjectAltName dNSName entries; empty means {hostname}.
  std::vector<std::string> dns_names;
  // When true, the leaf has no subjectAltName at all (dns_names is ignored).
  bool omit_subject_alt_name = false;
  // Subject CN; empty means the hostname.
  std::string common_name;
  std::vector<std::string> extended_key_usages = {"serverAuth"};
  // Defaults: FixtureNow() - 1 day and FixtureNow() + 90 days.
  absl::Time not_before = absl::InfinitePast();
  absl::Time not_after = absl::InfinitePast();
};

// Root CA → intermediate CA → leaf, all on keys of one type. The CA certificates are valid from
// FixtureNow() - 30 days to FixtureNow() + 3650 days; every certificate name is unique per process.
struct TestPki {
  KeyType key_type = KeyType::kEcP256;
  std::string hostname;
  IssuedCertificate root;
  IssuedCertificate intermediate;
  IssuedCertificate leaf;
  // The directory holding the files below.
  std::string directory;
  // The root alone, PEM: a trust-list bundle.
  std::string root_pem_path;
  // The leaf then the intermediate, PEM.
  std::string chain_pem_path;
  // The leaf's private key (PKCS#8 PEM) and public key (SubjectPublicKeyInfo PEM).
  std::string leaf_key_pem_path;
  std::string leaf_public_key_pem_path;

  // DER of the leaf then the intermediate: the chain a TLS server sends.
  std::vector<std::string> ChainDer() const;

  // Issues another leaf under the intermediate for `hostname`; on `key` (shared, not taken) when
  // given, else on a fresh key of `key_type`.
  absl::StatusOr<IssuedCertificate> IssueLeaf(const std::string& hostname,
                                              const LeafOptions& options,
                                              EVP_PKEY* key = nullptr) const;
};

// Builds a TestPki for `hostname` and writes its files into a fresh temporary directory.
absl::StatusOr<TestPki> BuildTestPki(const std::string& hostname,
                                     KeyType key_type = KeyType::kEcP256,
                                     const LeafOptions& leaf_options = LeafOptions());

namespace internal {
inline absl::Status ToStatus(const absl::Status& status) { return status; }
template <typename T>
absl::Status ToStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}
}  // namespace internal

// Matches an absl::Status (or the status of an absl::StatusOr) with `code` and a message matching
// `message_matcher`.
MATCHER_P2(StatusIs, code, message_matcher,
           absl::StrCat("has status code ", absl::StatusCodeToString(code))) {
  const absl::Status status = ::mecai::test_pki::internal::ToStatus(arg);
  if (status.code() != code) {
    *result_listener << "whose status is " << status;
    return false;
  }
  return ::testing::ExplainMatchResult(message_matcher, std::string(status.message()),
                                       result_listener);
}

// Matches a v1::Refusal with `reason` and an explanation matching `explanation_matcher`.
MATCHER_P2(IsRefusal, reason, explanation_matcher,
           absl::StrCat("is a refusal with reason ", v1::RefusalReason_Name(reason))) {
  if (arg.reason() != reason) {
    *result_listener << "whose reason is " << v1::RefusalReason_Name(arg.reason()) << " ("
                     << arg.explanation() << ")";
    return false;
  }
  return ::testing::ExplainMatchResult(explanation_matcher, arg.explanation(), result_listener);
}

// Matches a v1::Refusal that refuses nothing (REFUSAL_REASON_UNSPECIFIED).
MATCHER(IsNotRefused, "is not a refusal") {
  if (arg.reason() == v1::REFUSAL_REASON_UNSPECIFIED) return true;
  *result_listener << "whose reason is " << v1::RefusalReason_Name(arg.reason()) << " ("
                   << arg.explanation() << ")";
  return false;
}

}  // namespace test_pki
}  // namespace mecai

#endif  // MECAI_COMMON_TESTING_TEST_PKI_H_
