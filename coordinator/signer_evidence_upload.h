// The coordinator's side of evidence by content hash (ARCHITECTURE.md §8 "Evidence by content
// hash"): a SignVouching request names each revocation response by its SHA-256 only; when the
// signer answers that it does not hold some (evidence_needed), exactly those are uploaded
// (SignerService.UploadEvidence, in chunks of at most 256 KiB) and the request is sent once more.
// A CRL is thus sent to a signer once, not with every VR it covers.
#ifndef MECAI_COORDINATOR_SIGNER_EVIDENCE_UPLOAD_H_
#define MECAI_COORDINATOR_SIGNER_EVIDENCE_UPLOAD_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "coordinator/coordinator_metrics.h"
#include "grpcpp/grpcpp.h"
#include "proto/mecai/v1/signer.grpc.pb.h"

namespace mecai {

// The size of each UploadEvidence message's chunk (signer.proto: at most 256 KiB).
inline constexpr size_t kSignerEvidenceChunkBytes = 256 * 1024;

// `evidence` as a SignVouchingRequest carries it: every response named by response_sha256 (the
// SHA-256 of its response_der), without its bytes.
void AddEvidenceByHash(const std::vector<v1::RevocationEvidence>& evidence,
                       v1::SignVouchingRequest* request);

// Uploads one DER response to the signer, within `timeout`. The signer's status otherwise.
grpc::Status UploadEvidenceToSigner(v1::SignerService::StubInterface& signer,
                                    const std::string& response_der, absl::Duration timeout);

// Thread-safe (the stub is). Every dependency must outlive it.
class SignerEvidenceUpload {
 public:
  // `timeout` bounds each call to the signer (CoordinatorConfig.signer_timeout_milliseconds);
  // `metrics` may be null.
  SignerEvidenceUpload(v1::SignerService::StubInterface& signer, absl::Duration timeout,
                       CoordinatorMetrics* metrics)
      : signer_(signer), timeout_(timeout), metrics_(metrics) {}

  // Sends `request` (its revocation evidence by hash, AddEvidenceByHash) to the signer. When the
  // signer answers evidence_needed, uploads each response of `evidence` it names and sends
  // `request` once more; when it still answers evidence_needed, or names a response `evidence`
  // does not hold, `response` becomes a SIGNER_REFUSED refusal. A failed upload is returned as its
  // status. Otherwise the status and `response` are the signer's last answer.
  grpc::Status SignVouching(const v1::SignVouchingRequest& request,
                            const std::vector<v1::RevocationEvidence>& evidence,
                            v1::SignVouchingResponse* response);

 private:
  grpc::Status Call(const v1::SignVouchingRequest& request, v1::SignVouchingResponse* response);

  v1::SignerService::StubInterface& signer_;
  const absl::Duration timeout_;
  CoordinatorMetrics* const metrics_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_SIGNER_EVIDENCE_UPLOAD_H_
