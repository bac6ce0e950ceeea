// gRPC front of the VouchingSigner: mecai.v1.SignerService, reachable over mutual TLS only.
#ifndef MECAI_SIGNER_SIGNER_SERVICE_H_
#define MECAI_SIGNER_SIGNER_SERVICE_H_

#include "absl/synchronization/mutex.h"
#include "common/trust_lists.h"
#include "proto/mecai/v1/signer.grpc.pb.h"
#include "signer/vouching_signer.h"

namespace mecai {

// Thread-safe.
class SignerServiceImpl final : public v1::SignerService::Service {
 public:
  // `lists` are the trust lists `signer` checks chains against; applied trust-list changes are
  // appended to `changes_file` (a v1::TrustListChanges) when it is not empty.
  SignerServiceImpl(VouchingSigner& signer, TrustLists& lists, std::string changes_file)
      : signer_(signer), lists_(lists), changes_file_(std::move(changes_file)) {}

  grpc::Status SignVouching(grpc::ServerContext* context, const v1::SignVouchingRequest* request,
                            v1::SignVouchingResponse* response) override;
  grpc::Status SignCheckpoint(grpc::ServerContext* context,
                              const v1::SignCheckpointRequest* request,
                              v1::SignCheckpointResponse* response) override;
  grpc::Status ApplyTrustListChange(grpc::ServerContext* context,
                                    const v1::ApplyTrustListChangeRequest* request,
                                    v1::ApplyTrustListChangeResponse* response) override;

 private:
  VouchingSigner& signer_;
  TrustLists& lists_;
  const std::string changes_file_;
  absl::Mutex changes_mutex_;  // Serializes writes of changes_file_.
};

}  // namespace mecai

#endif  // MECAI_SIGNER_SIGNER_SERVICE_H_
