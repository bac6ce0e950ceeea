// The decision procedure of phone approval (ARCHITECTURE.md §7, the remedy of MECAI phone-approval
// proposal): a CA's request is recorded, the domain's registry contacts are looked up over RDAP
// (RFC 9083) and called through a voice gateway with a transaction number, a random approval code
// and the approval site; a person on the certapproval page then approves or rejects it with the
// code. Codes expire, wrong codes are counted and lock the request, codes are compared in constant
// time, and every step is in the request's audit trail.
#ifndef MECAI_APPROVAL_APPROVALS_H_
#define MECAI_APPROVAL_APPROVALS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "approval/approval_code.h"
#include "approval/approval_metrics.h"
#include "approval/approval_store.h"
#include "approval/rdap.h"
#include "approval/voice_gateway.h"
#include "common/base/clock.h"
#include "common/net/http_fetcher.h"
#include "proto/mecai/v1/approval.pb.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

struct ApprovalOptions {
  // From ApprovalConfig (after WithApprovalDefaults).
  size_t code_length = 8;
  absl::Duration code_validity = absl::Minutes(10);
  uint32_t max_attempts = 5;
  uint32_t voice_gateway_attempts = 3;
  absl::Duration http_timeout = absl::Seconds(5);
  std::string voice_gateway_url;
  std::string approval_site_url;
  std::string certificate_authority_name;
  RdapOptions rdap;
  // Compares the stored code hash with the hash of the entered code. Always ConstantTimeEquals in
  // production; tests wrap it to observe that it is used.
  bool (*secret_equals)(absl::string_view, absl::string_view) = nullptr;

  static ApprovalOptions FromConfig(const v1::ApprovalConfig& config);
};

// 6..32 ASCII letters and digits (the CA chooses it; it is spoken and typed by people).
bool IsValidTransactionNumber(absl::string_view transaction_number);

// What a person's attempt on the page came to.
enum class DecisionResult {
  kApproved,
  kRejected,
  // The code did not match; attempts remain.
  kWrongCode,
  // The code did not match and that was the last attempt, or the request was locked before.
  kLocked,
  kExpired,
  // The request was already approved, rejected or failed.
  kAlreadyDecided,
};

struct DecisionOutcome {
  DecisionResult result;
  v1::IssuanceStatus status;
};

enum class Decision { kApprove, kReject };

// Thread-safe. Dependencies must outlive the object.
class Approvals {
 public:
  // `metrics` may be null.
  Approvals(ApprovalOptions options, ApprovalStore& store, HttpFetcher& fetcher, const Clock& clock,
            RandomSource& random, ApprovalMetrics* metrics = nullptr);

  // Validates and records the request, then looks up and calls the contacts (blocking: at most
  // one RDAP request and voice_gateway_attempts gateway requests per number, each bounded by
  // http_timeout). INVALID_ARGUMENT naming the bad field; ALREADY_EXISTS for a used transaction
  // number; store errors. Returns the status after the calls.
  absl::StatusOr<v1::IssuanceStatus> Submit(const v1::SubmitIssuanceRequestRequest& request);

  // The request with its audit trail; a pending request whose code has expired is first marked
  // EXPIRED. NOT_FOUND when unknown.
  absl::StatusOr<v1::IssuanceStatus> GetStatus(const std::string& transaction_number);
  absl::StatusOr<v1::IssuanceStatus> GetStatusByKey(const std::string& spki_sha256);

  // The page shows the request to someone at `remote_address`: recorded as PAGE_VIEWED.
  absl::StatusOr<v1::IssuanceStatus> View(const std::string& transaction_number,
                                          const std::string& remote_address);

  // A person entered `code` to approve or reject. Every outcome is recorded; only kWrongCode and
  // kLocked (on the last attempt) change the attempt count. NOT_FOUND for an unknown request.
  absl::StatusOr<DecisionOutcome> Decide(const std::string& transaction_number,
                                         absl::string_view code, Decision decision,
                                         const std::string& remote_address);

  const ApprovalOptions& options() const { return options_; }

 private:
  struct Submission;
  struct CallOutcome;

  // Submit() without the metrics: Validate, Record, CallContacts, StoreCalls.
  absl::StatusOr<v1::IssuanceStatus> RecordAndCall(const v1::SubmitIssuanceRequestRequest& request);
  // What `request` asks for; INVALID_ARGUMENT naming the first bad field.
  static absl::StatusOr<Submission> Validate(const v1::SubmitIssuanceRequestRequest& request);
  // Stores the new request, CALLING, with the salted hash of `code`; ALREADY_EXISTS for a used
  // transaction number. Returns its status.
  absl::StatusOr<v1::IssuanceStatus> Record(const v1::SubmitIssuanceRequestRequest& request,
                                            const Submission& submission, absl::string_view code);
  // Looks up the domain's phone numbers over RDAP and calls each with `code`.
  CallOutcome CallContacts(const v1::IssuanceStatus& status, absl::string_view code);
  // Adds the calls and their events to the stored request, which then awaits approval if a call
  // was placed and FAILS otherwise (unless a person decided meanwhile).
  absl::Status StoreCalls(const std::string& transaction_number, const CallOutcome& outcome);
  absl::StatusOr<DecisionOutcome> DecideOnce(const std::string& transaction_number,
                                             absl::string_view code, Decision decision,
                                             const std::string& remote_address);
  void CountState(v1::IssuanceState state) const {
    if (metrics_ != nullptr) metrics_->RecordStateEntered(state);
  }
  v1::AuditEvent Event(v1::AuditEventKind kind, std::string detail,
                       const std::string& remote_address = "") const;
  // Marks a pending request whose code expired as EXPIRED; true when it did.
  bool ExpireIfDue(StoredRequest& request, std::vector<v1::AuditEvent>* events) const;
  // The sentence the voice gateway speaks.
  std::string CallMessage(const v1::IssuanceStatus& status, absl::string_view code) const;
  // Places one call through the gateway with retries; records each attempt.
  v1::PhoneCall Call(const std::string& phone_number, const std::string& message,
                     std::vector<v1::AuditEvent>* events);

  const ApprovalOptions options_;
  ApprovalStore& store_;
  const Clock& clock_;
  RandomSource& random_;
  const RdapClient rdap_;
  const VoiceGatewayClient gateway_;
  ApprovalMetrics* const metrics_;
};

}  // namespace mecai

#endif  // MECAI_APPROVAL_APPROVALS_H_
