// Building and checking Vouching Requests (MECAI proposal "VS behaviour" and "Server behaviour";
// ARCHITECTURE.md §3). The same checks run in the coordinator and, independently, in the signer.
#ifndef MECAI_COMMON_EVIDENCE_VOUCHING_REQUEST_H_
#define MECAI_COMMON_EVIDENCE_VOUCHING_REQUEST_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/signature.h"
#include "common/evidence/trust_lists.h"
#include "proto/mecai/v1/probe.pb.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

// Limits applied to every VR (trust rule 8).
struct VouchingRequestLimits {
  // Largest serialized VouchingRequest, bytes.
  size_t max_request_bytes = 65536;
  // Most certificates in one chain.
  size_t max_chain_length = 10;
  // Largest accepted |now - timestamp|.
  absl::Duration freshness_window = absl::Seconds(300);
};

// A leaf certificate a VR names, and the key type the probe agents ask a server for it by
// (docs/PROTOCOL.md "Key-typed handshakes").
struct VouchedCertificate {
  std::string sha256;
  v1::CertificateKeyType key_type = v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED;
};

// A VR whose signatures, freshness and shape have been checked.
struct VerifiedVouchingRequest {
  // The body of the single VR, or of the old-certificate VR of a rollover.
  v1::VouchingRequestBody body;
  // One chain, or two during rollover (old first); each leaf first.
  std::vector<std::vector<X509Ptr>> chains;
  // SHA-256 of each chain's DER leaf, in the same order.
  std::vector<std::string> leaf_sha256;
  // Each leaf's SHA-256 (as in leaf_sha256) with the key type of its key (CertificateKeyTypeOf,
  // common/crypto/certificate_key_type.h), in the same order.
  std::vector<VouchedCertificate> vouched;
  // SHA-256 of the serialized VouchingRequest exactly as received.
  std::string request_sha256;
  // Set by CheckVouchingRequestCertificates: for each chain, the validated path from the leaf to
  // the trust-list root (leaf first). path[1] is the leaf's issuer, needed for revocation checks:
  // an accepted check guarantees every path has one (CheckPathHasIssuer).
  std::vector<std::vector<X509Ptr>> validated_paths;
};

// The outcome of checking a VR: accepted, or a Refusal with the first failed check's reason.
struct VouchingRequestCheck {
  v1::Refusal refusal;  // REFUSAL_REASON_UNSPECIFIED when accepted.
  VerifiedVouchingRequest request;
  bool accepted() const { return refusal.reason() == v1::REFUSAL_REASON_UNSPECIFIED; }
};

// Checks the envelope of a VR, in the order of ARCHITECTURE.md §3: size, well-formedness,
// freshness, every leaf's key of a type the probe agents can ask a server for
// (UNSUPPORTED_KEY_TYPE), every signature (one, or four for the rollover form), then that the two
// VRs of a rollover agree. The body is parsed before its signature is checked because the verifying
// key is inside it; nothing from it is trusted until the signature verifies. Certificate checks
// come after, in CheckVouchingRequestCertificates.
VouchingRequestCheck CheckVouchingRequestEnvelope(absl::string_view serialized_request,
                                                  const VouchingRequestLimits& limits,
                                                  absl::Time now);

// Continues a check that CheckVouchingRequestEnvelope accepted: hostname (RFC 6125), serverAuth
// usage, the trust list is served, every chain builds to one of its roots at `now`, and every
// validated path has an issuer above its leaf (CheckPathHasIssuer).
void CheckVouchingRequestCertificates(const TrustLists& trust_lists, absl::Time now,
                                      VouchingRequestCheck* check);

// The key types the probe agents ask each address for in a probe round of `request`: those of its
// vouched certificates, ascending, without repeats (ProbeTask.certificate_key_types; an
// Observation made for `request` must name exactly these).
std::vector<v1::CertificateKeyType> ProbeKeyTypes(const VerifiedVouchingRequest& request);

// REVOCATION_UNKNOWN when `validated_path` (leaf first, as TrustLists::VerifyChain returns it)
// holds the leaf alone: the leaf is itself a root of the trust list (a self-signed certificate
// listed as a trust anchor), nobody issued it, and no CRL or OCSP response about it can be
// verified (RFC 5280 §6.3, RFC 6960 §2.2 need the issuer). Accepted (REFUSAL_REASON_UNSPECIFIED)
// when the path has the leaf's issuer at index 1. Call it before reading validated_path[1].
v1::Refusal CheckPathHasIssuer(const std::vector<X509Ptr>& validated_path);

// Both steps, for callers that need no work in between.
VouchingRequestCheck CheckVouchingRequest(absl::string_view serialized_request,
                                          const VouchingRequestLimits& limits,
                                          const TrustLists& trust_lists, absl::Time now);

// The hostname rule of VouchingRequestBody.hostname, the first check of every VR body the
// coordinator and the signer accept (MALFORMED_REQUEST when it fails) and what the stapler and
// `mecai vouch` check before they build a VR: ValidateHostname (common/net/dns_name.h) with
// hostname_rules::kVouchingRequest, a lower-case DNS name of LDH labels and A-labels, no IP
// literal, no wildcard, no trailing dot. INVALID_ARGUMENT naming the failed rule otherwise.
absl::Status ValidateVouchingRequestHostname(absl::string_view hostname);

// Makes a single-form VR: `body` (its certificate_chain_der set to `chain_der`) signed by `key`.
// Returns the serialized VouchingRequest.
absl::StatusOr<std::string> BuildVouchingRequest(v1::VouchingRequestBody body,
                                                 const std::vector<std::string>& chain_der,
                                                 SigningKey& key);

// Makes the rollover form of MECAI proposal: the old-certificate VR signed by the old key and
// wrapped by the new key, the new-certificate VR signed by the new key and wrapped by the old key.
absl::StatusOr<std::string> BuildRolloverVouchingRequest(
    const v1::VouchingRequestBody& body, const std::vector<std::string>& old_chain_der,
    SigningKey& old_key, const std::vector<std::string>& new_chain_der, SigningKey& new_key);

}  // namespace mecai

#endif  // MECAI_COMMON_EVIDENCE_VOUCHING_REQUEST_H_
