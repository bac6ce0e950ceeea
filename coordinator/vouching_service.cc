#include "coordinator/vouching_service.h"

#include <chrono>
#include <string>
#include <utility>

#include "common/rpc/grpc_status.h"

namespace mecai {

absl::Time CallerDeadline(const grpc::CallbackServerContext& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

grpc::ServerUnaryReactor* VouchingServiceImpl::Vouch(grpc::CallbackServerContext* context,
                                                     const v1::VouchRequest* request,
                                                     v1::VouchResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (request->vouching_request().empty()) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "VouchRequest.vouching_request is empty"));
    return reactor;
  }
  // `request` and `response` live until Finish.
  coordinator_.VouchAsync(request->vouching_request(), CallerDeadline(*context),
                          [reactor, response](absl::StatusOr<v1::VouchResponse> result) {
                            if (!result.ok()) {
                              reactor->Finish(ToGrpcStatus(result.status()));
                              return;
                            }
                            *response = *std::move(result);
                            reactor->Finish(grpc::Status::OK);
                          });
  return reactor;
}

}  // namespace mecai
