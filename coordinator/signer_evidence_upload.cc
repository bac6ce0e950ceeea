#include "coordinator/signer_evidence_upload.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/base/logging.h"
#include "common/crypto/hashing.h"
#include "common/evidence/refusal.h"

namespace mecai {

void AddEvidenceByHash(const std::vector<v1::RevocationEvidence>& evidence,
                       v1::SignVouchingRequest* request) {
  for (const v1::RevocationEvidence& item : evidence) {
    v1::RevocationEvidence* sent = request->add_revocation();
    *sent = item;
    if (!item.response_der().empty()) {
      // The revocation checker names each response by the hash it computed once.
      if (item.response_sha256().empty()) sent->set_response_sha256(Sha256(item.response_der()));
      sent->clear_response_der();
    }
  }
}

namespace {

// Whether `evidence` names the response `sha256` by hash, without its bytes.
bool NamesByHash(const std::vector<v1::RevocationEvidence>& evidence, const std::string& sha256) {
  for (const v1::RevocationEvidence& item : evidence) {
    if (item.response_der().empty() && item.response_sha256() == sha256) return true;
  }
  return false;
}

}  // namespace

namespace {

// One UploadEvidence call: the response in chunks of kSignerEvidenceChunkBytes, each written when
// the last is sent. Deletes itself when the call is done.
class EvidenceUploadCall final : public grpc::ClientWriteReactor<v1::UploadEvidenceRequest> {
 public:
  EvidenceUploadCall(v1::SignerService::StubInterface& signer, std::string response_der,
                     absl::Duration timeout, std::function<void(grpc::Status)> done)
      : response_der_(std::move(response_der)), done_(std::move(done)) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    context_.set_wait_for_ready(true);
    signer.async()->UploadEvidence(&context_, &response_, this);
    message_.set_response_sha256(Sha256(response_der_));
    message_.set_total_bytes(response_der_.size());
    WriteNextChunk();
    StartCall();
  }

  void OnWriteDone(bool ok) override {
    // A failed write means the signer ended the call; OnDone says why.
    if (!ok) return;
    if (offset_ < response_der_.size()) {
      message_.Clear();
      WriteNextChunk();
    } else {
      StartWritesDone();
    }
  }

  void OnDone(const grpc::Status& status) override {
    done_(status);
    delete this;
  }

 private:
  // Even an empty response is one message.
  void WriteNextChunk() {
    const size_t length = std::min(kSignerEvidenceChunkBytes, response_der_.size() - offset_);
    message_.set_chunk(response_der_.substr(offset_, length));
    offset_ += length;
    StartWrite(&message_);
  }

  const std::string response_der_;
  const std::function<void(grpc::Status)> done_;
  grpc::ClientContext context_;
  v1::UploadEvidenceRequest message_;
  v1::UploadEvidenceResponse response_;
  size_t offset_ = 0;
};

// One SignVouching call's context and answer, kept alive by the call's callback.
struct SignCall {
  grpc::ClientContext context;
  v1::SignVouchingResponse response;
};

}  // namespace

void UploadEvidenceToSignerAsync(v1::SignerService::StubInterface& signer, std::string response_der,
                                 absl::Duration timeout, std::function<void(grpc::Status)> done) {
  new EvidenceUploadCall(signer, std::move(response_der), timeout, std::move(done));
}

struct SignerEvidenceUpload::Signing {
  v1::SignVouchingRequest request;
  std::vector<v1::RevocationEvidence> evidence;
  SignDone done;
};

void SignerEvidenceUpload::UploadOnce(const std::string& sha256, std::string der, UploadDone done) {
  uploads_.Run(sha256, std::move(done), [&](UploadDone finished) {
    const size_t bytes = der.size();
    UploadEvidenceToSignerAsync(signer_, std::move(der), timeout_,
                                [this, bytes, finished](grpc::Status status) {
                                  if (metrics_ != nullptr) {
                                    metrics_->RecordSignerEvidenceUpload(status.ok(), bytes);
                                  }
                                  finished(std::move(status));
                                });
  });
}

void SignerEvidenceUpload::Call(std::shared_ptr<Signing> signing,
                                std::function<void(grpc::Status, v1::SignVouchingResponse)> then) {
  auto call = std::make_shared<SignCall>();
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  // A signer that is restarting is waited for within the deadline, not failed at once while the
  // channel backs off between reconnection attempts.
  call->context.set_wait_for_ready(true);
  signer_.async()->SignVouching(&call->context, &signing->request, &call->response,
                                [call, signing, then = std::move(then)](grpc::Status status) {
                                  then(std::move(status), std::move(call->response));
                                });
}

void SignerEvidenceUpload::SignVouchingAsync(v1::SignVouchingRequest request,
                                             std::vector<v1::RevocationEvidence> evidence,
                                             SignDone done) {
  auto signing =
      std::make_shared<Signing>(Signing{std::move(request), std::move(evidence), std::move(done)});
  Call(signing, [this, signing](grpc::Status status, v1::SignVouchingResponse response) {
    if (!status.ok() || !response.has_evidence_needed()) {
      return signing->done(std::move(status), std::move(response));
    }
    if (executor_ == nullptr) return UploadNeeded(signing, std::move(response));
    auto first = std::make_shared<v1::SignVouchingResponse>(std::move(response));
    executor_([this, signing, first] { UploadNeeded(signing, std::move(*first)); });
  });
}

void SignerEvidenceUpload::UploadNeeded(std::shared_ptr<Signing> signing,
                                        v1::SignVouchingResponse first) {
  absl::flat_hash_map<std::string, const std::string*> by_sha256;
  for (const v1::RevocationEvidence& item : signing->evidence) {
    if (!item.response_der().empty())
      by_sha256.emplace(Sha256(item.response_der()), &item.response_der());
  }
  std::vector<std::pair<std::string, std::string>> uploads;  // SHA-256, DER.
  for (const std::string& sha256 : first.evidence_needed().response_sha256()) {
    auto it = by_sha256.find(sha256);
    if (it != by_sha256.end()) {
      uploads.emplace_back(sha256, *it->second);
      continue;
    }
    // A response the request named by hash only comes from the source (the record store).
    absl::StatusOr<std::string> from_source = absl::NotFoundError("not carried");
    if (source_ != nullptr && NamesByHash(signing->evidence, sha256)) from_source = source_(sha256);
    if (!from_source.ok()) {
      v1::SignVouchingResponse refused;
      *refused.mutable_refusal() = MakeRefusal(
          v1::SIGNER_REFUSED, absl::StrCat("the signer asked for revocation evidence ",
                                           ShortHex(sha256), " that the request did not name"));
      return signing->done(grpc::Status::OK, std::move(refused));
    }
    uploads.emplace_back(sha256, *std::move(from_source));
  }

  // Once every upload has ended: the request once more, or the first failed upload's status.
  struct Uploads {
    absl::Mutex mutex;
    size_t left ABSL_GUARDED_BY(mutex) = 0;
    grpc::Status failed ABSL_GUARDED_BY(mutex);
  };
  auto state = std::make_shared<Uploads>();
  auto ask_again = [this, signing] {
    Call(signing, [signing](grpc::Status status, v1::SignVouchingResponse response) {
      if (status.ok() && response.has_evidence_needed()) {
        *response.mutable_refusal() = MakeRefusal(
            v1::SIGNER_REFUSED,
            "the signer still lacks revocation evidence it was just given (another signer "
            "replica, or its evidence cache is too small: evidence_cache_bytes)");
      }
      signing->done(std::move(status), std::move(response));
    });
  };
  if (uploads.empty()) return ask_again();
  {
    absl::MutexLock lock(&state->mutex);
    state->left = uploads.size();
  }
  for (auto& [sha256, der] : uploads) {
    const size_t bytes = der.size();
    UploadOnce(sha256, std::move(der),
               [state, signing, ask_again, sha256 = sha256, bytes](grpc::Status uploaded) {
                 if (!uploaded.ok()) {
                   MECAI_LOG(Warning)
                       << "the signer refused revocation evidence " << ShortHex(sha256) << " ("
                       << bytes << " bytes): " << uploaded.error_message();
                 }
                 grpc::Status failed;
                 {
                   absl::MutexLock lock(&state->mutex);
                   if (!uploaded.ok() && state->failed.ok()) {
                     state->failed = grpc::Status(
                         uploaded.error_code(),
                         absl::StrCat("uploading revocation evidence: ", uploaded.error_message()));
                   }
                   if (--state->left > 0) return;
                   failed = state->failed;
                 }
                 if (!failed.ok()) return signing->done(failed, v1::SignVouchingResponse());
                 ask_again();
               });
  }
}

grpc::Status SignerEvidenceUpload::SignVouching(const v1::SignVouchingRequest& request,
                                                const std::vector<v1::RevocationEvidence>& evidence,
                                                v1::SignVouchingResponse* response) {
  absl::Notification answered;
  grpc::Status status;
  SignVouchingAsync(request, evidence,
                    [&](grpc::Status signer_status, v1::SignVouchingResponse signer_response) {
                      status = std::move(signer_status);
                      *response = std::move(signer_response);
                      answered.Notify();
                    });
  answered.WaitForNotification();
  return status;
}

}  // namespace mecai
