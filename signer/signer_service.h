// gRPC front of the VouchingSigner: mecai.v1.SignerService, reachable over mutual TLS only.
#ifndef MECAI_SIGNER_SIGNER_SERVICE_H_
#define MECAI_SIGNER_SIGNER_SERVICE_H_

#include "proto/mecai/v1/signer.grpc.pb.h"
#include "signer/vouching_signer.h"

namespace mecai {

// Thread-safe.
class SignerServiceImpl final : public v1::SignerService::Service {
 public:
  explicit SignerServiceImpl(VouchingSigner& signer) : signer_(signer) {}

  grpc::Status SignVouching(grpc::ServerContext* context, const v1::SignVouchingRequest* request,
                            v1::SignVouchingResponse* response) override;
  grpc::Status SignCheckpoint(grpc::ServerContext* context,
                              const v1::SignCheckpointRequest* request,
                              v1::SignCheckpointResponse* response) override;

 private:
  VouchingSigner& signer_;
};

}  // namespace mecai

#endif  // MECAI_SIGNER_SIGNER_SERVICE_H_
