#include "signer/evidence_upload.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/base/logging.h"
#include "common/crypto/hashing.h"
#include "common/crypto/signed_object.h"
#include "common/rpc/grpc_server.h"
#include "common/rpc/grpc_status.h"
#include "grpcpp/alarm.h"

namespace mecai {
namespace {

constexpr size_t kSha256Bytes = 32;

}  // namespace

EvidenceUploadSession::EvidenceUploadSession(EvidenceCache& cache, uint64_t max_bytes)
    : cache_(cache), max_bytes_(max_bytes) {}

absl::Status EvidenceUploadSession::Fail(const char* result, absl::Status status) {
  result_ = result;
  upload_.reset();
  return status;
}

absl::Status EvidenceUploadSession::OnMessage(const v1::UploadEvidenceRequest& message) {
  absl::Status known = RefuseUnknownFields(message, "an UploadEvidence message");
  if (!known.ok()) return Fail(kUploadMalformed, known);
  if (message.chunk().size() > kMaxEvidenceChunkBytes) {
    return Fail(kUploadChunkTooLarge,
                absl::InvalidArgumentError(absl::StrCat(
                    "a chunk carries at most ", kMaxEvidenceChunkBytes, " bytes; this one has ",
                    message.chunk().size(), "; nothing was stored")));
  }
  if (!started_) {
    started_ = true;
    if (message.response_sha256().size() != kSha256Bytes || message.total_bytes() == 0) {
      return Fail(kUploadMalformed,
                  absl::InvalidArgumentError("the first message must carry the response's 32-byte "
                                             "response_sha256 and its total_bytes"));
    }
    if (message.total_bytes() > max_bytes_) {
      return Fail(kUploadTooLarge, absl::ResourceExhaustedError(absl::StrCat(
                                       "a response of ", message.total_bytes(),
                                       " bytes exceeds the signer's limit of ", max_bytes_,
                                       " bytes (max_evidence_upload_bytes); nothing was stored")));
    }
    absl::StatusOr<std::unique_ptr<EvidenceUpload>> upload =
        EvidenceUpload::Begin(cache_, message.response_sha256(), message.total_bytes());
    if (!upload.ok()) return Fail(kUploadNoRoom, upload.status());
    upload_ = *std::move(upload);
  } else if (!message.response_sha256().empty() || message.total_bytes() != 0) {
    return Fail(kUploadMalformed,
                absl::InvalidArgumentError(
                    "only the first message of an upload carries response_sha256 and total_bytes"));
  }
  if (upload_ == nullptr) {
    return absl::FailedPreconditionError("the upload was already refused");
  }
  absl::Status added = upload_->Add(message.chunk());
  if (!added.ok()) return Fail(kUploadTooLarge, added);
  return absl::OkStatus();
}

absl::StatusOr<v1::UploadEvidenceResponse> EvidenceUploadSession::OnEnd() {
  if (upload_ == nullptr) {
    return Fail(kUploadMalformed,
                absl::InvalidArgumentError("the upload carried no valid first message (none, or "
                                           "bytes that do not parse as one); nothing was stored"));
  }
  const uint64_t received = upload_->received_bytes();
  const bool complete = received == upload_->declared_bytes();
  absl::StatusOr<std::string> sha256 = upload_->Finish();
  if (!sha256.ok()) {
    return Fail(complete ? kUploadHashMismatch : kUploadMalformed, sha256.status());
  }
  result_ = kUploadStored;
  v1::UploadEvidenceResponse response;
  response.set_response_sha256(*sha256);
  response.set_stored_bytes(received);
  upload_.reset();
  return response;
}

namespace {

// Thread-safe. Decides, once, who finishes the call: the reactor (the stream ended or was refused)
// or the deadline's alarm. Outlives the reactor (the alarm's callback may run after it).
class FinishClaim {
 public:
  // True for the first caller only.
  bool Claim(bool by_deadline) {
    absl::MutexLock lock(&mutex_);
    if (claimed_) return false;
    claimed_ = true;
    by_deadline_ = by_deadline;
    return true;
  }
  bool claimed() const {
    absl::MutexLock lock(&mutex_);
    return claimed_;
  }
  bool by_deadline() const {
    absl::MutexLock lock(&mutex_);
    return by_deadline_;
  }

 private:
  mutable absl::Mutex mutex_;
  bool claimed_ ABSL_GUARDED_BY(mutex_) = false;
  bool by_deadline_ ABSL_GUARDED_BY(mutex_) = false;
};

// One UploadEvidence call. Reads run one at a time, so the session is touched by one reaction at
// a time; the alarm only finishes the call.
class UploadReactor final : public grpc::ServerReadReactor<v1::UploadEvidenceRequest> {
 public:
  UploadReactor(grpc::CallbackServerContext* context, v1::UploadEvidenceResponse* response,
                EvidenceCache& cache, const EvidenceUploadLimits& limits, EvidenceMetrics* metrics)
      : context_(context),
        response_(response),
        metrics_(metrics),
        timeout_(limits.timeout),
        session_(cache, limits.max_bytes),
        claim_(std::make_shared<FinishClaim>()) {
    // The alarm's callback holds the claim, never the reactor: it finishes the call only when it
    // claims it first, and the reactor lives until its call is finished.
    std::shared_ptr<FinishClaim> claim = claim_;
    alarm_.Set(absl::ToChronoTime(absl::Now() + limits.timeout), [this, claim](bool fired) {
      if (!fired || !claim->Claim(/*by_deadline=*/true)) return;
      Finish(grpc::Status(
          grpc::StatusCode::DEADLINE_EXCEEDED,
          absl::StrCat("the upload was not complete within ", absl::FormatDuration(timeout_),
                       " (evidence_upload_timeout_seconds); nothing was stored")));
    });
    StartRead(&message_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The caller ended the stream (or the call was cancelled).
      if (!claim_->Claim(/*by_deadline=*/false)) return;
      absl::StatusOr<v1::UploadEvidenceResponse> stored = session_.OnEnd();
      if (!stored.ok()) {
        End(stored.status());
        return;
      }
      *response_ = *std::move(stored);
      Finish(grpc::Status::OK);
      return;
    }
    absl::Status accepted = session_.OnMessage(message_);
    if (!accepted.ok()) {
      if (claim_->Claim(/*by_deadline=*/false)) End(accepted);
      return;
    }
    if (claim_->claimed()) return;  // The deadline passed meanwhile.
    StartRead(&message_);
  }

  void OnDone() override {
    const char* result = session_.result();
    if (claim_->by_deadline()) {
      result = kUploadTooSlow;
    } else if (context_->IsCancelled() && result != kUploadStored) {
      result = kUploadCancelled;
    }
    if (metrics_ != nullptr) metrics_->RecordUpload(result);
    delete this;
  }

 private:
  void End(const absl::Status& status) {
    std::string caller = "an unauthenticated caller";
    if (context_->auth_context() != nullptr) {
      std::vector<std::string> identities = PeerIdentities(*context_->auth_context());
      if (!identities.empty()) caller = identities.front();
    }
    MECAI_LOG_EVENT(Warning, "evidence_upload_refused")
        << "refused an evidence upload from " << caller << ": " << status.message();
    Finish(ToGrpcStatus(status));
  }

  grpc::CallbackServerContext* const context_;
  v1::UploadEvidenceResponse* const response_;
  EvidenceMetrics* const metrics_;
  const absl::Duration timeout_;
  EvidenceUploadSession session_;
  v1::UploadEvidenceRequest message_;
  const std::shared_ptr<FinishClaim> claim_;
  grpc::Alarm alarm_;
};

// A call refused before reading anything.
class RefusingReactor final : public grpc::ServerReadReactor<v1::UploadEvidenceRequest> {
 public:
  explicit RefusingReactor(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerReadReactor<v1::UploadEvidenceRequest>* StartEvidenceUpload(
    grpc::CallbackServerContext* context, v1::UploadEvidenceResponse* response,
    EvidenceCache* cache, const EvidenceUploadLimits& limits, EvidenceMetrics* metrics) {
  if (cache == nullptr) {
    return new RefusingReactor(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                            "this signer keeps no evidence by content hash"));
  }
  return new UploadReactor(context, response, *cache, limits, metrics);
}

}  // namespace mecai
