#include "common/evidence/approval_record.h"

#include <openssl/x509.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/crypto/hashing.h"
#include "common/crypto/signed_object.h"
#include "common/net/dns_name.h"

namespace mecai {

std::string SubjectPublicKeyInfoSha256(X509* certificate) {
  unsigned char* der = nullptr;
  // X509_get_X509_PUBKEY borrows; i2d allocates `der`, freed below.
  const int length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(certificate), &der);
  if (length <= 0) return "";
  std::string digest = Sha256(absl::string_view(reinterpret_cast<char*>(der), length));
  OPENSSL_free(der);
  return digest;
}

std::string DescribeIssuanceState(v1::IssuanceState state) {
  switch (state) {
    case v1::ISSUANCE_STATE_CALLING:
      return "still calling the registry's contacts";
    case v1::ISSUANCE_STATE_AWAITING_APPROVAL:
      return "awaiting approval on the certapproval page";
    case v1::ISSUANCE_STATE_APPROVED:
      return "approved";
    case v1::ISSUANCE_STATE_REJECTED:
      return "rejected by the domain's contact";
    case v1::ISSUANCE_STATE_LOCKED:
      return "locked after too many wrong approval codes";
    case v1::ISSUANCE_STATE_EXPIRED:
      return "expired before anyone approved it";
    case v1::ISSUANCE_STATE_FAILED:
      return "failed: no contact of the domain could be called";
    default:
      return "in an unknown state";
  }
}

std::string ApprovalScopeMismatch(absl::string_view transaction_number, absl::string_view domain,
                                  const google::protobuf::RepeatedPtrField<std::string>& names,
                                  bool whole_domain, absl::string_view hostname) {
  if (!IsWithinDomain(hostname, domain)) {
    return absl::StrCat("the approval request ", transaction_number, " approves the domain ",
                        domain, ", which does not cover ", hostname);
  }
  if (whole_domain) return "";
  if (names.empty()) {
    return absl::StrCat("the approval request ", transaction_number,
                        " names no host and is not for the whole domain ", domain);
  }
  for (const std::string& name : names) {
    if (WildcardMatches(name, hostname)) return "";
  }
  return absl::StrCat("the approval request ", transaction_number, " approves the names ",
                      absl::StrJoin(names, ", "), ", none of which is ", hostname);
}

absl::StatusOr<v1::SignedApprovalRecord> SignApprovalRecord(const v1::IssuanceStatus& status,
                                                            SigningKey& key, absl::Time now) {
  v1::ApprovalRecordBody body;
  body.set_version(1);
  body.set_transaction_number(status.transaction_number());
  body.set_domain(status.domain());
  body.set_subject_public_key_info_sha256(status.subject_public_key_info_sha256());
  body.set_state(status.state());
  *body.mutable_names() = status.names();
  body.set_whole_domain(status.whole_domain());
  body.set_decided_unix_milliseconds(status.decided_unix_milliseconds());
  body.set_signed_unix_milliseconds(absl::ToUnixMillis(now));
  v1::SignedApprovalRecord record;
  record.set_tbs(body.SerializeAsString());
  absl::StatusOr<v1::Signature> signature =
      SignObject(key, SignedObject::kApprovalRecord, record.tbs());
  if (!signature.ok()) return signature.status();
  *record.mutable_signature() = *std::move(signature);
  return record;
}

ApprovalVerdict VerifyApprovalRecord(const v1::SignedApprovalRecord& record, EVP_PKEY* key,
                                     const std::string& spki_sha256, const std::string& hostname,
                                     absl::Time now, absl::Duration max_age) {
  ApprovalVerdict verdict;
  absl::Status signature =
      VerifyObject(key, SignedObject::kApprovalRecord, record.signature(), record.tbs());
  if (!signature.ok()) {
    verdict.explanation = absl::StrCat(
        "the approval record's signature does not verify under the "
        "approval service's key: ",
        signature.message());
    return verdict;
  }
  absl::Status parsed = ParseSignedBytes(record.tbs(), "the approval record", &verdict.body);
  if (!parsed.ok() || verdict.body.version() != 1) {
    verdict.explanation = parsed.ok() ? "the approval record is not a version 1 ApprovalRecordBody"
                                      : std::string(parsed.message());
    verdict.body.Clear();
    return verdict;
  }
  const v1::ApprovalRecordBody& body = verdict.body;
  if (body.subject_public_key_info_sha256() != spki_sha256) {
    verdict.explanation = absl::StrCat(
        "the approval record ", body.transaction_number(), " is for key ",
        ShortHex(body.subject_public_key_info_sha256()), ", not for key ", ShortHex(spki_sha256));
    return verdict;
  }
  const absl::Time signed_at = absl::FromUnixMillis(body.signed_unix_milliseconds());
  if (now - signed_at > max_age || signed_at - now > absl::Minutes(5)) {
    verdict.explanation =
        absl::StrCat("the approval record ", body.transaction_number(), " was signed at ",
                     absl::FormatTime(signed_at), ", outside the accepted age of ",
                     absl::FormatDuration(max_age));
    return verdict;
  }
  verdict.explanation = ApprovalScopeMismatch(body.transaction_number(), body.domain(),
                                              body.names(), body.whole_domain(), hostname);
  if (!verdict.explanation.empty()) return verdict;
  if (body.state() != v1::ISSUANCE_STATE_APPROVED) {
    verdict.explanation = absl::StrCat("the approval request ", body.transaction_number(), " for ",
                                       body.domain(), " is ", DescribeIssuanceState(body.state()));
    return verdict;
  }
  verdict.approved = true;
  return verdict;
}

}  // namespace mecai
