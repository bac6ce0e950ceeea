#include "signer/signer_service.h"

#include <string>

#include "common/files.h"
#include "common/hashing.h"
#include "common/logging.h"

namespace mecai {
namespace {

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace

grpc::Status SignerServiceImpl::SignVouching(grpc::ServerContext* /*context*/,
                                             const v1::SignVouchingRequest* request,
                                             v1::SignVouchingResponse* response) {
  auto result = signer_.SignVouching(*request);
  if (!result.ok()) return ToGrpc(result.status());
  *response = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status SignerServiceImpl::SignCheckpoint(grpc::ServerContext* /*context*/,
                                               const v1::SignCheckpointRequest* request,
                                               v1::SignCheckpointResponse* response) {
  auto result = signer_.SignCheckpoint(*request);
  if (!result.ok()) return ToGrpc(result.status());
  *response = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status SignerServiceImpl::ApplyTrustListChange(
    grpc::ServerContext* /*context*/, const v1::ApplyTrustListChangeRequest* request,
    v1::ApplyTrustListChangeResponse* /*response*/) {
  absl::MutexLock lock(&changes_mutex_);
  absl::Status applied = lists_.ApplyChange(request->change());
  if (!applied.ok()) return ToGrpc(applied);
  MECAI_LOG(Warning) << "trust list '" << request->change().trust_list()
                     << "': " << v1::TrustListChange::Action_Name(request->change().action()) << " "
                     << HexEncode(request->change().root_sha256()) << " by "
                     << request->change().administrator();
  if (changes_file_.empty()) return grpc::Status::OK;
  v1::TrustListChanges changes;
  auto existing = ReadFile(changes_file_);
  if (existing.ok() && !changes.ParseFromString(*existing)) {
    return grpc::Status(grpc::StatusCode::DATA_LOSS,
                        "the trust-list changes file does not parse; the change is applied but "
                        "not persisted");
  }
  for (const v1::TrustListChange& known : changes.changes()) {
    if (known.SerializeAsString() == request->change().SerializeAsString()) {
      return grpc::Status::OK;  // Re-sent at a coordinator start.
    }
  }
  *changes.add_changes() = request->change();
  return ToGrpc(WriteFileAtomically(changes_file_, changes.SerializeAsString(), 0600));
}

}  // namespace mecai
