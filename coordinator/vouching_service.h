// gRPC front of the Coordinator: mecai.v1.VouchingService.
#ifndef MECAI_COORDINATOR_VOUCHING_SERVICE_H_
#define MECAI_COORDINATOR_VOUCHING_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "coordinator/coordinator.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"

namespace mecai {

// The caller's gRPC deadline (absl::InfiniteFuture() when it set none).
absl::Time CallerDeadline(const grpc::CallbackServerContext& context);

// Thread-safe. Vouch is on gRPC's callback API: a call holds no thread while its VR is decided
// (ARCHITECTURE.md §13); the answer finishes the call from whichever thread has it.
class VouchingServiceImpl final : public v1::VouchingService::CallbackService {
 public:
  explicit VouchingServiceImpl(Coordinator& coordinator) : coordinator_(coordinator) {}

  grpc::ServerUnaryReactor* Vouch(grpc::CallbackServerContext* context,
                                  const v1::VouchRequest* request,
                                  v1::VouchResponse* response) override;

 private:
  Coordinator& coordinator_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_VOUCHING_SERVICE_H_
