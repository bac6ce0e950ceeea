// Issues X.509 certificates (RFC 5280) with OpenSSL: the throwaway PKI of `mecai demo`, the
// internal mTLS CA, and test fixtures. Not for production CAs.
#ifndef MECAI_COMMON_PKI_BUILDER_H_
#define MECAI_COMMON_PKI_BUILDER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/openssl_types.h"

namespace mecai {

struct CertificateSpec {
  std::string common_name;
  // subjectAltName dNSName entries.
  std::vector<std::string> dns_names;
  bool is_certificate_authority = false;
  // basicConstraints pathLenConstraint for CAs; negative for none.
  int path_length = -1;
  // Extended key usages by OpenSSL short name: "serverAuth", "clientAuth", "OCSPSigning".
  std::vector<std::string> extended_key_usages;
  absl::Time not_before;
  absl::Time not_after;
  // CRL distribution point and OCSP responder URLs (empty: none).
  std::string crl_url;
  std::string ocsp_url;
};

// A fresh EC key on P-256 (or P-384 when `bits` is 384).
absl::StatusOr<EvpPkeyPtr> GenerateEcKey(int bits = 256);
// A fresh RSA key.
absl::StatusOr<EvpPkeyPtr> GenerateRsaKey(int bits = 2048);

// Issues a certificate for `subject_key` signed by `issuer_key`; self-signed when `issuer` is null.
absl::StatusOr<X509Ptr> IssueCertificate(const CertificateSpec& spec, EVP_PKEY* subject_key,
                                         X509* issuer, EVP_PKEY* issuer_key);

}  // namespace mecai

#endif  // MECAI_COMMON_PKI_BUILDER_H_
