#include "signer/signer_service.h"

#include <string>

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
  auto result = signer_.SignCheckpoint(request->checkpoint());
  if (!result.ok()) return ToGrpc(result.status());
  *response->mutable_checkpoint() = std::move(*result);
  return grpc::Status::OK;
}

}  // namespace mecai
