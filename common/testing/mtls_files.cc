#include "common/testing/mtls_files.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/pem.h"
#include "common/pki/pki_builder.h"

namespace mecai {
namespace {

// Issues `name` with the extended key usage `usage` under `ca` and writes <name>.pem and
// <name>.key into `directory`; `*certificate_file` and `*key_file` receive the paths.
absl::Status WriteIdentity(const std::string& directory, const std::string& name,
                           const std::string& usage, const CertificateSpec& ca_spec, X509* ca,
                           EVP_PKEY* ca_key, std::string* certificate_file, std::string* key_file) {
  CertificateSpec spec;
  spec.common_name = name;
  spec.dns_names = {name};
  spec.extended_key_usages = {usage};
  spec.not_before = ca_spec.not_before;
  spec.not_after = ca_spec.not_after;
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateEcKey());
  ASSIGN_OR_RETURN(X509Ptr certificate, IssueCertificate(spec, key.get(), ca, ca_key));
  *certificate_file = absl::StrCat(directory, "/", name, ".pem");
  *key_file = absl::StrCat(directory, "/", name, ".key");
  RETURN_IF_ERROR(WriteFileAtomically(*key_file, PrivateKeyToPem(key.get()), 0600));
  return WriteFileAtomically(*certificate_file, CertificateToPem(certificate.get()));
}

}  // namespace

absl::StatusOr<MutualTlsFiles> WriteMutualTlsFiles(const std::string& directory,
                                                   const std::string& ca_name,
                                                   const std::string& server_name,
                                                   const std::string& client_name) {
  const absl::Time now = absl::Now();
  CertificateSpec ca_spec;
  ca_spec.common_name = ca_name;
  ca_spec.is_certificate_authority = true;
  ca_spec.not_before = now - absl::Hours(1);
  ca_spec.not_after = now + absl::Hours(24);
  ASSIGN_OR_RETURN(EvpPkeyPtr ca_key, GenerateEcKey());
  ASSIGN_OR_RETURN(X509Ptr ca, IssueCertificate(ca_spec, ca_key.get(), nullptr, ca_key.get()));
  MutualTlsFiles files;
  files.ca = directory + "/ca.pem";
  files.ca_key = directory + "/ca.key";
  RETURN_IF_ERROR(WriteFileAtomically(files.ca, CertificateToPem(ca.get())));
  RETURN_IF_ERROR(WriteFileAtomically(files.ca_key, PrivateKeyToPem(ca_key.get()), 0600));
  RETURN_IF_ERROR(WriteIdentity(directory, server_name, "serverAuth", ca_spec, ca.get(),
                                ca_key.get(), &files.server_certificate, &files.server_key));
  RETURN_IF_ERROR(WriteIdentity(directory, client_name, "clientAuth", ca_spec, ca.get(),
                                ca_key.get(), &files.client_certificate, &files.client_key));
  return files;
}

absl::Status ReissueIdentity(const MutualTlsFiles& files, const std::string& directory,
                             const std::string& name, const std::string& usage) {
  ASSIGN_OR_RETURN(std::vector<X509Ptr> ca, LoadPemCertificates(files.ca));
  if (ca.empty()) return absl::InvalidArgumentError(files.ca + " holds no certificate");
  ASSIGN_OR_RETURN(EvpPkeyPtr ca_key, LoadPemPrivateKey(files.ca_key));
  CertificateSpec ca_spec;
  ca_spec.not_before = absl::Now() - absl::Hours(1);
  ca_spec.not_after = absl::Now() + absl::Hours(23);
  std::string certificate_file;
  std::string key_file;
  return WriteIdentity(directory, name, usage, ca_spec, ca.front().get(), ca_key.get(),
                       &certificate_file, &key_file);
}

}  // namespace mecai
