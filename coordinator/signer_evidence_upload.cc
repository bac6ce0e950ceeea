#include "coordinator/signer_evidence_upload.h"

#include <algorithm>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
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
      sent->set_response_sha256(Sha256(item.response_der()));
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

grpc::Status UploadEvidenceToSigner(v1::SignerService::StubInterface& signer,
                                    const std::string& response_der, absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  context.set_wait_for_ready(true);
  v1::UploadEvidenceResponse response;
  std::unique_ptr<grpc::ClientWriterInterface<v1::UploadEvidenceRequest>> writer =
      signer.UploadEvidence(&context, &response);
  v1::UploadEvidenceRequest message;
  message.set_response_sha256(Sha256(response_der));
  message.set_total_bytes(response_der.size());
  size_t offset = 0;
  do {
    const size_t length = std::min(kSignerEvidenceChunkBytes, response_der.size() - offset);
    message.set_chunk(response_der.substr(offset, length));
    offset += length;
    // A failed write means the signer ended the call; Finish says why.
    if (!writer->Write(message)) break;
    message.Clear();
  } while (offset < response_der.size());
  writer->WritesDone();
  return writer->Finish();
}

grpc::Status SignerEvidenceUpload::UploadOnce(const std::string& sha256, const std::string& der) {
  std::shared_ptr<InFlight> upload;
  bool mine = false;
  {
    absl::MutexLock lock(&mutex_);
    std::shared_ptr<InFlight>& slot = in_flight_[sha256];
    if (slot == nullptr) {
      slot = std::make_shared<InFlight>();
      mine = true;
    }
    upload = slot;
  }
  if (!mine) {
    if (!upload->done.WaitForNotificationWithTimeout(timeout_)) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          "another request's upload of the same response did not end in time");
    }
    return upload->status;
  }
  upload->status = UploadEvidenceToSigner(signer_, der, timeout_);
  if (metrics_ != nullptr) metrics_->RecordSignerEvidenceUpload(upload->status.ok(), der.size());
  {
    absl::MutexLock lock(&mutex_);
    in_flight_.erase(sha256);
  }
  upload->done.Notify();
  return upload->status;
}

grpc::Status SignerEvidenceUpload::Call(const v1::SignVouchingRequest& request,
                                        v1::SignVouchingResponse* response) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  // A signer that is restarting is waited for within the deadline, not failed at once while the
  // channel backs off between reconnection attempts.
  context.set_wait_for_ready(true);
  response->Clear();
  return signer_.SignVouching(&context, request, response);
}

grpc::Status SignerEvidenceUpload::SignVouching(const v1::SignVouchingRequest& request,
                                                const std::vector<v1::RevocationEvidence>& evidence,
                                                v1::SignVouchingResponse* response) {
  grpc::Status status = Call(request, response);
  if (!status.ok() || !response->has_evidence_needed()) return status;
  absl::flat_hash_map<std::string, const std::string*> by_sha256;
  for (const v1::RevocationEvidence& item : evidence) {
    if (!item.response_der().empty())
      by_sha256.emplace(Sha256(item.response_der()), &item.response_der());
  }
  const v1::EvidenceNeeded needed = response->evidence_needed();
  for (const std::string& sha256 : needed.response_sha256()) {
    auto it = by_sha256.find(sha256);
    // A response the request named by hash only comes from the source (the record store).
    absl::StatusOr<std::string> from_source = absl::NotFoundError("not carried");
    if (it == by_sha256.end() && source_ != nullptr && NamesByHash(evidence, sha256)) {
      from_source = source_(sha256);
    }
    if (it == by_sha256.end() && !from_source.ok()) {
      *response->mutable_refusal() = MakeRefusal(
          v1::SIGNER_REFUSED, absl::StrCat("the signer asked for revocation evidence ",
                                           ShortHex(sha256), " that the request did not name"));
      return grpc::Status::OK;
    }
    const std::string& der = it != by_sha256.end() ? *it->second : *from_source;
    const grpc::Status uploaded = UploadOnce(sha256, der);
    if (!uploaded.ok()) {
      MECAI_LOG(Warning) << "the signer refused revocation evidence " << ShortHex(sha256) << " ("
                         << der.size() << " bytes): " << uploaded.error_message();
      return grpc::Status(uploaded.error_code(), absl::StrCat("uploading revocation evidence: ",
                                                              uploaded.error_message()));
    }
  }
  status = Call(request, response);
  if (status.ok() && response->has_evidence_needed()) {
    *response->mutable_refusal() = MakeRefusal(
        v1::SIGNER_REFUSED,
        "the signer still lacks revocation evidence it was just given (another signer replica, "
        "or its evidence cache is too small: evidence_cache_bytes)");
  }
  return status;
}

}  // namespace mecai
