// gRPC front of the VouchingSigner: mecai.v1.SignerService, reachable over mutual TLS only.
#ifndef MECAI_SIGNER_SIGNER_SERVICE_H_
#define MECAI_SIGNER_SIGNER_SERVICE_H_

#include "common/evidence/trust_list_change.h"
#include "proto/mecai/v1/signer.grpc.pb.h"
#include "signer/evidence_cache.h"
#include "signer/evidence_metrics.h"
#include "signer/evidence_upload.h"
#include "signer/vouching_signer.h"

namespace mecai {

// Thread-safe. UploadEvidence runs on gRPC's callback API, the other methods synchronously.
class SignerServiceImpl final
    : public v1::SignerService::WithCallbackMethod_UploadEvidence<v1::SignerService::Service> {
 public:
  // Evidence by content hash (ARCHITECTURE.md §8): the cache UploadEvidence stores into (the one
  // `signer` resolves hashes from), its limits, and its metrics (may be null). Without a cache,
  // every upload is refused (FAILED_PRECONDITION).
  struct Evidence {
    EvidenceCache* cache = nullptr;
    EvidenceUploadLimits limits;
    EvidenceMetrics* metrics = nullptr;
  };

  // `trust_list_changes` applies (to the trust lists `signer` checks chains against) and keeps
  // the trust-list changes a maintainer key of this signer's configuration signed; nullptr: every
  // change is refused.
  SignerServiceImpl(VouchingSigner& signer, TrustListChangeLedger* trust_list_changes,
                    Evidence evidence)
      : signer_(signer), trust_list_changes_(trust_list_changes), evidence_(evidence) {}
  SignerServiceImpl(VouchingSigner& signer, TrustListChangeLedger* trust_list_changes)
      : SignerServiceImpl(signer, trust_list_changes, Evidence()) {}

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
  // signer.proto UploadEvidence (signer/evidence_upload.h).
  grpc::ServerReadReactor<v1::UploadEvidenceRequest>* UploadEvidence(
      grpc::CallbackServerContext* context, v1::UploadEvidenceResponse* response) override;

 private:
  VouchingSigner& signer_;
  TrustListChangeLedger* const trust_list_changes_;
  const Evidence evidence_;
};

}  // namespace mecai

#endif  // MECAI_SIGNER_SIGNER_SERVICE_H_
