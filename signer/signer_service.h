// gRPC front of the VouchingSigner: mecai.v1.SignerService, reachable over mutual TLS only.
#ifndef MECAI_SIGNER_SIGNER_SERVICE_H_
#define MECAI_SIGNER_SIGNER_SERVICE_H_

#include "common/evidence/trust_list_change.h"
#include "proto/mecai/v1/signer.grpc.pb.h"
#include "signer/vouching_signer.h"

namespace mecai {

// Thread-safe.
class SignerServiceImpl final : public v1::SignerService::Service {
 public:
  // `trust_list_changes` applies (to the trust lists `signer` checks chains against) and keeps
  // the trust-list changes a maintainer key of this signer's configuration signed; nullptr: every
  // change is refused.
  SignerServiceImpl(VouchingSigner& signer, TrustListChangeLedger* trust_list_changes)
      : signer_(signer), trust_list_changes_(trust_list_changes) {}

  grpc::Status SignVouching(grpc::ServerContext* context, const v1::SignVouchingRequest* request,
                            v1::SignVouchingResponse* response) override;
  grpc::Status SignCheckpoint(grpc::ServerContext* context,
                              const v1::SignCheckpointRequest* request,
                              v1::SignCheckpointResponse* response) override;
  // The coordinator only relays: the signer verifies the maintainer's signature, the sequence and
  // the change itself, keeps it, and only then applies it (docs/PROTOCOL.md).
  grpc::Status ApplyTrustListChange(grpc::ServerContext* context,
                                    const v1::ApplyTrustListChangeRequest* request,
                                    v1::ApplyTrustListChangeResponse* response) override;

 private:
  VouchingSigner& signer_;
  TrustListChangeLedger* const trust_list_changes_;
};

}  // namespace mecai

#endif  // MECAI_SIGNER_SIGNER_SERVICE_H_
