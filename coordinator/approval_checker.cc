#include "coordinator/approval_checker.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
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

struct ApprovalChecker::PendingCheck {
  std::vector<std::string> keys;
  std::string hostname;
  size_t next = 0;
  ApprovalCheckOutcome outcome;
  CheckDone done;
  // The call in flight.
  std::unique_ptr<grpc::ClientContext> context;
  v1::GetIssuanceStatusRequest request;
  v1::IssuanceStatus status;
};

ApprovalCheckOutcome ApprovalChecker::Check(const std::vector<std::string>& spki_sha256,
                                            const std::string& hostname) const {
  absl::Notification checked;
  ApprovalCheckOutcome outcome;
  CheckAsync(spki_sha256, hostname, [&checked, &outcome](ApprovalCheckOutcome result) {
    outcome = std::move(result);
    checked.Notify();
  });
  checked.WaitForNotification();
  return outcome;
}

void ApprovalChecker::CheckAsync(const std::vector<std::string>& spki_sha256,
                                 const std::string& hostname, CheckDone done) const {
  auto check = std::make_shared<PendingCheck>();
  check->outcome.check.set_required(true);
  check->hostname = hostname;
  check->done = std::move(done);
  if (approval_service_ == nullptr) {
    return check->done(
        Refused(check->outcome,
                "the trust list requires an out-of-band approval record, but this Vouching "
                "Server has no approval service configured"));
  }
  for (const std::string& key : spki_sha256) {
    if (std::find(check->keys.begin(), check->keys.end(), key) == check->keys.end()) {
      check->keys.push_back(key);
    }
  }
  AskNext(std::move(check));
}

void ApprovalChecker::AskNext(std::shared_ptr<PendingCheck> check) const {
  if (check->next == check->keys.size()) {
    ApprovalCheckOutcome& outcome = check->outcome;
    outcome.check.set_approved(true);
    outcome.check.set_detail(absl::StrCat("approved out of band for ",
                                          check->keys.size() == 1 ? "the key" : "both keys"));
    return check->done(std::move(outcome));
  }
  const std::string& key = check->keys[check->next];
  check->request.Clear();
  check->request.set_subject_public_key_info_sha256(key);
  // The approval that covers this host, not merely the latest request for the key.
  check->request.set_hostname(check->hostname);
  check->status.Clear();
  calls_.Run([this, check = std::move(check)](std::function<void()> end) mutable {
    // The timeout counts from the call's start, not from its wait for a place.
    check->context = std::make_unique<grpc::ClientContext>();
    check->context->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    PendingCheck* raw = check.get();
    approval_service_->async()->GetIssuanceStatus(
        raw->context.get(), &raw->request, &raw->status,
        [this, check = std::move(check), end = std::move(end)](grpc::Status call) mutable {
          end();
          std::optional<ApprovalCheckOutcome> ended =
              Judge(address_, check->hostname, call, check->keys[check->next], check->status,
                    check->outcome);
          if (ended.has_value()) return check->done(*std::move(ended));
          if (check->status.has_signed_record()) {
            *check->outcome.check.add_records() = check->status.signed_record();
          }
          ++check->next;
          AskNext(std::move(check));
        });
  });
}

std::optional<ApprovalCheckOutcome> ApprovalChecker::Judge(
    const std::string& address, const std::string& hostname, const grpc::Status& call,
    const std::string& key, const v1::IssuanceStatus& status, ApprovalCheckOutcome outcome) {
  if (call.error_code() == grpc::StatusCode::NOT_FOUND) {
    return Refused(outcome, absl::StrCat("issuance needs an out-of-band approval, and the "
                                         "approval service has no request for key ",
                                         ShortHex(key), "; ask the CA to submit one"));
  }
  if (!call.ok()) {
    // No answer is not a decision (trust rule 2): the VR may be sent again once the service
    // is back, and until then nothing is issued.
    outcome.fault = absl::UnavailableError(absl::StrCat(
        "the approval service at ", address, " did not answer for key ", ShortHex(key), " (",
        absl::StatusCodeToString(static_cast<absl::StatusCode>(call.error_code())), ": ",
        call.error_message(), "); nothing was issued or recorded, send the VR again later"));
    return outcome;
  }
  if (status.has_signed_record()) *outcome.check.add_records() = status.signed_record();
  if (status.state() != v1::ISSUANCE_STATE_APPROVED) {
    return Refused(outcome, absl::StrCat("the approval request ", status.transaction_number(),
                                         " for ", status.domain(), " (key ", ShortHex(key), ") is ",
                                         DescribeIssuanceState(status.state()),
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
  return std::nullopt;
}

}  // namespace mecai
