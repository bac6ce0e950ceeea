#include "coordinator/approval_checker.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/approval_record.h"
#include "common/hashing.h"
#include "common/refusal.h"

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
      return Refused(
          outcome, absl::StrCat("the approval service at ", address_,
                                " could not be asked for the approval of key ", ShortHex(key), " (",
                                call.error_message(), "); without its record nothing is issued"));
    }
    if (status.has_signed_record()) *outcome.check.add_records() = status.signed_record();
    if (status.state() != v1::ISSUANCE_STATE_APPROVED) {
      return Refused(outcome, absl::StrCat("the approval request ", status.transaction_number(),
                                           " for ", status.domain(), " (key ", ShortHex(key),
                                           ") is ", DescribeIssuanceState(status.state()),
                                           "; issuance needs it approved"));
    }
    if (!IsWithinDomain(hostname, status.domain())) {
      return Refused(outcome, absl::StrCat("the approval request ", status.transaction_number(),
                                           " approves the domain ", status.domain(),
                                           ", which does not cover ", hostname));
    }
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
