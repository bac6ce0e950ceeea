// ProbeServiceImpl::ProbeStream: many probes on one stream (proto/mecai/v1/probe.proto,
// docs/ARCHITECTURE.md "Probe streams"). Each probe goes through StartProbe, as a Probe call does.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/base/logging.h"
#include "common/crypto/signed_object.h"
#include "common/rpc/grpc_status.h"
#include "probe_agent/probe_service.h"

namespace mecai {
namespace probe_agent {
namespace {

// A streamed probe's timeout bounds (StreamedProbe.timeout_milliseconds).
constexpr uint32_t kMaxStreamedProbeTimeoutMilliseconds = 600 * 1000;
// More probes than this in one message end the stream RESOURCE_EXHAUSTED: the coordinator sends
// at most 64 (coordinator/probe_stream_client.h), and each probe, even refused, costs a result.
constexpr int kMaxProbesPerMessage = 1024;
// A message of results is cut at about this size, well under the coordinator's 4 MiB receive
// limit (common/rpc/grpc_channel.h); one result over kMaxResultBytes alone is answered
// RESOURCE_EXHAUSTED instead (a Probe call's answer that large fails the call too).
constexpr size_t kMessageBytes = 1 << 20;
constexpr size_t kMaxResultBytes = 3 << 20;

v1::StreamedProbeResult ResultOf(uint64_t id, absl::StatusOr<v1::SignedObservation> observation) {
  v1::StreamedProbeResult result;
  result.set_id(id);
  if (observation.ok()) {
    *result.mutable_observation() = std::move(*observation);
  } else {
    result.set_status_code(static_cast<int32_t>(observation.status().code()));
    result.set_status_message(std::string(observation.status().message()));
  }
  return result;
}

}  // namespace

// One ProbeStream. Reads run one at a time, as do writes; the results that end while a write is
// out wait in `queued_` and go together in the next. Decisions are made under `mutex_` and carried
// out after it is released (Act): no gRPC operation and no prober call is made holding it. gRPC
// calls OnDone after Finish, which is called once no probe of the stream runs and no write is out,
// so every probe's completion finds the reactor alive.
class ProbeServiceImpl::ProbeStreamReactor final
    : public grpc::ServerBidiReactor<v1::ProbeStreamRequest, v1::ProbeStreamResponse> {
 public:
  ProbeStreamReactor(ProbeServiceImpl& service, grpc::CallbackServerContext* context)
      : service_(service), context_(context) {
    StartRead(&request_);
  }

  // Ends the stream with `status`, stopping every probe running on it.
  void EndStream(grpc::Status status) {
    Actions actions;
    {
      absl::MutexLock lock(&mutex_);
      reading_ = false;
      finish_status_ = std::move(status);
      BreakLocked(actions);
      MaybeFinishLocked(actions);
    }
    Act(actions);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The coordinator half-closed the stream, or it broke: nothing more comes. A broken stream
      // stops its probes here too, whether or not OnCancel has come yet.
      Actions actions;
      {
        absl::MutexLock lock(&mutex_);
        reading_ = false;
        reads_done_ = true;
        if (context_->IsCancelled()) BreakLocked(actions);
        MaybeFinishLocked(actions);
      }
      return Act(actions);
    }
    // A message beyond the stream's bounds, or with bytes no coordinator writes, ends the stream
    // and starts none of its probes.
    if (request_.probes_size() > kMaxProbesPerMessage) {
      return EndStream(
          grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                       absl::StrCat("a ProbeStreamRequest carried ", request_.probes_size(),
                                    " probes; at most ", kMaxProbesPerMessage, " are taken")));
    }
    if (absl::Status mistyped = RefuseMistypedFields(request_, "a ProbeStreamRequest");
        !mistyped.ok()) {
      return EndStream(ToGrpcStatus(mistyped));
    }
    // The probes first, then the cancellations: a probe cancelled in the message that brings it
    // is stopped too.
    for (v1::StreamedProbe& probe : *request_.mutable_probes()) Start(std::move(probe));
    bool cancelled_any = false;
    {
      absl::MutexLock lock(&mutex_);
      for (uint64_t id : request_.cancelled_ids()) {
        auto running = running_.find(id);
        if (running == running_.end()) continue;
        running->second->Cancel();
        cancelled_any = true;
      }
    }
    if (cancelled_any) service_.prober_.AbandonCancelled();
    request_.Clear();
    Actions actions;
    {
      absl::MutexLock lock(&mutex_);
      reading_ = false;
      // Back-pressure: a coordinator that does not read its results is not read either.
      if (queued_.results_size() > static_cast<int>(service_.max_in_flight_probes_)) {
        read_paused_ = true;
      } else {
        MaybeReadLocked(actions);
      }
      MaybeFinishLocked(actions);
    }
    Act(actions);
  }

  void OnWriteDone(bool ok) override {
    Actions actions;
    {
      absl::MutexLock lock(&mutex_);
      writing_ = false;
      // Not ok: the stream broke, and what is queued can no longer be sent.
      if (!ok) BreakLocked(actions);
      MaybeWriteLocked(actions);
      if (read_paused_ && queued_.results_size() == 0) {
        read_paused_ = false;
        MaybeReadLocked(actions);
      }
      MaybeFinishLocked(actions);
    }
    Act(actions);
  }

  void OnCancel() override {
    Actions actions;
    {
      absl::MutexLock lock(&mutex_);
      BreakLocked(actions);
      MaybeFinishLocked(actions);
    }
    Act(actions);
  }

  void OnDone() override { Release(); }

 private:
  // The reactor is deleted by the last of OnDone and the thread that called Finish, once Finish has
  // returned: gRPC may run OnDone before Finish returns on the caller's thread.
  void Release() {
    if (releases_left_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // What to do once `mutex_` is released, in this order.
  struct Actions {
    bool abandon_cancelled = false;  // Prober::AbandonCancelled.
    bool write = false;              // StartWrite(&writing_message_).
    bool read = false;               // StartRead(&request_).
    bool finish = false;             // Finish: the last use of the reactor.
  };

  void Act(const Actions& actions) {
    if (actions.abandon_cancelled) service_.prober_.AbandonCancelled();
    if (actions.write) StartWrite(&writing_message_);
    if (actions.read) StartRead(&request_);
    if (actions.finish) {
      Finish(finish_status_);
      Release();  // The last use of this reactor on this thread.
    }
  }

  void MaybeReadLocked(Actions& actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (reading_ || reads_done_ || broken_ || finishing_) return;
    reading_ = true;
    actions.read = true;
  }

  void Start(v1::StreamedProbe probe) {
    const uint64_t id = probe.id();
    absl::Status refusal;
    if (!probe.has_task()) {
      refusal = absl::InvalidArgumentError("StreamedProbe.task is missing");
    } else if (probe.timeout_milliseconds() == 0 ||
               probe.timeout_milliseconds() > kMaxStreamedProbeTimeoutMilliseconds) {
      refusal = absl::InvalidArgumentError(absl::StrCat(
          "StreamedProbe.timeout_milliseconds must be 1 to ", kMaxStreamedProbeTimeoutMilliseconds,
          ", not ", probe.timeout_milliseconds()));
    }
    auto cancellation = std::make_shared<Cancellation>();
    {
      Actions actions;
      {
        absl::MutexLock lock(&mutex_);
        if (refusal.ok() && running_.count(id) > 0) {
          refusal = absl::InvalidArgumentError(
              absl::StrCat("probe id ", id, " is already running on this stream"));
        }
        if (!refusal.ok()) {
          QueueLocked(ResultOf(id, refusal), actions);
        } else {
          running_.emplace(id, cancellation);
          // A stream that is ending starts nothing more: the probe ends CANCELLED at once.
          if (broken_) cancellation->Cancel();
        }
      }
      Act(actions);
      if (!refusal.ok()) return;
    }
    const absl::Time deadline = absl::Now() + absl::Milliseconds(probe.timeout_milliseconds());
    service_.StartProbe(probe.task(), deadline, cancellation,
                        [this, id](absl::StatusOr<v1::SignedObservation> observation) {
                          Actions actions;
                          {
                            absl::MutexLock lock(&mutex_);
                            running_.erase(id);
                            QueueLocked(ResultOf(id, std::move(observation)), actions);
                            MaybeFinishLocked(actions);
                          }
                          Act(actions);
                        });
  }

  void QueueLocked(v1::StreamedProbeResult result, Actions& actions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (broken_) return;
    *queued_.add_results() = std::move(result);
    MaybeWriteLocked(actions);
  }

  // Writes the results queued, up to about kMessageBytes in one message.
  void MaybeWriteLocked(Actions& actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (writing_ || broken_ || finishing_ || queued_.results_size() == 0) return;
    writing_ = true;
    writing_message_.Clear();
    size_t bytes = 0;
    int taken = 0;
    for (; taken < queued_.results_size(); ++taken) {
      v1::StreamedProbeResult& result = *queued_.mutable_results(taken);
      size_t size = result.ByteSizeLong();
      if (size > kMaxResultBytes) {
        const uint64_t id = result.id();
        result = ResultOf(id, absl::ResourceExhaustedError(
                                  absl::StrCat("the Observation is ", size, " bytes, over the ",
                                               kMaxResultBytes, " a probe stream carries")));
        size = result.ByteSizeLong();
      }
      if (taken > 0 && bytes + size > kMessageBytes) break;
      bytes += size;
      *writing_message_.add_results() = std::move(result);
    }
    queued_.mutable_results()->DeleteSubrange(0, taken);
    actions.write = true;
  }

  // The coordinator cancelled the stream or it broke: every probe still running stops.
  void BreakLocked(Actions& actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    broken_ = true;
    queued_.Clear();
    for (auto& [id, cancellation] : running_) cancellation->Cancel();
    if (!running_.empty()) actions.abandon_cancelled = true;
  }

  // Finishes once nothing runs, nothing is being written and no read is out or about to be started
  // (a read decided under the lock is started after it is released): after the coordinator's
  // half-close with every result sent, or, when the stream broke, once its probes have stopped and
  // its last read has failed.
  void MaybeFinishLocked(Actions& actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (finishing_ || !running_.empty() || writing_ || reading_) return;
    if (broken_ || (reads_done_ && queued_.results_size() == 0)) {
      finishing_ = true;
      actions.finish = true;
    }
  }

  std::atomic<int> releases_left_{2};  // OnDone's and Finish's caller's.
  ProbeServiceImpl& service_;
  grpc::CallbackServerContext* const context_;  // gRPC's, valid until OnDone.
  v1::ProbeStreamRequest request_;  // Only the read in progress and OnReadDone touch it.
  absl::Mutex mutex_;
  std::map<uint64_t, std::shared_ptr<Cancellation>> running_ ABSL_GUARDED_BY(mutex_);
  v1::ProbeStreamResponse queued_ ABSL_GUARDED_BY(mutex_);
  // The message being written: only the writer between MaybeWriteLocked and OnWriteDone uses it.
  v1::ProbeStreamResponse writing_message_;
  bool writing_ ABSL_GUARDED_BY(mutex_) = false;
  bool reading_ ABSL_GUARDED_BY(mutex_) = true;  // The constructor's read.
  grpc::Status finish_status_ ABSL_GUARDED_BY(mutex_);
  bool reads_done_ ABSL_GUARDED_BY(mutex_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mutex_) = false;
  bool broken_ ABSL_GUARDED_BY(mutex_) = false;
  bool finishing_ ABSL_GUARDED_BY(mutex_) = false;
};

grpc::ServerBidiReactor<v1::ProbeStreamRequest, v1::ProbeStreamResponse>*
ProbeServiceImpl::ProbeStream(grpc::CallbackServerContext* context) {
  return new ProbeStreamReactor(*this, context);
}

}  // namespace probe_agent
}  // namespace mecai
