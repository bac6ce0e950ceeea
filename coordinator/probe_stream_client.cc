#include "coordinator/probe_stream_client.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/base/logging.h"

namespace mecai {

struct ProbeStreamClient::Shared {
  explicit Shared(std::string agent_in) : agent(std::move(agent_in)) {}

  // Called by a stream from its OnDone, before it answers its unanswered probes: it is no longer
  // the open stream.
  void Forget(const Stream* stream, const grpc::Status& status);
  // Called by a stream's last member to be destroyed (AliveToken): after its ClientContext, which
  // holds a reference to the channel. The client waits for this, so the channel's last reference
  // is never dropped on a gRPC thread (as the end of OnDone would: gRPC 1.51 then releases its
  // process-wide callback completion queue from one of that queue's own threads).
  void Ended() {
    absl::MutexLock lock(&mutex);
    --streams_running;
  }

  const std::string agent;
  absl::Mutex mutex;
  std::shared_ptr<Stream> stream ABSL_GUARDED_BY(mutex);  // Null, or the open stream.
  uint64_t next_id ABSL_GUARDED_BY(mutex) = 1;
  absl::Time unimplemented_until ABSL_GUARDED_BY(mutex) = absl::InfinitePast();
  size_t streams_running ABSL_GUARDED_BY(mutex) = 0;  // Opened and not yet ended.
};

// One ProbeStream call. It keeps itself alive from Start to OnDone (`self_`); the client and the
// tickets hold it too. Writes are started from outside gRPC's reactions, so the stream holds a
// hold (AddHold) until it takes no more writes. Decisions are made under `mutex_` and carried out
// after it is released (Act): no gRPC operation and no `done` runs holding it.
class ProbeStreamClient::Stream final
    : public grpc::ClientBidiReactor<v1::ProbeStreamRequest, v1::ProbeStreamResponse>,
      public std::enable_shared_from_this<Stream> {
 public:
  explicit Stream(std::shared_ptr<Shared> owner)
      : alive_(owner), owner_(std::move(owner)), opened_at_(absl::Now()) {}

  absl::Time opened_at() const { return opened_at_; }

  // Starts the call; the probes sent before it are written then.
  void Start(v1::ProbeService::Stub& stub) {
    self_ = shared_from_this();
    stub.async()->ProbeStream(&context_, this);
    AddHold();
    StartRead(&response_);
    Actions actions;
    {
      absl::MutexLock lock(&mutex_);
      started_ = true;
      MaybeWriteLocked(actions);
    }
    Act(actions);
    StartCall();
  }

  // Queues the probe for the next write; false when the stream takes no more probes (it is
  // ending or retired, or the agent has not taken kMaxQueuedProbes written to it, and it is
  // cancelled), and `done` is then not kept.
  bool Send(uint64_t id, const v1::ProbeTask& task, absl::Time deadline, ResultDone& done) {
    Actions actions;
    bool sent = false;
    {
      absl::MutexLock lock(&mutex_);
      if (!closed_ && !retired_ && next_.probes_size() >= kMaxQueuedProbes) {
        closed_ = true;  // An agent that reads nothing is given up on; OnDone answers the rest.
        actions.cancel = true;
      }
      if (!closed_ && !retired_) {
        pending_.emplace(id, std::move(done));
        v1::StreamedProbe* probe = next_.add_probes();
        probe->set_id(id);
        *probe->mutable_task() = task;
        next_deadlines_.push_back(deadline);
        MaybeWriteLocked(actions);
        sent = true;
      }
    }
    Act(actions);
    return sent;
  }

  // Takes no more probes; half-closes the stream once what is queued is written, after which the
  // agent ends it when the probes running on it have answered.
  void Retire() {
    Actions actions;
    {
      absl::MutexLock lock(&mutex_);
      retired_ = true;
      MaybeWriteLocked(actions);
      MaybeReleaseLocked(actions);
    }
    Act(actions);
  }

  // The probe's `done` if it has not been answered (null otherwise); the agent is asked to stop
  // it.
  ResultDone Take(uint64_t id) {
    ResultDone done;
    Actions actions;
    {
      absl::MutexLock lock(&mutex_);
      auto pending = pending_.find(id);
      if (pending == pending_.end()) return nullptr;
      done = std::move(pending->second);
      pending_.erase(pending);
      // Not yet written: it is dropped, never sent.
      bool dropped = false;
      for (int i = 0; i < next_.probes_size(); ++i) {
        if (next_.probes(i).id() != id) continue;
        next_.mutable_probes()->DeleteSubrange(i, 1);
        next_deadlines_.erase(next_deadlines_.begin() + i);
        dropped = true;
        break;
      }
      if (!dropped && !closed_ && !writes_done_) {
        next_.add_cancelled_ids(id);
        MaybeWriteLocked(actions);
      }
    }
    Act(actions);
    return done;
  }

  void Cancel() { context_.TryCancel(); }

  void OnWriteDone(bool ok) override {
    Actions actions;
    {
      absl::MutexLock lock(&mutex_);
      writing_ = false;
      if (!ok) closed_ = true;  // The stream broke; OnDone answers what is pending.
      MaybeWriteLocked(actions);
      MaybeReleaseLocked(actions);
    }
    Act(actions);
  }

  void OnWritesDoneDone(bool /*ok*/) override {}

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The agent ended the stream or it broke: OnDone follows with its status.
      Actions actions;
      {
        absl::MutexLock lock(&mutex_);
        closed_ = true;
        MaybeReleaseLocked(actions);
      }
      return Act(actions);
    }
    std::vector<std::pair<ResultDone, v1::StreamedProbeResult>> answered;
    {
      absl::MutexLock lock(&mutex_);
      for (v1::StreamedProbeResult& result : *response_.mutable_results()) {
        auto pending = pending_.find(result.id());
        // Not pending: answered already (cancelled), or an id this stream never sent.
        if (pending == pending_.end()) continue;
        answered.emplace_back(std::move(pending->second), std::move(result));
        pending_.erase(pending);
      }
    }
    response_.Clear();
    StartRead(&response_);
    for (auto& [done, result] : answered) {
      grpc::Status status = result.status_code() == 0
                                ? grpc::Status::OK
                                : grpc::Status(static_cast<grpc::StatusCode>(result.status_code()),
                                               result.status_message());
      done(std::move(status), std::move(*result.mutable_observation()));
    }
  }

  void OnDone(const grpc::Status& status) override {
    std::shared_ptr<Stream> keep = std::move(self_);  // Released when OnDone returns.
    std::map<uint64_t, ResultDone> unanswered;
    {
      absl::MutexLock lock(&mutex_);
      closed_ = true;
      unanswered.swap(pending_);
    }
    const grpc::Status ended =
        status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                   "the agent ended the probe stream before answering")
                    : status;
    // The client first forgets the stream (and learns of UNIMPLEMENTED), so that a probe sent from
    // a `done` goes on a new stream, or as a call.
    owner_->Forget(this, status);
    for (auto& [id, done] : unanswered) done(ended, v1::SignedObservation());
  }

 private:
  struct Actions {
    bool write = false;        // StartWrite(&writing_message_).
    bool writes_done = false;  // StartWritesDone: the half-close of a retired stream.
    bool cancel = false;       // TryCancel.
    bool release = false;      // RemoveHold: no operation is started from outside after it.
  };

  void Act(const Actions& actions) {
    if (actions.write) StartWrite(&writing_message_);
    if (actions.writes_done) StartWritesDone();
    if (actions.cancel) context_.TryCancel();
    if (actions.release) RemoveHold();
  }

  // Writes what is queued, at most kMaxProbesPerMessage probes at a time, each with the time left
  // to its deadline (a probe that waited for the write has less); a retired stream with nothing
  // queued is half-closed.
  void MaybeWriteLocked(Actions& actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (!started_ || writing_ || closed_ || writes_done_) return;
    if (next_.probes_size() == 0 && next_.cancelled_ids_size() == 0) {
      if (retired_) {
        writes_done_ = true;
        actions.writes_done = true;
      }
      return;
    }
    writing_ = true;
    writing_message_.Clear();
    const absl::Time now = absl::Now();
    const int count = std::min(next_.probes_size(), kMaxProbesPerMessage);
    for (int i = 0; i < count; ++i) {
      v1::StreamedProbe* probe = writing_message_.add_probes();
      *probe = std::move(*next_.mutable_probes(i));
      const int64_t left = absl::ToInt64Milliseconds(absl::Ceil(
          std::max(next_deadlines_[i] - now, absl::Milliseconds(1)), absl::Milliseconds(1)));
      probe->set_timeout_milliseconds(
          static_cast<uint32_t>(std::min<int64_t>(left, kMaxTimeoutMilliseconds)));
    }
    next_.mutable_probes()->DeleteSubrange(0, count);
    next_deadlines_.erase(next_deadlines_.begin(), next_deadlines_.begin() + count);
    writing_message_.mutable_cancelled_ids()->Swap(next_.mutable_cancelled_ids());
    actions.write = true;
  }

  void MaybeReleaseLocked(Actions& actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (released_ || writing_ || !(closed_ || writes_done_)) return;
    released_ = true;
    actions.release = true;
  }

  // Declared first, so destroyed last: tells the client this stream is gone.
  struct AliveToken {
    explicit AliveToken(std::shared_ptr<Shared> shared_in) : shared(std::move(shared_in)) {}
    ~AliveToken() { shared->Ended(); }
    const std::shared_ptr<Shared> shared;
  };
  AliveToken alive_;
  const std::shared_ptr<Shared> owner_;
  grpc::ClientContext context_;
  std::shared_ptr<Stream> self_;
  v1::ProbeStreamResponse response_;  // Only the read in progress and OnReadDone touch it.
  // The message being written: only the writer between MaybeWriteLocked and OnWriteDone uses it.
  v1::ProbeStreamRequest writing_message_;
  absl::Mutex mutex_;
  std::map<uint64_t, ResultDone> pending_ ABSL_GUARDED_BY(mutex_);
  v1::ProbeStreamRequest next_ ABSL_GUARDED_BY(mutex_);             // What the next writes carry.
  std::vector<absl::Time> next_deadlines_ ABSL_GUARDED_BY(mutex_);  // Of next_.probes, in order.
  const absl::Time opened_at_;
  bool retired_ ABSL_GUARDED_BY(mutex_) = false;      // Takes no more probes.
  bool writes_done_ ABSL_GUARDED_BY(mutex_) = false;  // Half-closed: nothing more is written.
  bool started_ ABSL_GUARDED_BY(mutex_) = false;
  bool writing_ ABSL_GUARDED_BY(mutex_) = false;
  bool closed_ ABSL_GUARDED_BY(mutex_) = false;  // No more probes or writes.
  bool released_ ABSL_GUARDED_BY(mutex_) = false;
};

ProbeStreamClient::ProbeStreamClient(v1::ProbeService::Stub& stub, std::string agent)
    : stub_(stub), shared_(std::make_shared<Shared>(std::move(agent))) {}

ProbeStreamClient::~ProbeStreamClient() {
  std::shared_ptr<Stream> open;
  {
    absl::MutexLock lock(&shared_->mutex);
    open = std::move(shared_->stream);
  }
  if (open != nullptr) open->Cancel();
  open.reset();
  absl::MutexLock lock(&shared_->mutex);
  shared_->mutex.Await(absl::Condition(
      +[](size_t* running) { return *running == 0; }, &shared_->streams_running));
}

ProbeStreamClient::Ticket ProbeStreamClient::Probe(const v1::ProbeTask& task, absl::Time deadline,
                                                   ResultDone done) {
  // A stream found ending is replaced once; a second that ends before taking the probe answers
  // it UNAVAILABLE, as a call to an unreachable agent ends.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::shared_ptr<Stream> stream;
    std::shared_ptr<Stream> retired;
    uint64_t id = 0;
    bool opened = false;
    {
      absl::MutexLock lock(&shared_->mutex);
      id = shared_->next_id++;
      // A stream takes probes for kStreamLifetime, then a new one does: the agent's server ends
      // every connection after its maximum age, and a stream must end first.
      if (shared_->stream != nullptr &&
          absl::Now() - shared_->stream->opened_at() >= kStreamLifetime) {
        retired = std::move(shared_->stream);
      }
      if (shared_->stream == nullptr) {
        shared_->stream = std::make_shared<Stream>(shared_);
        ++shared_->streams_running;
        opened = true;
      }
      stream = shared_->stream;
    }
    if (retired != nullptr) retired->Retire();
    // Sent before Start when this call opened it: Start writes what was queued.
    const bool sent = stream->Send(id, task, deadline, done);
    if (opened) stream->Start(stub_);
    if (sent) return Ticket{id, stream};
    absl::MutexLock lock(&shared_->mutex);
    if (shared_->stream == stream) shared_->stream.reset();
  }
  done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the probe stream to the agent ended"),
       v1::SignedObservation());
  return Ticket{};
}

void ProbeStreamClient::Cancel(const Ticket& ticket, const grpc::Status& status) {
  std::shared_ptr<Stream> stream = ticket.stream.lock();
  if (stream == nullptr) return;  // Ended: every probe of it was answered.
  ResultDone done = stream->Take(ticket.id);
  if (done) done(status, v1::SignedObservation());
}

bool ProbeStreamClient::Carries(absl::Time deadline) {
  return deadline - absl::Now() <= kMaxStreamedProbeTime;
}

bool ProbeStreamClient::unimplemented() const {
  absl::MutexLock lock(&shared_->mutex);
  return absl::Now() < shared_->unimplemented_until;
}

void ProbeStreamClient::Shared::Forget(const Stream* stream, const grpc::Status& status) {
  absl::MutexLock lock(&mutex);
  if (this->stream.get() == stream) this->stream.reset();
  if (status.error_code() != grpc::StatusCode::UNIMPLEMENTED) return;
  if (absl::Now() >= unimplemented_until) {
    MECAI_LOG(Warning) << "probe agent " << agent
                       << " does not serve ProbeService.ProbeStream (an agent from before it): "
                          "its probes go as Probe calls; a stream is tried again in "
                       << kUnimplementedFor;
  }
  unimplemented_until = absl::Now() + kUnimplementedFor;
}

}  // namespace mecai
