// mecai.v1.ApprovalService over gRPC (mutual TLS, ApprovalConfig.listen): the CA's side of phone
// approval (DESIGN §7, seed 000).
#ifndef MECAI_APPROVAL_APPROVAL_SERVICE_H_
#define MECAI_APPROVAL_APPROVAL_SERVICE_H_

#include "approval/approvals.h"
#include "proto/mecai/v1/approval.grpc.pb.h"

namespace mecai {

// Thread-safe. `approvals` must outlive the service.
class ApprovalServiceImpl final : public v1::ApprovalService::Service {
 public:
  explicit ApprovalServiceImpl(Approvals& approvals) : approvals_(approvals) {}

  grpc::Status SubmitIssuanceRequest(grpc::ServerContext* context,
                                     const v1::SubmitIssuanceRequestRequest* request,
                                     v1::IssuanceStatus* response) override;
  grpc::Status GetIssuanceStatus(grpc::ServerContext* context,
                                 const v1::GetIssuanceStatusRequest* request,
                                 v1::IssuanceStatus* response) override;

 private:
  Approvals& approvals_;
};

}  // namespace mecai

#endif  // MECAI_APPROVAL_APPROVAL_SERVICE_H_
