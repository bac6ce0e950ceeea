// Certificate revocation status from CRLs (RFC 5280 §5, §6.3) and OCSP responses (RFC 6960):
// the verification the coordinator runs on what it fetched and the signer runs again on the
// evidence (DESIGN §1 signer, §3). Pure: every function here works on bytes and an explicit time,
// fetches nothing and reads no clock. A response that cannot be relied on — bad signature, wrong
// issuer, expired, for another shard, status unknown — is kUnusable with a sentence saying why,
// never an error: unknown status refuses (DESIGN §3), and the caller decides what refusing means.
#ifndef MECAI_COMMON_REVOCATION_H_
#define MECAI_COMMON_REVOCATION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/openssl_types.h"
#include "proto/mecai/v1/common.pb.h"

namespace mecai {

enum class RevocationStatus {
  // The source is valid now and does not list the certificate as revoked.
  kGood,
  // The source is valid now and lists the certificate as revoked (certificateHold included).
  kRevoked,
  // The source says nothing that can be relied on about this certificate now.
  kUnusable,
};

// What one CRL or OCSP response says about one certificate at one time.
struct RevocationVerdict {
  RevocationStatus status = RevocationStatus::kUnusable;
  // A sentence for people: why the source is unusable, or when and why the certificate was revoked.
  std::string detail;
  // The source's thisUpdate and nextUpdate; InfinitePast when unknown (nextUpdate absent, or the
  // source could not be parsed).
  absl::Time this_update = absl::InfinitePast();
  absl::Time next_update = absl::InfinitePast();
  // For kRevoked: the revocationDate (CRL) or revocationTime (OCSP).
  absl::Time revocation_time = absl::InfinitePast();
};

// How far the OCSP responder's clock may be from ours (RFC 6960 §4.2.2.1 leaves it to local
// policy; this is the value `openssl ocsp` uses with -validity_period 300).
inline constexpr absl::Duration kOcspClockSkew = absl::Minutes(5);

// How long an OCSP response without nextUpdate (RFC 6960 §2.4: "newer information is always
// available") is accepted after its thisUpdate.
inline constexpr absl::Duration kOcspMaximumAgeWithoutNextUpdate = absl::Hours(1);

// A CRL from DER or PEM ("-----BEGIN X509 CRL-----"). INVALID_ARGUMENT when it does not parse or
// DER input has trailing bytes.
absl::StatusOr<X509CrlPtr> ParseCrl(absl::string_view crl_der_or_pem);

// The DER encoding of a parsed CRL (the bytes it was parsed from, when it came from DER).
std::string CrlToDer(X509_CRL* crl);

// RFC 5280 §6.3.3 for a complete, direct CRL of `issuer` (which issued `certificate`):
//   * the CRL's issuer name equals the issuer's subject and the certificate's issuer (§6.3.3 b.1;
//     indirect CRLs are not supported and are kUnusable);
//   * the issuer's keyUsage, when present, allows cRLSign (§4.2.1.3), and the CRL's signature
//     verifies with the issuer's public key (§6.3.3 f, g);
//   * thisUpdate ≤ now, nextUpdate is present (§5.1.2.5 requires it) and now < nextUpdate;
//   * no unrecognised critical extension (§5.2), no delta-CRL indicator (§5.2.4: a delta alone
//     says nothing about certificates revoked earlier);
//   * an IssuingDistributionPoint (§5.2.5), as sharded CRLs carry, has a distribution point name
//     equal to one of the certificate's CRL distribution point URIs (§6.3.3 b.2.i), covers the
//     certificate's kind (onlyContainsUserCerts / onlyContainsCACerts) and all reasons;
//   * then the certificate's serial is looked up (§6.3.3 j): kRevoked with its revocation date and
//     reason, else kGood. An entry with reason removeFromCRL counts as not listed.
RevocationVerdict CheckCrl(absl::string_view crl_der_or_pem, X509* certificate, X509* issuer,
                           absl::Time now);
// The same on a CRL already parsed (the coordinator caches parsed CRLs). Does not modify `crl`
// beyond OpenSSL's internal, locked sorting of its entries, so concurrent calls on one CRL are
// safe.
RevocationVerdict CheckParsedCrl(X509_CRL* crl, X509* certificate, X509* issuer, absl::Time now);

// RFC 6960 for an OCSP response about `certificate`, issued by `issuer`:
//   * responseStatus is successful (§4.2.1) and the response is a basic response (§4.2.1);
//   * it is signed by the issuer itself or by a delegated responder (§4.2.2.2): a certificate
//     issued and signed by the issuer, carrying id-kp-OCSPSigning, valid at `now`, either included
//     in the response or the issuer itself, and matching the ResponderID (§4.2.2.3);
//   * nonce (RFC 8954, §4.4.1): when `expected_nonce` is not empty and the response carries a
//     nonce, it equals `expected_nonce`; a response without a nonce is accepted (responders that
//     precompute responses send none);
//   * it holds a SingleResponse for the certificate's CertID (SHA-1 as OCSP_cert_to_id builds it,
//     or SHA-256);
//   * thisUpdate ≤ now + kOcspClockSkew and now < nextUpdate + kOcspClockSkew (§4.2.2.1); without
//     nextUpdate, now < thisUpdate + kOcspMaximumAgeWithoutNextUpdate;
//   * certStatus good → kGood, revoked → kRevoked (with revocationTime and reason), unknown →
//     kUnusable.
RevocationVerdict CheckOcspResponse(absl::string_view response_der, X509* certificate, X509* issuer,
                                    absl::string_view expected_nonce, absl::Time now);

// The http:// and https:// URIs of the certificate's CRL distribution points (RFC 5280
// §4.2.1.13), in order, without duplicates. Other schemes (ldap:) are left out.
std::vector<std::string> CrlDistributionPointUrls(X509* certificate);

// The http:// and https:// OCSP responder URIs of the certificate's Authority Information Access
// extension (RFC 5280 §4.2.2.1, id-ad-ocsp), in order, without duplicates.
std::vector<std::string> OcspResponderUrls(X509* certificate);

// A DER OCSPRequest (RFC 6960 §4.1) for `certificate` with a SHA-1 CertID, carrying `nonce` in the
// nonce extension (§4.4.1) unless it is empty. INTERNAL on an OpenSSL failure.
absl::StatusOr<std::string> BuildOcspRequest(X509* certificate, X509* issuer,
                                             absl::string_view nonce);

// The signer's independent re-check of revocation evidence the coordinator obtained: the evidence
// is about `certificate` (certificate_sha256), and its response_der, checked as a CRL (CheckCrl)
// or an OCSP response (CheckOcspResponse, with no nonce expectation: the signer did not send the
// request), says the certificate's status at `now`. Evidence with no source is kUnusable.
RevocationVerdict VerifyRevocationEvidence(const v1::RevocationEvidence& evidence,
                                           X509* certificate, X509* issuer, absl::Time now);

// RFC 3339 text of `time` in UTC, second precision, for verdict details ("2025-06-15T14:40:00Z").
std::string FormatRevocationTime(absl::Time time);

// absl::Time of an ASN1_TIME (UTCTime or GeneralizedTime); InfinitePast when it does not parse.
absl::Time Asn1TimeToAbslTime(const ASN1_TIME* time);

}  // namespace mecai

#endif  // MECAI_COMMON_REVOCATION_H_
