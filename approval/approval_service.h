// mecai.v1.ApprovalService over gRPC (mutual TLS, ApprovalConfig.listen): the CA's side of phone
// approval (ARCHITECTURE.md §7, MECAI phone-approval proposal).
#ifndef MECAI_APPROVAL_APPROVAL_SERVICE_H_
#define MECAI_APPROVAL_APPROVAL_SERVICE_H_

#include "approval/approval_metrics.h"
#include "approval/approvals.h"
#include "common/base/clock.h"
#include "common/crypto/signature.h"
#include "proto/mecai/v1/approval.grpc.pb.h"

namespace mecai {

// Thread-safe. Every dependency must outlive the service.
class ApprovalServiceImpl final : public v1::ApprovalService::Service {
 public:
  // `record_key` (ApprovalConfig.signing_key_file) signs the SignedApprovalRecord of every
  // GetIssuanceStatus answer; null: answers carry none. `metrics` may be null.
  ApprovalServiceImpl(Approvals& approvals, SigningKey* record_key, const Clock& clock,
                      ApprovalMetrics* metrics = nullptr)
      : approvals_(approvals), record_key_(record_key), clock_(clock), metrics_(metrics) {}

  grpc::Status SubmitIssuanceRequest(grpc::ServerContext* context,
                                     const v1::SubmitIssuanceRequestRequest* request,
                                     v1::IssuanceStatus* response) override;
  grpc::Status GetIssuanceStatus(grpc::ServerContext* context,
                                 const v1::GetIssuanceStatusRequest* request,
                                 v1::IssuanceStatus* response) override;

 private:
  Approvals& approvals_;
  SigningKey* const record_key_;
  const Clock& clock_;
  ApprovalMetrics* const metrics_;
};

}  // namespace mecai

#endif  // MECAI_APPROVAL_APPROVAL_SERVICE_H_
