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

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/base/single_flight.h"
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

// Uploads one DER response to the signer, within `timeout`, on gRPC's callback API (no thread
// waits), and calls `done` once with the signer's status, from a gRPC thread.
void UploadEvidenceToSignerAsync(v1::SignerService::StubInterface& signer, std::string response_der,
                                 absl::Duration timeout, std::function<void(grpc::Status)> done);

// Thread-safe (the stub is). Every dependency must outlive it.
class SignerEvidenceUpload {
 public:
  // The bytes of a response by its SHA-256 (e.g. from the record store), for a request that named
  // one by hash without carrying its bytes.
  using EvidenceSource = std::function<absl::StatusOr<std::string>(const std::string& sha256)>;

  // Runs work elsewhere than on a gRPC thread (the store read of `source`, the hashing of what is
  // uploaded).
  using Executor = std::function<void(std::function<void()>)>;

  // `timeout` bounds each call to the signer (CoordinatorConfig.signer_timeout_milliseconds);
  // `metrics` may be null; `source`, when set, is asked for a response the signer needs that the
  // request's evidence does not carry; `executor`, when set, runs what follows an answer that asks
  // for evidence (otherwise the gRPC thread that has the answer does).
  SignerEvidenceUpload(v1::SignerService::StubInterface& signer, absl::Duration timeout,
                       CoordinatorMetrics* metrics, EvidenceSource source = nullptr,
                       Executor executor = nullptr)
      : signer_(signer),
        timeout_(timeout),
        metrics_(metrics),
        source_(std::move(source)),
        executor_(std::move(executor)) {}

  // Sends `request` (its revocation evidence by hash, AddEvidenceByHash) to the signer. When the
  // signer answers evidence_needed, uploads each response of `evidence` it names and sends
  // `request` once more (concurrent requests that need the same response share one upload); when it
  // still answers evidence_needed, or names a response `evidence` does not hold, the response
  // becomes a SIGNER_REFUSED refusal. A failed upload is answered as its status. Otherwise the
  // status and response are the signer's last answer. Every call is on gRPC's callback API: no
  // thread waits for the signer (ARCHITECTURE.md §13). `done` is called once, from a gRPC thread
  // (or this one), and must not block.
  using SignDone = std::function<void(grpc::Status, v1::SignVouchingResponse)>;
  void SignVouchingAsync(v1::SignVouchingRequest request,
                         std::vector<v1::RevocationEvidence> evidence, SignDone done);

  // SignVouchingAsync, waiting for its answer. Not for gRPC's threads.
  grpc::Status SignVouching(const v1::SignVouchingRequest& request,
                            const std::vector<v1::RevocationEvidence>& evidence,
                            v1::SignVouchingResponse* response);

 private:
  // One signing on its way: the request and evidence outlive its calls.
  struct Signing;
  using UploadDone = std::function<void(grpc::Status)>;

  // One SignVouching call of `signing`; `then` gets the signer's answer.
  void Call(std::shared_ptr<Signing> signing,
            std::function<void(grpc::Status, v1::SignVouchingResponse)> then);
  // After the first answer asked for evidence: uploads what it names, then asks again.
  void UploadNeeded(std::shared_ptr<Signing> signing, v1::SignVouchingResponse first);
  // Uploads `der` (whose SHA-256 is `sha256`), or joins the upload of it already under way.
  void UploadOnce(const std::string& sha256, std::string der, UploadDone done);

  v1::SignerService::StubInterface& signer_;
  const absl::Duration timeout_;
  CoordinatorMetrics* const metrics_;
  const EvidenceSource source_;
  const Executor executor_;
  // The uploads under way, by SHA-256, with the signings waiting for each.
  SingleFlight<grpc::Status> uploads_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_SIGNER_EVIDENCE_UPLOAD_H_
