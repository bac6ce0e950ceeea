#include "approval/approval_service.h"

#include <string>

#include "common/evidence/approval_record.h"
#include "common/rpc/grpc_status.h"

namespace mecai {

grpc::Status ApprovalServiceImpl::SubmitIssuanceRequest(
    grpc::ServerContext* /*context*/, const v1::SubmitIssuanceRequestRequest* request,
    v1::IssuanceStatus* response) {
  absl::StatusOr<v1::IssuanceStatus> status = approvals_.Submit(*request);
  if (!status.ok()) return ToGrpcStatus(status.status());
  *response = *std::move(status);
  return grpc::Status::OK;
}

grpc::Status ApprovalServiceImpl::GetIssuanceStatus(grpc::ServerContext* /*context*/,
                                                    const v1::GetIssuanceStatusRequest* request,
                                                    v1::IssuanceStatus* response) {
  absl::StatusOr<v1::IssuanceStatus> status;
  switch (request->lookup_case()) {
    case v1::GetIssuanceStatusRequest::kTransactionNumber:
      status = approvals_.GetStatus(request->transaction_number());
      break;
    case v1::GetIssuanceStatusRequest::kSubjectPublicKeyInfoSha256:
      status =
          approvals_.GetStatusByKey(request->subject_public_key_info_sha256(), request->hostname());
      break;
    default:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "transaction_number or subject_public_key_info_sha256 is required");
  }
  if (!status.ok()) return ToGrpcStatus(status.status());
  *response = *std::move(status);
  // ARCHITECTURE.md §7: the state, signed, so that a VA's signer can check it itself.
  if (record_key_ != nullptr) {
    absl::StatusOr<v1::SignedApprovalRecord> record =
        SignApprovalRecord(*response, *record_key_, clock_.Now());
    if (!record.ok()) return ToGrpcStatus(record.status());
    *response->mutable_signed_record() = *std::move(record);
    if (metrics_ != nullptr) metrics_->RecordSignedRecord();
  }
  return grpc::Status::OK;
}

}  // namespace mecai
