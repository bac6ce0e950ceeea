#include "coordinator/approval_checker.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/crypto/hashing.h"
#include "common/evidence/approval_record.h"
#include "common/evidence/refusal.h"

namespace mecai {
namespace {

ApprovalCheckOutcome Refused(ApprovalCheckOutcome outcome, const std::string& explanation) {
  outcome.check.set_approved(false);
  outcome.check.set_detail(explanation);
  outcome.refusal = MakeRefusal(v1::APPROVAL_REQUIRED, explanation);
  return outcome;
}

}  // namespace

ApprovalCheckOutcome ApprovalChecker::Check(const std::vector<std::string>& spki_sha256,
                                            const std::string& hostname) const {
  ApprovalCheckOutcome outcome;
  outcome.check.set_required(true);
  if (approval_service_ == nullptr) {
    return Refused(outcome,
                   "the trust list requires an out-of-band approval record, but this Vouching "
                   "Server has no approval service configured");
  }
  std::vector<std::string> keys;
  for (const std::string& key : spki_sha256) {
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  }
  for (const std::string& key : keys) {
    v1::GetIssuanceStatusRequest request;
    request.set_subject_public_key_info_sha256(key);
    // The approval that covers this host, not merely the latest request for the key.
    request.set_hostname(hostname);
    v1::IssuanceStatus status;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    grpc::Status call = approval_service_->GetIssuanceStatus(&context, request, &status);
    if (call.error_code() == grpc::StatusCode::NOT_FOUND) {
      return Refused(outcome, absl::StrCat("issuance needs an out-of-band approval, and the "
                                           "approval service has no request for key ",
                                           ShortHex(key), "; ask the CA to submit one"));
    }
    if (!call.ok()) {
      // No answer is not a decision (trust rule 2): the VR may be sent again once the service
      // is back, and until then nothing is issued.
      outcome.fault = absl::UnavailableError(absl::StrCat(
          "the approval service at ", address_, " did not answer for key ", ShortHex(key), " (",
          absl::StatusCodeToString(static_cast<absl::StatusCode>(call.error_code())), ": ",
          call.error_message(), "); nothing was issued or recorded, send the VR again later"));
      return outcome;
    }
    if (status.has_signed_record()) *outcome.check.add_records() = status.signed_record();
    if (status.state() != v1::ISSUANCE_STATE_APPROVED) {
      return Refused(outcome, absl::StrCat("the approval request ", status.transaction_number(),
                                           " for ", status.domain(), " (key ", ShortHex(key),
                                           ") is ", DescribeIssuanceState(status.state()),
                                           "; issuance needs it approved"));
    }
    const std::string mismatch =
        ApprovalScopeMismatch(status.transaction_number(), status.domain(), status.names(),
                              status.whole_domain(), hostname);
    if (!mismatch.empty()) return Refused(outcome, mismatch);
    if (!status.has_signed_record()) {
      return Refused(outcome, absl::StrCat("the approval service did not sign its record of "
                                           "request ",
                                           status.transaction_number(),
                                           "; the signer cannot check the approval"));
    }
  }
  outcome.check.set_approved(true);
  outcome.check.set_detail(
      absl::StrCat("approved out of band for ", keys.size() == 1 ? "the key" : "both keys"));
  return outcome;
}

}  // namespace mecai
