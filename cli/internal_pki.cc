#include "cli/internal_pki.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/pem.h"
#include "common/net/dns_name.h"
#include "common/pki/pki_builder.h"

namespace mecai {

absl::Status MakeInternalPki(const InternalPkiOptions& options) {
  if (options.identities.empty()) return absl::InvalidArgumentError("name at least one identity");
  for (const std::string& identity : options.identities) {
    // An identity is the one dNSName of its certificate (RFC 6125 DNS-ID): a lower-case DNS name
    // under the default rules of common/net/dns_name.h (no wildcard, no IP literal).
    absl::Status name = ValidateHostname(identity, HostnameRules());
    if (!name.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", identity, "' is not a valid identity (lower-case DNS name): ", name.message()));
    }
    struct stat info;
    if (stat((options.directory + "/" + identity + ".pem").c_str(), &info) == 0) {
      return absl::AlreadyExistsError(
          absl::StrCat(options.directory, "/", identity, ".pem exists; not overwritten"));
    }
  }
  if (mkdir(options.directory.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create ", options.directory));
  }
  const absl::Time now = absl::Now();
  const std::string ca_pem = options.directory + "/ca.pem";
  const std::string ca_key_pem = options.directory + "/ca.key";
  EvpPkeyPtr ca_key;
  X509Ptr ca;
  auto existing_ca = LoadPemCertificates(ca_pem);
  if (options.reuse_ca && existing_ca.ok()) {
    ASSIGN_OR_RETURN(ca_key, LoadPemPrivateKey(ca_key_pem));
    ca = std::move(existing_ca->front());
  } else {
    CertificateSpec spec;
    spec.common_name = "MECAI Internal CA";
    spec.is_certificate_authority = true;
    spec.path_length = 0;
    spec.not_before = now - absl::Minutes(5);
    spec.not_after = now + options.validity + absl::Hours(24 * 30);
    ASSIGN_OR_RETURN(ca_key, GenerateEcKey());
    ASSIGN_OR_RETURN(ca, IssueCertificate(spec, ca_key.get(), nullptr, ca_key.get()));
    RETURN_IF_ERROR(WriteFileAtomically(ca_pem, CertificateToPem(ca.get())));
    RETURN_IF_ERROR(WriteFileAtomically(ca_key_pem, PrivateKeyToPem(ca_key.get()), 0600));
  }
  for (const std::string& identity : options.identities) {
    CertificateSpec spec;
    spec.common_name = identity;
    spec.dns_names = {identity};
    spec.extended_key_usages = {"serverAuth", "clientAuth"};
    spec.not_before = now - absl::Minutes(5);
    spec.not_after = now + options.validity;
    ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateEcKey());
    ASSIGN_OR_RETURN(X509Ptr certificate,
                     IssueCertificate(spec, key.get(), ca.get(), ca_key.get()));
    RETURN_IF_ERROR(WriteFileAtomically(options.directory + "/" + identity + ".pem",
                                        CertificateToPem(certificate.get())));
    RETURN_IF_ERROR(WriteFileAtomically(options.directory + "/" + identity + ".key",
                                        PrivateKeyToPem(key.get()), 0600));
  }
  return absl::OkStatus();
}

}  // namespace mecai
