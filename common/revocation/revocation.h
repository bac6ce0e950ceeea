// Certificate revocation status from CRLs (RFC 5280 §5, §6.3) and OCSP responses (RFC 6960):
// the verification the coordinator runs on what it fetched and the signer runs again on the
// evidence (ARCHITECTURE.md §1 signer, §3). Pure: every function here works on bytes and an
// explicit time, fetches nothing and reads no clock. A response that cannot be relied on — bad
// signature, wrong issuer, expired, for another shard, status unknown — is kUnusable with a
// sentence saying why, never an error: unknown status refuses (ARCHITECTURE.md §3), and the caller
// decides what refusing means.
#ifndef MECAI_COMMON_REVOCATION_REVOCATION_H_
#define MECAI_COMMON_REVOCATION_REVOCATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/crypto/openssl_types.h"
#include "google/protobuf/repeated_field.h"
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
// safe. `verified_with`: the key the CRL's signature is already known to verify with, as
// IssuerKeyDer gives it (a cache that checked the CRL when it stored it); when it is `issuer`'s
// key, byte for byte, the signature (§6.3.3 (g)) is not verified again. Empty: always verified.
RevocationVerdict CheckParsedCrl(X509_CRL* crl, X509* certificate, X509* issuer, absl::Time now,
                                 absl::string_view verified_with = {});

// The DER SubjectPublicKeyInfo of `issuer`'s key (RFC 5280 §4.1.2.7): the key a CRL or OCSP
// response it signed verifies with. Empty when it cannot be encoded.
std::string IssuerKeyDer(X509* issuer);

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

class ParsedCrlCache;  // common/revocation/parsed_crl_cache.h

// The signer's independent re-check of revocation evidence the coordinator obtained: the evidence
// is about `certificate` (certificate_sha256), and its response_der, checked as a CRL (CheckCrl)
// or an OCSP response (CheckOcspResponse, with no nonce expectation: the signer did not send the
// request), says the certificate's status at `now`. Evidence with no source is kUnusable. With
// `crls`, a CRL is checked through it (ParsedCrlCache::Check: the same verdicts, each CRL parsed
// and verified once).
RevocationVerdict VerifyRevocationEvidence(const v1::RevocationEvidence& evidence,
                                           X509* certificate, X509* issuer, absl::Time now,
                                           ParsedCrlCache* crls = nullptr);

// How old the evidence relied on may be when nothing else is configured: the CA's own time in it
// (CRL thisUpdate, OCSP thisUpdate) at most a day before now. A "good" answer may stay within its
// validity period for up to 10 days, and a revocation made meanwhile is not in it; the bound limits
// how long an old answer can hide one. A CA that publishes less often than daily needs a larger
// configured bound for its certificates to be vouched for.
inline constexpr absl::Duration kDefaultRevocationEvidenceMaxAge = absl::Hours(24);
// The range a configured bound must lie in, seconds: at least a minute (clock skew alone takes
// minutes), at most 10 days (the longest validity the CA/Browser Forum Baseline Requirements allow
// a CRL or OCSP response, §4.9.7 and §4.9.10).
inline constexpr int64_t kMinimumRevocationEvidenceMaxAgeSeconds = 60;
inline constexpr int64_t kMaximumRevocationEvidenceMaxAgeSeconds = 10 * 24 * 3600;

// The bounds the revocation rule applies.
struct RevocationLimits {
  // The oldest thisUpdate a "good" CRL or OCSP response may carry to be relied on. A good answer
  // older than this is unusable however far away its nextUpdate is. Revoked stays revoked at any
  // age.
  absl::Duration max_evidence_age = kDefaultRevocationEvidenceMaxAge;
};

// What one source (one CRL or one OCSP response) said about one certificate.
struct SourcedRevocationVerdict {
  v1::RevocationSource source = v1::REVOCATION_SOURCE_UNSPECIFIED;
  // Where it came from, for people.
  std::string url;
  RevocationVerdict verdict;
};

// The revocation status of one certificate (or of every vouched certificate), for a decision.
struct RevocationJudgement {
  // REFUSAL_REASON_UNSPECIFIED when the certificate is known not to be revoked, else
  // CERTIFICATE_REVOKED or REVOCATION_UNKNOWN.
  v1::RefusalReason reason = v1::REVOCATION_UNKNOWN;
  // When good: the time the CA signed into the evidence relied on — the thisUpdate of the freshest
  // good CRL or OCSP response of each source relied on, the oldest of those. Never a time anyone
  // but the CA asserted. InfinitePast otherwise.
  absl::Time ca_signed_at = absl::InfinitePast();
  // When good: CRL if a CRL was relied on, else OCSP. When revoked: the source that said so.
  v1::RevocationSource source = v1::REVOCATION_SOURCE_UNSPECIFIED;
  // For people: what each source said, and which source is missing ("CRL http://…: the CRL of …
  // does not list the certificate; OCSP http://…: …"). Callers say what the reason means.
  std::string explanation;

  bool good() const { return reason == v1::REFUSAL_REASON_UNSPECIFIED; }
};

// The one rule that turns what the sources said into one verdict for `certificate`; the
// coordinator applies it to what it fetched and the signer to the evidence it was given, so both
// decide alike:
//   * revoked anywhere refuses: any kRevoked verdict → CERTIFICATE_REVOKED, whatever else says
//     good;
//   * a good verdict whose thisUpdate is more than limits.max_evidence_age before `now` is not
//     relied on (its answer may have been superseded by a revocation since);
//   * the sources the certificate names (http(s) CRL distribution points, RFC 5280 §4.2.1.13;
//     OCSP responders, RFC 5280 §4.2.2.1) are each required: for each, a good, fresh enough
//     verdict must be present — so withholding the CRL and showing only an OCSP response (or the
//     reverse) is not enough. A certificate naming neither needs one good verdict of any source;
//   * else REVOCATION_UNKNOWN.
// Good: ca_signed_at is the oldest, over the sources relied on, of the newest good thisUpdate of
// that source. `certificate` is borrowed and only read.
RevocationJudgement CombineRevocationVerdicts(const std::vector<SourcedRevocationVerdict>& verdicts,
                                              X509* certificate, absl::Time now,
                                              const RevocationLimits& limits);

// The signer's check of the evidence about one certificate: every piece of `evidence` about
// `certificate` (by certificate_sha256; the rest is ignored) is verified with
// VerifyRevocationEvidence, and the verdicts are combined with CombineRevocationVerdicts. Nothing
// the coordinator asserts about the evidence (obtained_at, next_update) is used.
RevocationJudgement JudgeRevocationEvidence(
    const google::protobuf::RepeatedPtrField<v1::RevocationEvidence>& evidence, X509* certificate,
    X509* issuer, absl::Time now, const RevocationLimits& limits, ParsedCrlCache* crls = nullptr);

// JudgeRevocationEvidence for every vouched certificate (one, or two during a rollover): each
// validated path is (certificate, its issuer, …). The first certificate that is not good decides,
// with its SHA-256 named in the explanation; a path without an issuer is REVOCATION_UNKNOWN. When
// all are good: ca_signed_at is the oldest over all certificates, source that of the first.
RevocationJudgement JudgeRevocationOfEveryCertificate(
    const google::protobuf::RepeatedPtrField<v1::RevocationEvidence>& evidence,
    const std::vector<std::vector<X509Ptr>>& validated_paths, absl::Time now,
    const RevocationLimits& limits, ParsedCrlCache* crls = nullptr);

// RFC 3339 text of `time` in UTC, second precision, for verdict details ("2025-06-15T14:40:00Z").
std::string FormatRevocationTime(absl::Time time);

// absl::Time of an ASN1_TIME (UTCTime or GeneralizedTime); InfinitePast when it does not parse.
absl::Time Asn1TimeToAbslTime(const ASN1_TIME* time);

}  // namespace mecai

#endif  // MECAI_COMMON_REVOCATION_REVOCATION_H_
