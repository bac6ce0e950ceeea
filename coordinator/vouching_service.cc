#include "coordinator/vouching_service.h"

#include <string>

#include "common/rpc/grpc_status.h"

namespace mecai {

grpc::Status VouchingServiceImpl::Vouch(grpc::ServerContext* /*context*/,
                                        const v1::VouchRequest* request,
                                        v1::VouchResponse* response) {
  if (request->vouching_request().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "VouchRequest.vouching_request is empty");
  }
  auto result = coordinator_.Vouch(request->vouching_request());
  if (!result.ok()) {
    return ToGrpcStatus(result.status());
  }
  *response = std::move(*result);
  return grpc::Status::OK;
}

}  // namespace mecai
