// Issues X.509 certificates (RFC 5280) with OpenSSL: the cluster's private mutual-TLS CA and its
// service identities (`mecai pki`), the throwaway Web PKI of `mecai demo`, and test fixtures. It
// is not a public CA: no policy, no revocation, no audit trail of what it issued.
#ifndef MECAI_COMMON_PKI_PKI_BUILDER_H_
#define MECAI_COMMON_PKI_PKI_BUILDER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/crypto/openssl_types.h"

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
// A fresh Ed25519 key (RFC 8032).
absl::StatusOr<EvpPkeyPtr> GenerateEd25519Key();
// A fresh RSA key.
absl::StatusOr<EvpPkeyPtr> GenerateRsaKey(int bits = 2048);

// Issues a certificate for `subject_key` signed by `issuer_key`; self-signed when `issuer` is null.
absl::StatusOr<X509Ptr> IssueCertificate(const CertificateSpec& spec, EVP_PKEY* subject_key,
                                         X509* issuer, EVP_PKEY* issuer_key);

// One entry of a CRL.
struct RevokedEntry {
  // The certificate whose serial is listed (borrowed).
  X509* certificate = nullptr;
  absl::Time revoked_at;
  // CRLReason (RFC 5280 §5.3.1), e.g. OCSP_REVOKED_STATUS_KEYCOMPROMISE; negative: no reasonCode.
  int reason = -1;
  // When `certificate` is null: the serial number listed, big-endian unsigned bytes (RFC 5280
  // §4.1.2.2), e.g. to list many certificates nobody holds.
  std::string serial;
};

// A CRL to issue (RFC 5280 §5).
struct CrlSpec {
  absl::Time this_update;
  // InfinitePast: no nextUpdate.
  absl::Time next_update = absl::InfinitePast();
  std::vector<RevokedEntry> revoked;
  // Non-empty: a critical IssuingDistributionPoint naming this URI (a CRL shard, RFC 5280 §5.2.5).
  std::string issuing_distribution_point_url;
  // IssuingDistributionPoint onlyContainsCACerts (only with issuing_distribution_point_url).
  bool only_ca_certificates = false;
};

// A DER CRL with issuer name `issuer`'s subject, signed with `signing_key` (normally the issuer's
// key).
absl::StatusOr<std::string> IssueCrlDer(const CrlSpec& spec, X509* issuer, EVP_PKEY* signing_key);

// A PKCS #10 certification request (RFC 2986) for `key`, signed by it with SHA-256, DER. The
// `dns_names` become a subjectAltName extension request (RFC 2985 §5.4.2); with none, only the
// subject CN `common_name` (when not empty) names the host. An entry with a type prefix
// ("IP:192.0.2.1", "email:a@example.test") is a name of that type, for tests of other names.
absl::StatusOr<std::string> IssueCsrDer(EVP_PKEY* key, const std::vector<std::string>& dns_names,
                                        const std::string& common_name = "");

}  // namespace mecai

#endif  // MECAI_COMMON_PKI_PKI_BUILDER_H_
