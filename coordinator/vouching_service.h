// gRPC front of the Coordinator: mecai.v1.VouchingService.
#ifndef MECAI_COORDINATOR_VOUCHING_SERVICE_H_
#define MECAI_COORDINATOR_VOUCHING_SERVICE_H_

#include "coordinator/coordinator.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"

namespace mecai {

// Thread-safe. Handlers run on the synchronous server's bounded thread pool.
class VouchingServiceImpl final : public v1::VouchingService::Service {
 public:
  explicit VouchingServiceImpl(Coordinator& coordinator) : coordinator_(coordinator) {}

  grpc::Status Vouch(grpc::ServerContext* context, const v1::VouchRequest* request,
                     v1::VouchResponse* response) override;

 private:
  Coordinator& coordinator_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_VOUCHING_SERVICE_H_
