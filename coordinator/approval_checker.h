// The coordinator's side of phone approval (ARCHITECTURE.md §7, MECAI phone-approval proposal): for
// a VR whose trust list requires issuance approval, asks the approval service for the signed record
// of each vouched certificate's key. Fails closed: an answer that is anything but a signed APPROVED
// record covering the hostname refuses with APPROVAL_REQUIRED and a sentence naming the state; no
// answer at all (the service unreachable, past the deadline, or failing) is a fault of the system
// (ARCHITECTURE.md §2 trust rule 2), reported as UNAVAILABLE and never recorded as a decision.
#ifndef MECAI_COORDINATOR_APPROVAL_CHECKER_H_
#define MECAI_COORDINATOR_APPROVAL_CHECKER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "coordinator/call_limit.h"
#include "proto/mecai/v1/approval.grpc.pb.h"
#include "proto/mecai/v1/record.pb.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

struct ApprovalCheckOutcome {
  // Not OK (UNAVAILABLE, naming the approval service) when the approval service gave no answer;
  // then `refusal` and `check` mean nothing and nothing may be recorded or issued.
  absl::Status fault;
  // REFUSAL_REASON_UNSPECIFIED when approved; otherwise APPROVAL_REQUIRED with the reason.
  v1::Refusal refusal;
  // For the quorum record; its records also travel to the signer.
  v1::ApprovalCheck check;
  bool approved() const { return fault.ok() && refusal.reason() == v1::REFUSAL_REASON_UNSPECIFIED; }
};

// Thread-safe (gRPC stubs are). `approval_service` may be null (none configured: every check
// refuses); it must outlive the checker.
class ApprovalChecker {
 public:
  // At most `max_calls_in_flight` calls to the approval service at once (its server has a thread
  // per call, 16 by default); the others wait their turn, within the VR's deadline.
  ApprovalChecker(v1::ApprovalService::StubInterface* approval_service, std::string address,
                  absl::Duration timeout, size_t max_calls_in_flight = 8)
      : approval_service_(approval_service),
        address_(std::move(address)),
        timeout_(timeout),
        calls_(max_calls_in_flight) {}

  // `spki_sha256`: SHA-256 of the SubjectPublicKeyInfo of each vouched certificate (one, or two
  // during a rollover); `hostname` must lie within the approved domain and, when the request named
  // the certificate's names, match one of them (ApprovalScopeMismatch). The coordinator only
  // looks: the signer verifies the records' signatures, age and binding itself.
  ApprovalCheckOutcome Check(const std::vector<std::string>& spki_sha256,
                             const std::string& hostname) const;

  // Check without holding a thread while the approval service answers (gRPC's callback API):
  // `done` is called once, on a gRPC thread, or on the calling thread when no service is
  // configured. It must not block.
  using CheckDone = std::function<void(ApprovalCheckOutcome)>;
  void CheckAsync(const std::vector<std::string>& spki_sha256, const std::string& hostname,
                  CheckDone done) const;

 private:
  // One check between CheckAsync and its `done`: the keys asked one after the other.
  struct PendingCheck;
  // Asks the approval service about the next key of `check`, or ends it when none is left.
  void AskNext(std::shared_ptr<PendingCheck> check) const;
  // What the service's answer `call` / `status` about `key` means: the final outcome (a refusal or
  // a fault), or std::nullopt when the key is approved and the next may be asked.
  static std::optional<ApprovalCheckOutcome> Judge(const std::string& address,
                                                   const std::string& hostname,
                                                   const grpc::Status& call, const std::string& key,
                                                   const v1::IssuanceStatus& status,
                                                   ApprovalCheckOutcome outcome);

  v1::ApprovalService::StubInterface* const approval_service_;
  const std::string address_;
  const absl::Duration timeout_;
  mutable CallLimit calls_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_APPROVAL_CHECKER_H_
