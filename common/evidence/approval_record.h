// The approval service's signed record of one issuance request (ARCHITECTURE.md §7, MECAI
// phone-approval proposal) as the coordinator and the signer use it: which key a certificate
// carries, whether a record approves issuance for it, and the record's signature (trust rule 1:
// sign bytes, verify before parsing).
#ifndef MECAI_COMMON_EVIDENCE_APPROVAL_RECORD_H_
#define MECAI_COMMON_EVIDENCE_APPROVAL_RECORD_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/signature.h"
#include "google/protobuf/repeated_field.h"
#include "proto/mecai/v1/approval.pb.h"

namespace mecai {

// SHA-256 of the certificate's SubjectPublicKeyInfo DER (RFC 5280 §4.1.2.7): the key an approval
// record is about.
std::string SubjectPublicKeyInfoSha256(X509* certificate);

// The state in words for people, e.g. "awaiting approval on the certapproval page".
std::string DescribeIssuanceState(v1::IssuanceState state);

// Whether an approval of request `transaction_number` for `domain` covers `hostname`: the domain
// must cover it (IsWithinDomain of common/net/dns_name.h: label-wise, ignoring case), and unless
// the request was for the `whole_domain` (it named no host: a bare public key), one of its `names`
// (the CSR's names, which the approver saw) must match it. Empty when covered; otherwise a sentence
// saying why not.
std::string ApprovalScopeMismatch(absl::string_view transaction_number, absl::string_view domain,
                                  const google::protobuf::RepeatedPtrField<std::string>& names,
                                  bool whole_domain, absl::string_view hostname);

// Signs `status` (its key, domain, names and state) at `now` with `key`.
absl::StatusOr<v1::SignedApprovalRecord> SignApprovalRecord(const v1::IssuanceStatus& status,
                                                            SigningKey& key, absl::Time now);

// What a verified record says about one key.
struct ApprovalVerdict {
  bool approved = false;
  // Why not (empty when approved), a sentence for people.
  std::string explanation;
  v1::ApprovalRecordBody body;
};

// Checks `record`, in order: the signature verifies under `key` before anything is parsed; the
// body parses with version 1; it is about `spki_sha256`; it was signed at most `max_age` before
// `now` (and at most 5 minutes after it); its domain and names cover `hostname`
// (ApprovalScopeMismatch); its state is APPROVED.
// The verdict says which check failed.
ApprovalVerdict VerifyApprovalRecord(const v1::SignedApprovalRecord& record, EVP_PKEY* key,
                                     const std::string& spki_sha256, const std::string& hostname,
                                     absl::Time now, absl::Duration max_age);

}  // namespace mecai

#endif  // MECAI_COMMON_EVIDENCE_APPROVAL_RECORD_H_
