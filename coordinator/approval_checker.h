// The coordinator's side of phone approval (DESIGN §7, seed 000): for a VR whose trust list
// requires issuance approval, asks the approval service for the signed record of each vouched
// certificate's key. Fails closed: anything but a signed APPROVED record for every key refuses
// with APPROVAL_REQUIRED and a sentence naming the state or the fault.
#ifndef MECAI_COORDINATOR_APPROVAL_CHECKER_H_
#define MECAI_COORDINATOR_APPROVAL_CHECKER_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "proto/mecai/v1/approval.grpc.pb.h"
#include "proto/mecai/v1/record.pb.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

struct ApprovalCheckOutcome {
  // REFUSAL_REASON_UNSPECIFIED when approved; otherwise APPROVAL_REQUIRED with the reason.
  v1::Refusal refusal;
  // For the quorum record; its records also travel to the signer.
  v1::ApprovalCheck check;
  bool approved() const { return refusal.reason() == v1::REFUSAL_REASON_UNSPECIFIED; }
};

// Thread-safe (gRPC stubs are). `approval_service` may be null (none configured: every check
// refuses); it must outlive the checker.
class ApprovalChecker {
 public:
  ApprovalChecker(v1::ApprovalService::StubInterface* approval_service, std::string address,
                  absl::Duration timeout)
      : approval_service_(approval_service), address_(std::move(address)), timeout_(timeout) {}

  // `spki_sha256`: SHA-256 of the SubjectPublicKeyInfo of each vouched certificate (one, or two
  // during a rollover); `hostname` must lie within the approved domain. The coordinator only
  // looks: the signer verifies the records' signatures, age and binding itself.
  ApprovalCheckOutcome Check(const std::vector<std::string>& spki_sha256,
                             const std::string& hostname) const;

 private:
  v1::ApprovalService::StubInterface* const approval_service_;
  const std::string address_;
  const absl::Duration timeout_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_APPROVAL_CHECKER_H_
