#include "signer/signer_service.h"

#include <string>
#include <vector>

#include "common/base/logging.h"
#include "common/crypto/hashing.h"
#include "common/rpc/grpc_server.h"
#include "common/rpc/grpc_status.h"

namespace mecai {

grpc::Status SignerServiceImpl::SignVouching(grpc::ServerContext* /*context*/,
                                             const v1::SignVouchingRequest* request,
                                             v1::SignVouchingResponse* response) {
  if (evidence_.metrics != nullptr) {
    evidence_.metrics->RecordSignVouchingRequestBytes(request->ByteSizeLong());
  }
  auto result = signer_.SignVouching(*request);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status SignerServiceImpl::SignCheckpoint(grpc::ServerContext* /*context*/,
                                               const v1::SignCheckpointRequest* request,
                                               v1::SignCheckpointResponse* response) {
  auto result = signer_.SignCheckpoint(*request);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status SignerServiceImpl::ApplyTrustListChange(grpc::ServerContext* context,
                                                     const v1::ApplyTrustListChangeRequest* request,
                                                     v1::ApplyTrustListChangeResponse* response) {
  std::string caller = "an unauthenticated caller";
  if (context != nullptr && context->auth_context() != nullptr) {
    std::vector<std::string> identities = PeerIdentities(*context->auth_context());
    if (!identities.empty()) caller = identities.front();
  }
  absl::StatusOr<VerifiedTrustListChange> applied;
  if (!request->has_signed_change()) {
    applied = absl::InvalidArgumentError(
        "the request carries no signed trust-list change; the signer applies only changes a "
        "trust-list maintainer signed");
  } else if (trust_list_changes_ == nullptr) {
    applied = absl::PermissionDeniedError("this signer accepts no trust-list change");
  } else {
    applied = trust_list_changes_->Apply(request->signed_change());
  }
  if (!applied.ok()) {
    if (applied.status().code() == absl::StatusCode::kAlreadyExists) {
      MECAI_LOG_EVENT(Info, "trust_list_change_repeated")
          << "trust-list change from " << caller << ": " << applied.status().message();
    } else {
      MECAI_LOG_EVENT(Warning, "trust_list_change_refused")
          << "refused a trust-list change from " << caller << ": " << applied.status().message();
    }
    return ToGrpcStatus(applied.status());
  }
  MECAI_LOG_EVENT(Warning, "trust_list_changed")
      << "trust list '" << applied->body.trust_list()
      << "': " << v1::TrustListChange::Action_Name(applied->body.action()) << " "
      << HexEncode(applied->body.root_sha256()) << ", sequence " << applied->body.sequence()
      << ", signed by maintainer key " << ShortHex(applied->maintainer_key_sha256)
      << ", relayed by " << caller << " (" << applied->body.reason() << ")";
  *response->mutable_change() = applied->ToRecord();
  return grpc::Status::OK;
}

grpc::ServerReadReactor<v1::UploadEvidenceRequest>* SignerServiceImpl::UploadEvidence(
    grpc::CallbackServerContext* context, v1::UploadEvidenceResponse* response) {
  return StartEvidenceUpload(context, response, evidence_.cache, evidence_.limits,
                             evidence_.metrics);
}

}  // namespace mecai
