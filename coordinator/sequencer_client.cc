#include "coordinator/sequencer_client.h"

#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/crypto/hashing.h"
#include "common/rpc/grpc_status.h"
#include "grpcpp/grpcpp.h"

namespace mecai {
namespace {

// `decision` with each revocation response named by its SHA-256 only; `bytes` gets each
// response's DER by that hash.
v1::RecordDecisionRequest ByHash(const v1::RecordDecisionRequest& decision,
                                 absl::flat_hash_map<std::string, std::string>* bytes) {
  v1::RecordDecisionRequest sent = decision;
  for (v1::RevocationEvidence& evidence : *sent.mutable_decision()->mutable_revocation()) {
    if (evidence.response_der().empty()) continue;
    std::string sha256 = Sha256(evidence.response_der());
    evidence.set_response_sha256(sha256);
    bytes->emplace(std::move(sha256), std::move(*evidence.mutable_response_der()));
    evidence.clear_response_der();
  }
  return sent;
}

}  // namespace

SequencerClient::SequencerClient(std::unique_ptr<v1::SequencerService::StubInterface> stub,
                                 std::string address, absl::Duration timeout)
    : stub_(std::move(stub)), address_(std::move(address)), timeout_(timeout) {}

struct SequencerClient::Recording {
  v1::RecordDecisionRequest request;
  // Each response's DER by its SHA-256, for the ones the sequencer asks for.
  absl::flat_hash_map<std::string, std::string> bytes;
  RecordDone done;
  // 0: by hash; 1: with the bytes the sequencer asked for.
  int attempt = 0;
  // One deadline for both calls.
  absl::Time deadline;
  grpc::ClientContext context;
  v1::RecordDecisionResponse response;
};

absl::StatusOr<RecordedDecision> SequencerClient::Record(
    const v1::RecordDecisionRequest& decision) {
  absl::Notification answered;
  absl::StatusOr<RecordedDecision> result = absl::UnknownError("not answered");
  RecordAsync(decision, [&](absl::StatusOr<RecordedDecision> recorded) {
    result = std::move(recorded);
    answered.Notify();
  });
  answered.WaitForNotification();
  return result;
}

void SequencerClient::RecordAsync(v1::RecordDecisionRequest decision, RecordDone done) {
  auto recording = std::make_shared<Recording>();
  recording->request = ByHash(decision, &recording->bytes);
  recording->done = std::move(done);
  recording->deadline = absl::Now() + timeout_;
  Send(std::move(recording));
}

void SequencerClient::Send(std::shared_ptr<Recording> recording) {
  recording->context.set_deadline(absl::ToChronoTime(recording->deadline));
  // A sequencer restarting (a failover) is waited for within the timeout, not failed at once.
  recording->context.set_wait_for_ready(true);
  Recording* raw = recording.get();
  stub_->async()->RecordDecision(
      &raw->context, &raw->request, &raw->response,
      [this, recording = std::move(recording)](grpc::Status status) mutable {
        if (!status.ok()) {
          return recording->done(FromGrpcStatus(
              status, absl::StrCat("the log sequencer ", address_,
                                   " (the decision may have been recorded; the VR sent again is "
                                   "answered from its record if it was)")));
        }
        v1::RecordDecisionResponse& response = recording->response;
        if (response.has_record()) {
          RecordedDecision recorded{std::move(*response.mutable_record()), absl::OkStatus()};
          if (response.signer_fault_code() != 0) {
            recorded.signer_fault =
                absl::Status(static_cast<absl::StatusCode>(response.signer_fault_code()),
                             response.signer_fault_message());
          }
          return recording->done(std::move(recorded));
        }
        if (!response.has_evidence_needed() || recording->attempt > 0) {
          return recording->done(absl::InternalError(
              absl::StrCat("the log sequencer ", address_,
                           " answered neither a record nor the evidence it needs; nothing was "
                           "recorded")));
        }
        // Once more, with the bytes of the responses the sequencer's store lacks.
        for (const std::string& sha256 : response.evidence_needed().response_sha256()) {
          auto it = recording->bytes.find(sha256);
          if (it == recording->bytes.end()) {
            return recording->done(absl::InternalError(
                absl::StrCat("the log sequencer ", address_, " asked for revocation evidence ",
                             ShortHex(sha256), " that the decision did not carry")));
          }
          for (v1::RevocationEvidence& evidence :
               *recording->request.mutable_decision()->mutable_revocation()) {
            if (evidence.response_sha256() == sha256) evidence.set_response_der(it->second);
          }
        }
        auto next = std::make_shared<Recording>();
        next->request = std::move(recording->request);
        next->bytes = std::move(recording->bytes);
        next->done = std::move(recording->done);
        next->attempt = recording->attempt + 1;
        next->deadline = recording->deadline;
        Send(std::move(next));
      });
}

absl::StatusOr<std::optional<v1::QuorumRecord>> SequencerClient::FindByRequestDigest(
    const std::string& sha256) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  // Not waited for: a VR that arrives while the sequencer is down fails at once, before it costs
  // a probe round or its hostname's probe budget.
  v1::FindRecordRequest request;
  request.set_vouching_request_sha256(sha256);
  v1::FindRecordResponse response;
  const grpc::Status status = stub_->FindRecord(&context, request, &response);
  if (!status.ok()) {
    return FromGrpcStatus(status, absl::StrCat("the log sequencer ", address_));
  }
  if (!response.has_record()) return std::nullopt;
  return std::move(*response.mutable_record());
}

}  // namespace mecai
