#include "common/testing/test_pki.h"

#include <stdlib.h>

#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/pem.h"
#include "common/pki/pki_builder.h"

namespace mecai {
namespace test_pki {
namespace {

// Makes every certificate name of the process distinct, so two fixtures' roots never share a
// subject and chain building cannot confuse them by name.
std::string UniqueSuffix() {
  static std::atomic<int> counter{0};
  return absl::StrCat(++counter);
}

absl::StatusOr<IssuedCertificate> Issue(const CertificateSpec& spec, EvpPkeyPtr key,
                                        const IssuedCertificate* issuer) {
  IssuedCertificate issued;
  ASSIGN_OR_RETURN(issued.certificate,
                   IssueCertificate(spec, key.get(), issuer ? issuer->certificate.get() : nullptr,
                                    issuer ? issuer->key.get() : key.get()));
  issued.key = std::move(key);
  issued.der = CertificateToDer(issued.certificate.get());
  return issued;
}

CertificateSpec CaSpec(const std::string& common_name, int path_length) {
  CertificateSpec spec;
  spec.common_name = common_name;
  spec.is_certificate_authority = true;
  spec.path_length = path_length;
  spec.not_before = FixtureNow() - absl::Hours(24 * 30);
  spec.not_after = FixtureNow() + absl::Hours(24 * 3650);
  return spec;
}

}  // namespace

std::string KeyTypeName(KeyType type) { return type == KeyType::kEcP256 ? "EcP256" : "Rsa2048"; }

absl::Time FixtureNow() { return absl::FromUnixSeconds(1750000000); }

absl::StatusOr<EvpPkeyPtr> GenerateKey(KeyType type) {
  return type == KeyType::kEcP256 ? GenerateEcKey(256) : GenerateRsaKey(2048);
}

EvpPkeyPtr ShareKey(EVP_PKEY* key) {
  EVP_PKEY_up_ref(key);
  return EvpPkeyPtr(key);
}

absl::StatusOr<std::unique_ptr<InMemorySigningKey>> SignerFor(EVP_PKEY* key) {
  return InMemorySigningKey::Create(ShareKey(key));
}

absl::StatusOr<std::string> MakeTempDirectory() {
  const char* base = getenv("TEST_TMPDIR");
  std::string pattern =
      absl::StrCat(base != nullptr && *base != '\0' ? base : "/tmp", "/test_pki.XXXXXX");
  if (mkdtemp(&pattern[0]) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern, " failed"));
  }
  return pattern;
}

absl::StatusOr<std::string> WriteTestFile(const std::string& directory, const std::string& name,
                                          const std::string& contents) {
  std::string path = absl::StrCat(directory, "/", name);
  RETURN_IF_ERROR(WriteFileAtomically(path, contents));
  return path;
}

std::vector<std::string> TestPki::ChainDer() const { return {leaf.der, intermediate.der}; }

absl::StatusOr<IssuedCertificate> TestPki::IssueLeaf(const std::string& leaf_hostname,
                                                     const LeafOptions& options,
                                                     EVP_PKEY* key) const {
  CertificateSpec spec;
  spec.common_name = options.common_name.empty() ? leaf_hostname : options.common_name;
  if (!options.omit_subject_alt_name) {
    spec.dns_names =
        options.dns_names.empty() ? std::vector<std::string>{leaf_hostname} : options.dns_names;
  }
  spec.extended_key_usages = options.extended_key_usages;
  spec.not_before = options.not_before == absl::InfinitePast() ? FixtureNow() - absl::Hours(24)
                                                               : options.not_before;
  spec.not_after = options.not_after == absl::InfinitePast() ? FixtureNow() + absl::Hours(24 * 90)
                                                             : options.not_after;
  EvpPkeyPtr subject_key;
  if (key != nullptr) {
    subject_key = ShareKey(key);
  } else {
    ASSIGN_OR_RETURN(subject_key, GenerateKey(key_type));
  }
  return Issue(spec, std::move(subject_key), &intermediate);
}

absl::StatusOr<TestPki> BuildTestPki(const std::string& hostname, KeyType key_type,
                                     const LeafOptions& leaf_options) {
  TestPki pki;
  pki.key_type = key_type;
  pki.hostname = hostname;
  const std::string suffix = UniqueSuffix();
  ASSIGN_OR_RETURN(EvpPkeyPtr root_key, GenerateKey(key_type));
  ASSIGN_OR_RETURN(pki.root, Issue(CaSpec(absl::StrCat("MECAI Test Root ", suffix), -1),
                                   std::move(root_key), nullptr));
  ASSIGN_OR_RETURN(EvpPkeyPtr intermediate_key, GenerateKey(key_type));
  ASSIGN_OR_RETURN(pki.intermediate,
                   Issue(CaSpec(absl::StrCat("MECAI Test Intermediate ", suffix), 0),
                         std::move(intermediate_key), &pki.root));
  ASSIGN_OR_RETURN(pki.leaf, pki.IssueLeaf(hostname, leaf_options));

  ASSIGN_OR_RETURN(pki.directory, MakeTempDirectory());
  ASSIGN_OR_RETURN(pki.root_pem_path, WriteTestFile(pki.directory, "root.pem",
                                                    CertificateToPem(pki.root.certificate.get())));
  ASSIGN_OR_RETURN(pki.chain_pem_path,
                   WriteTestFile(pki.directory, "chain.pem",
                                 CertificateToPem(pki.leaf.certificate.get()) +
                                     CertificateToPem(pki.intermediate.certificate.get())));
  ASSIGN_OR_RETURN(pki.leaf_key_pem_path,
                   WriteTestFile(pki.directory, "leaf.key", PrivateKeyToPem(pki.leaf.key.get())));
  ASSIGN_OR_RETURN(pki.leaf_public_key_pem_path,
                   WriteTestFile(pki.directory, "leaf.pub", PublicKeyToPem(pki.leaf.key.get())));
  return pki;
}

}  // namespace test_pki
}  // namespace mecai
