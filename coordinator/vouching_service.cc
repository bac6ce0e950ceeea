#include "coordinator/vouching_service.h"

#include <string>

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
    return grpc::Status(static_cast<grpc::StatusCode>(result.status().code()),
                        std::string(result.status().message()));
  }
  *response = std::move(*result);
  return grpc::Status::OK;
}

}  // namespace mecai
