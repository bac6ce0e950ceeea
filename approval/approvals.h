// The decision procedure of phone approval (ARCHITECTURE.md §7, the remedy of MECAI phone-approval
// proposal): a CA's request is recorded, the domain's registry contacts are looked up over RDAP
// (RFC 9083) and called through a voice gateway with a transaction number, a random approval code
// and the approval site — in the background, on a bounded pool of workers — and a person on the
// certapproval page then approves or rejects it with the code. Codes expire, wrong codes are
// counted and lock the request, codes are compared in constant time, and every step is in the
// request's audit trail (docs/APPROVAL.md).
#ifndef MECAI_APPROVAL_APPROVALS_H_
#define MECAI_APPROVAL_APPROVALS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "approval/approval_code.h"
#include "approval/approval_metrics.h"
#include "approval/approval_store.h"
#include "approval/call_queue.h"
#include "approval/rdap.h"
#include "approval/sleeper.h"
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
  // RDAP servers and limits (its timeout and allow_http are set from http_timeout and
  // allow_http).
  RdapOptions rdap;
  // Backoff and bearer token of the gateway (url, attempts, timeout and allow_http are set from
  // the fields above).
  VoiceGatewayOptions gateway;
  // http:// URLs for RDAP and the gateway (ApprovalConfig.allow_http_for_testing).
  bool allow_http = false;
  // Workers that run the RDAP lookups and calls in the background (ApprovalConfig.call_workers).
  // 0: Submit runs them itself before it answers (tests of the procedure alone).
  size_t call_workers = 0;
  size_t max_pending_calls = 1000;
  // Compares the stored code hash with the hash of the entered code. Always ConstantTimeEquals in
  // production; tests wrap it to observe that it is used.
  bool (*secret_equals)(absl::string_view, absl::string_view) = nullptr;

  // `voice_gateway_token` is the content of ApprovalConfig.voice_gateway_token_file.
  static ApprovalOptions FromConfig(const v1::ApprovalConfig& config,
                                    const std::string& voice_gateway_token = "");
};

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
  // What was entered cannot be a code (empty, not digits, wrong length): refused without using
  // an attempt; DecisionOutcome.message says why.
  kMalformedCode,
};

struct DecisionOutcome {
  DecisionResult result;
  v1::IssuanceStatus status;
  // For kMalformedCode: a sentence for the person ("the approval code has 8 digits; ...").
  std::string message;
};

enum class Decision { kApprove, kReject };

// Thread-safe. Dependencies must outlive the object.
class Approvals {
 public:
  // `metrics` may be null. `sleeper` (the gateway's backoff) may be null: an
  // InterruptibleSleeper of the object's own, stopped when it is destroyed.
  Approvals(ApprovalOptions options, ApprovalStore& store, HttpFetcher& fetcher, const Clock& clock,
            RandomSource& random, ApprovalMetrics* metrics = nullptr, Sleeper* sleeper = nullptr);
  // Ends backoff waits; calls not yet started stay CALLING in the store (see
  // RecoverInterruptedCalls).
  ~Approvals();

  // Validates and records the request (state CALLING) and answers at once; the RDAP lookup and
  // the calls follow on a worker (inside Submit when options.call_workers is 0). The transaction
  // number is the CA's, in canonical form, or drawn by the service when it sent none. A request
  // whose transaction number is stored already answers with the stored request's current state
  // when domain, key and requester are the same (idempotent), and ALREADY_EXISTS otherwise.
  // INVALID_ARGUMENT naming the bad field; RESOURCE_EXHAUSTED when max_pending_calls requests
  // wait for a worker (nothing recorded); store errors.
  absl::StatusOr<v1::IssuanceStatus> Submit(const v1::SubmitIssuanceRequestRequest& request);

  // The request with its audit trail; a pending request whose code has expired is first marked
  // EXPIRED. `transaction_number` as typed (NormalizeTransactionNumber). NOT_FOUND when unknown.
  absl::StatusOr<v1::IssuanceStatus> GetStatus(const std::string& transaction_number);
  // The request for the key (approval.proto GetIssuanceStatusRequest): the latest APPROVED one
  // that covers `hostname` (RFC 6125 §6.4.3, ApprovalScopeMismatch), else the latest that covers
  // it, else the latest; with an empty `hostname` the latest APPROVED one, else the latest.
  absl::StatusOr<v1::IssuanceStatus> GetStatusByKey(const std::string& spki_sha256,
                                                    const std::string& hostname = "");

  // The page shows the request to someone at `remote_address`: recorded as PAGE_VIEWED.
  // `transaction_number` as typed.
  absl::StatusOr<v1::IssuanceStatus> View(const std::string& transaction_number,
                                          const std::string& remote_address);

  // A person entered `code` (as typed: spaces and dashes are ignored) to approve or reject.
  // Malformed input is kMalformedCode and uses no attempt; every other outcome is recorded, and
  // only kWrongCode and kLocked (on the last attempt) change the attempt count. NOT_FOUND for an
  // unknown request.
  absl::StatusOr<DecisionOutcome> Decide(const std::string& transaction_number,
                                         absl::string_view code, Decision decision,
                                         const std::string& remote_address);

  // At start: requests left CALLING by a stopped process cannot resume their calls (only the
  // code's hash was stored), so each is marked FAILED with that reason. Returns how many.
  absl::StatusOr<int> RecoverInterruptedCalls();

  // Blocks until no RDAP lookup or call is queued or running (tests; shutdown).
  void WaitUntilIdle();

  const ApprovalOptions& options() const { return options_; }

 private:
  struct Submission;
  struct CallOutcome;

  absl::StatusOr<v1::IssuanceStatus> SubmitOnce(const v1::SubmitIssuanceRequestRequest& request,
                                                std::string* metric_result);
  // What `request` asks for; INVALID_ARGUMENT naming the first bad field.
  static absl::StatusOr<Submission> Validate(const v1::SubmitIssuanceRequestRequest& request);
  // Stores the new request, CALLING, with the salted hash of `code`; ALREADY_EXISTS for a stored
  // transaction number. Returns its status.
  absl::StatusOr<v1::IssuanceStatus> Record(const Submission& submission,
                                            const std::string& transaction_number,
                                            absl::string_view code);
  // The lookup and the calls of one recorded request, then their outcome in the store.
  void LookUpAndCall(const std::string& transaction_number, const std::string& code);
  // Looks up the domain's phone numbers over RDAP and calls each with `code`.
  CallOutcome CallContacts(const v1::IssuanceStatus& status, absl::string_view code);
  // Adds the calls and their events to the stored request, which then awaits approval if a call
  // was placed and FAILS otherwise (unless a person decided meanwhile or the code expired).
  absl::Status StoreCalls(const std::string& transaction_number, const CallOutcome& outcome);
  absl::StatusOr<DecisionOutcome> DecideOnce(const std::string& transaction_number,
                                             absl::string_view code, Decision decision,
                                             const std::string& remote_address);
  // Sets the state (and its sentence; decided time for final states), counts it and logs it.
  void EnterState(v1::IssuanceStatus& status, v1::IssuanceState state,
                  const std::string& detail) const;
  v1::AuditEvent Event(v1::AuditEventKind kind, std::string detail,
                       const std::string& remote_address = "") const;
  // Marks a pending request whose code expired as EXPIRED; true when it did.
  bool ExpireIfDue(StoredRequest& request, std::vector<v1::AuditEvent>* events) const;
  // Places one call through the gateway with retries; records each attempt.
  v1::PhoneCall Call(const RdapPhoneContact& contact, const std::string& message,
                     std::vector<v1::AuditEvent>* events);

  const ApprovalOptions options_;
  ApprovalStore& store_;
  const Clock& clock_;
  RandomSource& random_;
  ApprovalMetrics* const metrics_;
  // Used when the constructor was given no sleeper.
  InterruptibleSleeper own_sleeper_;
  Sleeper& sleeper_;
  const RdapClient rdap_;
  const VoiceGatewayClient gateway_;
  // Null when options.call_workers is 0. Last: destroyed (its workers joined) first.
  std::unique_ptr<CallQueue> queue_;
};

}  // namespace mecai

#endif  // MECAI_APPROVAL_APPROVALS_H_
