// Test fixtures for revocation checking (//common/revocation:revocation and its users): a CA whose
// leaves name CRL distribution points and OCSP responders, delegated OCSP responders, and CRLs and
// OCSP responses built with the OpenSSL C API — valid, revoked, expired, mis-signed, sharded — so
// tests can feed the verifier exactly the bytes a misbehaving CA or responder would send.
#ifndef MECAI_COMMON_TESTING_TEST_REVOCATION_H_
#define MECAI_COMMON_TESTING_TEST_REVOCATION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/crypto/openssl_types.h"
#include "common/pki/pki_builder.h"
#include "common/testing/test_pki.h"

namespace mecai {
namespace test_revocation {

using test_pki::IssuedCertificate;

// A CA (EC P-256, keyUsage keyCertSign and cRLSign) valid from `now` - 30 days to `now` + 3650
// days, and what it issues, valid from `now` - 1 day to `now` + 90 days. Names are unique per
// process.
struct RevocationPki {
  IssuedCertificate ca;
  // The time the validity periods are centred on.
  absl::Time now;

  // A leaf for `hostname` naming `crl_url` as its CRL distribution point and `ocsp_url` as its
  // OCSP responder (either may be empty: not named).
  absl::StatusOr<IssuedCertificate> IssueLeaf(const std::string& hostname,
                                              const std::string& crl_url,
                                              const std::string& ocsp_url) const;

  // A delegated OCSP responder certificate issued by the CA (RFC 6960 §4.2.2.2), with or without
  // id-kp-OCSPSigning.
  absl::StatusOr<IssuedCertificate> IssueResponder(bool with_ocsp_signing_usage) const;
};

absl::StatusOr<RevocationPki> BuildRevocationPki(absl::Time now);

using ::mecai::CrlSpec;
using ::mecai::RevokedEntry;

// A DER CRL with issuer name `issuer`'s subject, signed with `signing_key` (normally the issuer's
// key; another key makes a CRL whose signature does not verify).
absl::StatusOr<std::string> MakeCrlDer(const CrlSpec& spec, X509* issuer, EVP_PKEY* signing_key);

// PEM ("-----BEGIN X509 CRL-----") of a DER CRL.
absl::StatusOr<std::string> CrlDerToPem(const std::string& der);

enum class OcspCertStatus { kGood, kRevoked, kUnknown };

struct OcspResponseSpec {
  // The certificate the single response is about and its issuer (borrowed).
  X509* certificate = nullptr;
  X509* issuer = nullptr;
  // Who signs the response: the issuer or a delegated responder (borrowed).
  X509* signer = nullptr;
  EVP_PKEY* signer_key = nullptr;
  OcspCertStatus status = OcspCertStatus::kGood;
  absl::Time this_update;
  // InfinitePast: no nextUpdate.
  absl::Time next_update = absl::InfinitePast();
  absl::Time revoked_at;
  int reason = OCSP_REVOKED_STATUS_KEYCOMPROMISE;
  // Non-empty: a nonce extension carrying these bytes.
  std::string nonce;
  // Put the signer's certificate into the response's certs field.
  bool include_signer_certificate = true;
  // Anything but OCSP_RESPONSE_STATUS_SUCCESSFUL yields an unsigned error response.
  int response_status = OCSP_RESPONSE_STATUS_SUCCESSFUL;
};

// A DER OCSPResponse (RFC 6960 §4.2.1) with one SingleResponse for a SHA-1 CertID.
absl::StatusOr<std::string> MakeOcspResponseDer(const OcspResponseSpec& spec);

}  // namespace test_revocation
}  // namespace mecai

#endif  // MECAI_COMMON_TESTING_TEST_REVOCATION_H_
