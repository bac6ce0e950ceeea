// SignerService.UploadEvidence (ARCHITECTURE.md §8 "Evidence by content hash"): one revocation
// response arrives in chunks and is stored in the signer's evidence cache under the SHA-256 the
// signer computes over it, or refused with nothing stored. The rules of the stream are in
// EvidenceUploadSession; StartEvidenceUpload serves one stream on gRPC's callback API within a
// deadline of its own, so that no thread waits on a slow uploader.
#ifndef MECAI_SIGNER_EVIDENCE_UPLOAD_H_
#define MECAI_SIGNER_EVIDENCE_UPLOAD_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "proto/mecai/v1/signer.pb.h"
#include "signer/evidence_cache.h"
#include "signer/evidence_metrics.h"

namespace mecai {

// The largest chunk of one UploadEvidenceRequest (signer.proto).
inline constexpr size_t kMaxEvidenceChunkBytes = 256 * 1024;

// How an upload ended: the `result` label of mecai_signer_evidence_uploads_total.
inline constexpr char kUploadStored[] = "stored";
inline constexpr char kUploadHashMismatch[] = "hash_mismatch";
inline constexpr char kUploadTooLarge[] = "too_large";
inline constexpr char kUploadChunkTooLarge[] = "chunk_too_large";
inline constexpr char kUploadNoRoom[] = "no_room";
inline constexpr char kUploadTooSlow[] = "too_slow";
inline constexpr char kUploadMalformed[] = "malformed";
inline constexpr char kUploadCancelled[] = "cancelled";

struct EvidenceUploadLimits {
  // SignerConfig.max_evidence_upload_bytes.
  uint64_t max_bytes = 32 << 20;
  // SignerConfig.evidence_upload_timeout_seconds: from the call's start to its last byte.
  absl::Duration timeout = absl::Seconds(30);
};

// The rules of one UploadEvidence stream, message by message (signer.proto UploadEvidence). Not
// thread-safe. The first error ends the upload with nothing stored.
class EvidenceUploadSession {
 public:
  EvidenceUploadSession(EvidenceCache& cache, uint64_t max_bytes);

  // One message of the stream. The first carries the claimed SHA-256 and the total size, which
  // reserve room in the cache; every message carries at most kMaxEvidenceChunkBytes of the bytes.
  absl::Status OnMessage(const v1::UploadEvidenceRequest& message);
  // The caller ended the stream: the bytes are hashed and stored, or refused.
  absl::StatusOr<v1::UploadEvidenceResponse> OnEnd();

  // One of the kUpload* names: how the session ended (kUploadMalformed until it stored).
  const char* result() const { return result_; }

 private:
  absl::Status Fail(const char* result, absl::Status status);

  EvidenceCache& cache_;
  const uint64_t max_bytes_;
  bool started_ = false;
  std::unique_ptr<EvidenceUpload> upload_;
  const char* result_ = kUploadMalformed;
};

// Serves one UploadEvidence call: the reactor deletes itself when the call is done. An upload not
// complete within limits.timeout of the call's start is answered DEADLINE_EXCEEDED and dropped.
// `cache` and `metrics` (may be null) must outlive every call; a null `cache` refuses the call
// (FAILED_PRECONDITION).
grpc::ServerReadReactor<v1::UploadEvidenceRequest>* StartEvidenceUpload(
    grpc::CallbackServerContext* context, v1::UploadEvidenceResponse* response,
    EvidenceCache* cache, const EvidenceUploadLimits& limits, EvidenceMetrics* metrics);

}  // namespace mecai

#endif  // MECAI_SIGNER_EVIDENCE_UPLOAD_H_
