#include "coordinator/sequencer_service.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/base/logging.h"
#include "common/rpc/grpc_server.h"
#include "common/rpc/grpc_status.h"
#include "coordinator/vouching_service.h"

namespace mecai {
namespace {

// The longest a call waits for the checkpoint that proves a logged VD (the front's
// sequencer_timeout_milliseconds is at most 120000).
constexpr absl::Duration kLongestWait = absl::Minutes(2);

// The most decisions one RecordDecisions call may carry (sequencer.proto).
constexpr int kMaxDecisionsPerCall = 256;

// A logged VD's record holds the approved statement; the answer is the VD with its proof.
v1::VouchResponse AsResponse(const v1::QuorumRecord& record) {
  v1::VouchResponse response;
  if (record.decision() == v1::ISSUED) *response.mutable_vouching_data() = record.vouching_data();
  response.set_log_index(record.log_index());
  return response;
}

}  // namespace

SequencerServiceImpl::SequencerServiceImpl(LocalDecisionLog& log,
                                           std::vector<std::string> front_identities,
                                           const LogGuard* log_guard, LoggedVdProofs* proofs,
                                           CoordinatorMetrics* metrics, int worker_threads,
                                           size_t max_queued)
    : log_(log),
      front_identities_(std::move(front_identities)),
      log_guard_(log_guard),
      proofs_(proofs),
      metrics_(metrics),
      workers_(worker_threads, max_queued) {}

grpc::Status SequencerServiceImpl::Authorize(const grpc::CallbackServerContext& context) const {
  if (context.auth_context() != nullptr) {
    for (const std::string& peer : PeerIdentities(*context.auth_context())) {
      if (std::find(front_identities_.begin(), front_identities_.end(), peer) !=
          front_identities_.end()) {
        return grpc::Status::OK;
      }
    }
  }
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      "recording decisions needs a front coordinator's identity "
                      "(front_identities)");
}

void SequencerServiceImpl::Schedule(grpc::ServerUnaryReactor* reactor, std::function<void()> work) {
  if (!workers_.TrySchedule(std::move(work))) {
    MECAI_LOG(Warning) << "refused a front's call: the sequencer's queue is full";
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "the log sequencer's queue is full; nothing was recorded"));
  }
}

void SequencerServiceImpl::WhenComplete(
    v1::QuorumRecord record, absl::Time deadline,
    std::function<void(absl::StatusOr<v1::QuorumRecord>)> done) {
  v1::VouchResponse response = AsResponse(record);
  if (proofs_ == nullptr || !LoggedVdProofs::NeedsProof(response)) return done(std::move(record));
  auto shared = std::make_shared<v1::QuorumRecord>(std::move(record));
  proofs_->WhenProven(std::move(response), deadline,
                      [shared, done = std::move(done)](absl::StatusOr<v1::VouchResponse> proven) {
                        if (!proven.ok()) return done(proven.status());
                        *shared->mutable_vouching_data() = proven->vouching_data();
                        done(std::move(*shared));
                      });
}

void SequencerServiceImpl::CountIfVrExpired(const absl::Status& refused, absl::Time sign_by) const {
  if (metrics_ != nullptr && refused.code() == absl::StatusCode::kDeadlineExceeded &&
      absl::Now() >= sign_by) {
    metrics_->RecordVouchRefused("deadline_exceeded");
  }
}

void SequencerServiceImpl::RecordOne(const grpc::CallbackServerContext& context,
                                     const v1::RecordDecisionRequest& request, absl::Time deadline,
                                     RecordOneDone done) {
  v1::RecordDecisionResponse response;
  // Nothing is recorded on a log the signer has not confirmed extends what it signed.
  if (log_guard_ != nullptr) {
    const absl::Status allowed = log_guard_->AllowsAppends();
    if (!allowed.ok()) return done(ToGrpcStatus(allowed), std::move(response));
  }
  // The VR's deadline at the front; 0 (a front that does not send it): the call's alone.
  const absl::Time sign_by = request.sign_by_unix_milliseconds() == 0
                                 ? absl::InfiniteFuture()
                                 : absl::FromUnixMillis(request.sign_by_unix_milliseconds());
  // Nothing is signed for a VR whose caller has gone, or for a front that has given up on the
  // call while it waited here; neither asks for evidence.
  if (absl::Status open = LocalDecisionLog::VrDeadlineCheck(sign_by, "reached the log");
      !open.ok()) {
    CountIfVrExpired(open, sign_by);
    return done(ToGrpcStatus(open), std::move(response));
  }
  if (context.IsCancelled() || absl::Now() >= deadline) {
    return done(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                             "the front's deadline passed before the decision was recorded; "
                             "nothing was recorded"),
                std::move(response));
  }
  const absl::Status valid = log_.Validate(request);
  if (!valid.ok()) return done(ToGrpcStatus(valid), std::move(response));
  absl::StatusOr<std::vector<std::string>> missing = log_.MissingEvidence(request);
  if (!missing.ok()) return done(ToGrpcStatus(missing.status()), std::move(response));
  if (!missing->empty()) {
    for (std::string& sha256 : *missing) {
      response.mutable_evidence_needed()->add_response_sha256(std::move(sha256));
    }
    return done(grpc::Status::OK, std::move(response));
  }
  // Checked above: recorded without checking again, holding no thread while the signer and the
  // commit work (ARCHITECTURE.md §13). A decision whose front gave up while it waited for its turn
  // to be signed, or whose VR's deadline passed by then, is neither signed nor recorded.
  const std::string hostname = request.decision().hostname();
  log_.RecordValidatedAsync(
      request, sign_by,
      [this, hostname, deadline, sign_by,
       done = std::move(done)](absl::StatusOr<RecordedDecision> recorded) mutable {
        v1::RecordDecisionResponse response;
        if (!recorded.ok()) {
          CountIfVrExpired(recorded.status(), sign_by);
          // A front that gave up before the decision's turn to be signed is no fault of the log.
          if (recorded.status().code() == absl::StatusCode::kDeadlineExceeded) {
            MECAI_LOG(Warning) << "no record written for a front's decision about " << hostname
                               << ": " << recorded.status();
          } else {
            MECAI_LOG(Error) << "no record written for a front's decision about " << hostname
                             << ": " << recorded.status();
          }
          return done(ToGrpcStatus(recorded.status()), std::move(response));
        }
        if (!recorded->signer_fault.ok()) {
          response.set_signer_fault_code(static_cast<int>(recorded->signer_fault.code()));
          response.set_signer_fault_message(std::string(recorded->signer_fault.message()));
        }
        auto answer = std::make_shared<v1::RecordDecisionResponse>(std::move(response));
        WhenComplete(std::move(recorded->record), deadline,
                     [answer, done = std::move(done)](absl::StatusOr<v1::QuorumRecord> complete) {
                       if (!complete.ok()) return done(ToGrpcStatus(complete.status()), *answer);
                       *answer->mutable_record() = *std::move(complete);
                       done(grpc::Status::OK, std::move(*answer));
                     });
      },
      [&context, deadline]() -> absl::Status {
        if (context.IsCancelled() || absl::Now() >= deadline) {
          return absl::DeadlineExceededError(
              "the front's deadline passed before the decision was signed; nothing was recorded");
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* SequencerServiceImpl::RecordDecision(
    grpc::CallbackServerContext* context, const v1::RecordDecisionRequest* request,
    v1::RecordDecisionResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const grpc::Status authorized = Authorize(*context);
  if (!authorized.ok()) {
    reactor->Finish(authorized);
    return reactor;
  }
  // A logged VD waits for its checkpoint at most this long, whatever the caller asked.
  const absl::Time deadline = std::min(CallerDeadline(*context), absl::Now() + kLongestWait);
  Schedule(reactor, [this, context, request, response, reactor, deadline] {
    RecordOne(*context, *request, deadline,
              [response, reactor](grpc::Status status, v1::RecordDecisionResponse answer) {
                if (status.ok()) *response = std::move(answer);
                reactor->Finish(status);
              });
  });
  return reactor;
}

// The decisions of one RecordDecisions call, answered as each is recorded.
struct SequencerServiceImpl::Batch {
  Batch(grpc::ServerUnaryReactor* call, v1::RecordDecisionsResponse* answers, int count)
      : reactor(call), response(answers), remaining(count) {}

  // Sets the result of decision `index`; the last one finishes the call.
  void Answer(int index, const grpc::Status& status, v1::RecordDecisionResponse answer) {
    bool last = false;
    {
      absl::MutexLock lock(&mutex);
      v1::RecordDecisionResult* result = response->mutable_results(index);
      result->set_code(static_cast<int>(status.error_code()));
      result->set_message(status.error_message());
      if (status.ok()) *result->mutable_response() = std::move(answer);
      last = --remaining == 0;
    }
    if (last) reactor->Finish(grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* const reactor;
  v1::RecordDecisionsResponse* const response;
  absl::Mutex mutex;
  int remaining ABSL_GUARDED_BY(mutex);
};

grpc::ServerUnaryReactor* SequencerServiceImpl::RecordDecisions(
    grpc::CallbackServerContext* context, const v1::RecordDecisionsRequest* request,
    v1::RecordDecisionsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const grpc::Status authorized = Authorize(*context);
  if (!authorized.ok()) {
    reactor->Finish(authorized);
    return reactor;
  }
  const int count = request->decisions_size();
  if (count > kMaxDecisionsPerCall) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 absl::StrCat("at most ", kMaxDecisionsPerCall,
                                              " decisions per call; nothing was recorded")));
    return reactor;
  }
  if (count == 0) {
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  for (int i = 0; i < count; ++i) response->add_results();
  const absl::Time deadline = std::min(CallerDeadline(*context), absl::Now() + kLongestWait);
  auto batch = std::make_shared<Batch>(reactor, response, count);
  // Each decision's checks on a worker thread of their own, so that they run side by side.
  for (int i = 0; i < count; ++i) {
    const bool scheduled = workers_.TrySchedule([this, context, request, deadline, batch, i] {
      RecordOne(*context, request->decisions(i), deadline,
                [batch, i](grpc::Status status, v1::RecordDecisionResponse answer) {
                  batch->Answer(i, status, std::move(answer));
                });
    });
    if (!scheduled) {
      batch->Answer(i,
                    grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "the log sequencer's queue is full; nothing was recorded"),
                    {});
    }
  }
  return reactor;
}

grpc::ServerUnaryReactor* SequencerServiceImpl::FindRecord(grpc::CallbackServerContext* context,
                                                           const v1::FindRecordRequest* request,
                                                           v1::FindRecordResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const grpc::Status authorized = Authorize(*context);
  if (!authorized.ok()) {
    reactor->Finish(authorized);
    return reactor;
  }
  if (request->vouching_request_sha256().size() != 32) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "vouching_request_sha256 must be 32 bytes"));
    return reactor;
  }
  const absl::Time deadline = std::min(CallerDeadline(*context), absl::Now() + kLongestWait);
  Schedule(reactor, [this, request, response, reactor, deadline] {
    // A log the signer has not confirmed serves no record (trust rule 5): the front then probes
    // nothing either.
    if (log_guard_ != nullptr) {
      const absl::Status allowed = log_guard_->AllowsAppends();
      if (!allowed.ok()) return reactor->Finish(ToGrpcStatus(allowed));
    }
    absl::StatusOr<std::optional<v1::QuorumRecord>> found =
        log_.FindByRequestDigest(request->vouching_request_sha256());
    if (!found.ok()) return reactor->Finish(ToGrpcStatus(found.status()));
    if (!found->has_value()) return reactor->Finish(grpc::Status::OK);
    WhenComplete(**std::move(found), deadline,
                 [response, reactor](absl::StatusOr<v1::QuorumRecord> complete) {
                   if (!complete.ok()) return reactor->Finish(ToGrpcStatus(complete.status()));
                   *response->mutable_record() = *std::move(complete);
                   reactor->Finish(grpc::Status::OK);
                 });
  });
  return reactor;
}

}  // namespace mecai
