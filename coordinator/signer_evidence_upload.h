// The coordinator's side of evidence by content hash (ARCHITECTURE.md §8 "Evidence by content
// hash"): a SignVouching request names each revocation response by its SHA-256 only; when the
// signer answers that it does not hold some (evidence_needed), exactly those are uploaded
// (SignerService.UploadEvidence, in chunks of at most 256 KiB) and the request is sent once more.
// A CRL is thus sent to a signer once, not with every VR it covers.
#ifndef MECAI_COORDINATOR_SIGNER_EVIDENCE_UPLOAD_H_
#define MECAI_COORDINATOR_SIGNER_EVIDENCE_UPLOAD_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
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
  // The bytes of a response by its SHA-256 (e.g. from the record store), for a request that named
  // one by hash without carrying its bytes.
  using EvidenceSource = std::function<absl::StatusOr<std::string>(const std::string& sha256)>;

  // `timeout` bounds each call to the signer (CoordinatorConfig.signer_timeout_milliseconds);
  // `metrics` may be null; `source`, when set, is asked for a response the signer needs that the
  // request's evidence does not carry.
  SignerEvidenceUpload(v1::SignerService::StubInterface& signer, absl::Duration timeout,
                       CoordinatorMetrics* metrics, EvidenceSource source = nullptr)
      : signer_(signer), timeout_(timeout), metrics_(metrics), source_(std::move(source)) {}

  // Sends `request` (its revocation evidence by hash, AddEvidenceByHash) to the signer. When the
  // signer answers evidence_needed, uploads each response of `evidence` it names and sends
  // `request` once more (concurrent requests that need the same response share one upload); when it
  // still answers evidence_needed, or names a response `evidence` does not hold, `response` becomes
  // a SIGNER_REFUSED refusal. A failed upload is returned as its status. Otherwise the status and
  // `response` are the signer's last answer.
  grpc::Status SignVouching(const v1::SignVouchingRequest& request,
                            const std::vector<v1::RevocationEvidence>& evidence,
                            v1::SignVouchingResponse* response);

 private:
  // One upload under way, which concurrent requests for the same response wait for.
  struct InFlight {
    absl::Notification done;
    grpc::Status status;  // Set before `done` is notified.
  };

  grpc::Status Call(const v1::SignVouchingRequest& request, v1::SignVouchingResponse* response);
  // Uploads `der` (whose SHA-256 is `sha256`), or waits for the upload of it already under way.
  grpc::Status UploadOnce(const std::string& sha256, const std::string& der);

  v1::SignerService::StubInterface& signer_;
  const absl::Duration timeout_;
  CoordinatorMetrics* const metrics_;
  const EvidenceSource source_;
  absl::Mutex mutex_;
  absl::flat_hash_map<std::string, std::shared_ptr<InFlight>> in_flight_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_SIGNER_EVIDENCE_UPLOAD_H_
