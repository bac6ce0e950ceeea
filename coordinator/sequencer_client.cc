#include "coordinator/sequencer_client.h"

#include <algorithm>
#include <cstdint>
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
    // The revocation checker names each response by the hash it computed once.
    if (evidence.response_sha256().empty()) {
      evidence.set_response_sha256(Sha256(evidence.response_der()));
    }
    std::string sha256 = evidence.response_sha256();
    bytes->emplace(std::move(sha256), std::move(*evidence.mutable_response_der()));
    evidence.clear_response_der();
  }
  return sent;
}

// `sign_by` as RecordDecisionRequest.sign_by_unix_milliseconds: rounded up, so that the sequencer
// never gives up on a VR before its caller does; 0 (none) for absl::InfiniteFuture().
int64_t SignByMillis(absl::Time sign_by) {
  if (sign_by == absl::InfiniteFuture()) return 0;
  int64_t millis = absl::ToUnixMillis(sign_by);
  if (absl::FromUnixMillis(millis) < sign_by) ++millis;
  // 0 means none: a deadline at the epoch has passed as surely as one a millisecond later.
  return millis == 0 ? 1 : millis;
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
  // One deadline for both calls, from RecordAsync.
  absl::Time deadline;
};

// One RecordDecisions call and the decisions it carries.
struct SequencerClient::BatchCall {
  std::vector<std::shared_ptr<Recording>> recordings;
  grpc::ClientContext context;
  v1::RecordDecisionsRequest request;
  v1::RecordDecisionsResponse response;
};

// One RecordDecision call: a decision sent again with the evidence the sequencer asked for.
struct SequencerClient::SingleCall {
  std::shared_ptr<Recording> recording;
  grpc::ClientContext context;
  v1::RecordDecisionResponse response;
};

absl::StatusOr<RecordedDecision> SequencerClient::Record(
    const v1::RecordDecisionRequest& decision) {
  absl::Notification answered;
  absl::StatusOr<RecordedDecision> result = absl::UnknownError("not answered");
  RecordAsync(decision, absl::InfiniteFuture(), [&](absl::StatusOr<RecordedDecision> recorded) {
    result = std::move(recorded);
    answered.Notify();
  });
  answered.WaitForNotification();
  return result;
}

void SequencerClient::RecordAsync(v1::RecordDecisionRequest decision, absl::Time sign_by,
                                  RecordDone done) {
  auto recording = std::make_shared<Recording>();
  recording->request = ByHash(decision, &recording->bytes);
  // Sent with both calls of an evidence_needed exchange, whichever carries the decision.
  recording->request.set_sign_by_unix_milliseconds(SignByMillis(sign_by));
  recording->done = std::move(done);
  recording->deadline = absl::Now() + timeout_;
  std::vector<std::shared_ptr<Recording>> batch;
  {
    absl::MutexLock lock(&mutex_);
    waiting_.push_back(std::move(recording));
    if (calls_in_flight_ >= kMaxCallsInFlight) return;
    batch = TakeBatch();
  }
  SendBatch(std::move(batch));
}

std::vector<std::shared_ptr<SequencerClient::Recording>> SequencerClient::TakeBatch() {
  std::vector<std::shared_ptr<Recording>> batch;
  while (!waiting_.empty() && batch.size() < kMaxDecisionsPerCall) {
    batch.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
  if (!batch.empty()) ++calls_in_flight_;
  return batch;
}

void SequencerClient::SendBatch(std::vector<std::shared_ptr<Recording>> recordings) {
  if (recordings.empty()) return;
  auto call = std::make_shared<BatchCall>();
  absl::Time deadline = absl::InfiniteFuture();
  for (const std::shared_ptr<Recording>& recording : recordings) {
    *call->request.add_decisions() = recording->request;
    deadline = std::min(deadline, recording->deadline);
  }
  call->recordings = std::move(recordings);
  call->context.set_deadline(absl::ToChronoTime(deadline));
  // A sequencer restarting (a failover) is waited for within the timeout, not failed at once.
  call->context.set_wait_for_ready(true);
  BatchCall* raw = call.get();
  stub_->async()->RecordDecisions(
      &raw->context, &raw->request, &raw->response,
      [this, call = std::move(call)](grpc::Status status) {
        const int answered = call->response.results_size();
        for (size_t i = 0; i < call->recordings.size(); ++i) {
          const int index = static_cast<int>(i);
          if (!status.ok() || index >= answered) {
            HandleAnswer(call->recordings[i],
                         status.ok() ? grpc::Status(grpc::StatusCode::INTERNAL,
                                                    "the log sequencer answered fewer decisions "
                                                    "than it was sent")
                                     : status,
                         v1::RecordDecisionResponse());
            continue;
          }
          v1::RecordDecisionResult& result = *call->response.mutable_results(index);
          HandleAnswer(call->recordings[i],
                       grpc::Status(static_cast<grpc::StatusCode>(result.code()), result.message()),
                       std::move(*result.mutable_response()));
        }
        // The decisions that waited meanwhile go in the next call.
        std::vector<std::shared_ptr<Recording>> next;
        {
          absl::MutexLock lock(&mutex_);
          --calls_in_flight_;
          next = TakeBatch();
        }
        SendBatch(std::move(next));
      });
}

void SequencerClient::SendOne(std::shared_ptr<Recording> recording) {
  auto call = std::make_shared<SingleCall>();
  call->recording = std::move(recording);
  call->context.set_deadline(absl::ToChronoTime(call->recording->deadline));
  call->context.set_wait_for_ready(true);
  SingleCall* raw = call.get();
  stub_->async()->RecordDecision(&raw->context, &raw->recording->request, &raw->response,
                                 [this, call = std::move(call)](grpc::Status status) {
                                   HandleAnswer(call->recording, status, std::move(call->response));
                                 });
}

void SequencerClient::HandleAnswer(std::shared_ptr<Recording> recording, const grpc::Status& status,
                                   v1::RecordDecisionResponse response) {
  if (!status.ok()) {
    return recording->done(FromGrpcStatus(
        status, absl::StrCat("the log sequencer ", address_,
                             " (the decision may have been recorded; the VR sent again is "
                             "answered from its record if it was)")));
  }
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
    return recording->done(absl::InternalError(absl::StrCat(
        "the log sequencer ", address_,
        " answered neither a record nor the evidence it needs; nothing was recorded")));
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
  recording->attempt = 1;
  SendOne(std::move(recording));
}

absl::StatusOr<std::optional<v1::QuorumRecord>> SequencerClient::FindByRequestDigest(
    const std::string& sha256) {
  absl::Notification found;
  absl::StatusOr<std::optional<v1::QuorumRecord>> answer;
  FindByRequestDigestAsync(sha256,
                           [&found, &answer](absl::StatusOr<std::optional<v1::QuorumRecord>> got) {
                             answer = std::move(got);
                             found.Notify();
                           });
  found.WaitForNotification();
  return answer;
}

void SequencerClient::FindByRequestDigestAsync(const std::string& sha256, FindDone done) {
  struct Call {
    grpc::ClientContext context;
    v1::FindRecordRequest request;
    v1::FindRecordResponse response;
  };
  find_calls_.Run([this, sha256, done = std::move(done)](std::function<void()> end) mutable {
    auto call = std::make_shared<Call>();
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    // Not waited for: a VR that arrives while the sequencer is down fails at once, before it
    // costs a probe round or its hostname's probe budget.
    call->request.set_vouching_request_sha256(sha256);
    stub_->async()->FindRecord(
        &call->context, &call->request, &call->response,
        [this, call, done = std::move(done), end = std::move(end)](grpc::Status status) {
          end();
          if (!status.ok()) {
            return done(FromGrpcStatus(status, absl::StrCat("the log sequencer ", address_)));
          }
          if (!call->response.has_record()) return done(std::nullopt);
          done(std::move(*call->response.mutable_record()));
        });
  });
}

}  // namespace mecai
