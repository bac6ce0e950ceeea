#include "coordinator/probe_fanout.h"

#include <grpcpp/alarm.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/base/status.h"
#include "common/rpc/grpc_channel.h"

namespace mecai {

absl::StatusOr<std::unique_ptr<ProbeFanout>> ProbeFanout::Create(
    const google::protobuf::RepeatedPtrField<v1::AgentEndpoint>& endpoints,
    const EnrolledAgents& agents, const Clock& clock) {
  std::unique_ptr<ProbeFanout> fanout(new ProbeFanout(agents, clock));
  for (const v1::AgentEndpoint& endpoint : endpoints) {
    auto channel = MakeChannel(endpoint.peer());
    if (!channel.ok()) {
      return Annotate(channel.status(), absl::StrCat("agent '", endpoint.perspective().id(), "'"));
    }
    Agent agent;
    agent.perspective = endpoint.perspective();
    agent.address = endpoint.peer().address();
    agent.channel = *channel;
    agent.stub = v1::ProbeService::NewStub(*channel);
    agent.streams = std::make_unique<ProbeStreamClient>(
        *agent.stub, absl::StrCat(agent.perspective.id(), " at ", agent.address));
    fanout->agents_.push_back(std::move(agent));
  }
  return fanout;
}

ProbeFanout::~ProbeFanout() {
  absl::MutexLock lock(&live_rounds_->mutex);
  live_rounds_->mutex.Await(absl::Condition(
      +[](int* count) { return *count == 0; }, &live_rounds_->count));
}

std::vector<ProbeFanout::AgentChannel> ProbeFanout::Channels() const {
  std::vector<AgentChannel> channels;
  for (const Agent& agent : agents_) {
    channels.push_back({agent.perspective.id(), agent.address, agent.channel});
  }
  return channels;
}

namespace {

// True when a verified Observation saw, at some address, a leaf the VR does not name.
bool SawUnnamedLeaf(const v1::ObservationBody& body, const std::vector<std::string>& accepted) {
  for (const v1::AddressObservation& address : body.addresses()) {
    if (address.outcome() == v1::PROBE_OK &&
        std::find(accepted.begin(), accepted.end(), address.leaf_sha256()) == accepted.end()) {
      return true;
    }
  }
  return false;
}

}  // namespace

struct ProbeFanout::Call {
  grpc::ClientContext context;  // A Probe call's.
  // Under the round's mutex: whether the probe went on the stream, its ticket there, and the
  // status it was cancelled with (the first cancellation stays, whenever the probe starts).
  bool streamed = false;
  ProbeStreamClient::Ticket ticket;
  std::optional<grpc::Status> cancelled;
  v1::ProbeResponse response;
  grpc::Status status;
  absl::Time started;
  absl::Time finished;
  PerspectiveOutcome outcome;
};

// The calls of one ProbeAllAsync, one per agent in the configured order, what they are judged
// against, and which perspective's mismatch decided the round. Lives until every call has
// completed (each call's callback holds it).
struct ProbeFanout::Round {
  Round(std::shared_ptr<LiveRounds> live_in, size_t agents, ObservationExpectation expected_in,
        std::vector<std::string> accepted_in, ProbeDone done_in)
      : live(std::move(live_in)),
        expected(std::move(expected_in)),
        accepted_leaf_sha256(std::move(accepted_in)),
        done(std::move(done_in)),
        pending(agents) {
    for (size_t i = 0; i < agents; ++i) calls.push_back(std::make_unique<Call>());
  }

  // Records that the mismatch `perspective_id` saw decides the round; false when another
  // perspective's already did.
  bool DecideBy(const std::string& perspective_id) {
    absl::MutexLock lock(&mutex);
    if (!decided_by.empty()) return false;
    decided_by = perspective_id;
    return true;
  }

  std::string DecidedBy() {
    absl::MutexLock lock(&mutex);
    return decided_by;
  }

  // Counts one call as completed; true for the last.
  bool CompleteOne() {
    absl::MutexLock lock(&mutex);
    return --pending == 0;
  }

  // Counts this round among the fanout's live ones until the end of its destruction: declared
  // first, so destroyed last, after the calls (ProbeFanout::~ProbeFanout).
  struct Live {
    explicit Live(std::shared_ptr<LiveRounds> rounds_in) : rounds(std::move(rounds_in)) {
      absl::MutexLock lock(&rounds->mutex);
      ++rounds->count;
    }
    ~Live() {
      absl::MutexLock lock(&rounds->mutex);
      --rounds->count;
    }
    const std::shared_ptr<LiveRounds> rounds;
  } live;
  v1::ProbeRequest request;
  // Cancels the calls still running at the VR's deadline, and ends the streamed probes still
  // running at the round's timeout (a Probe call's own deadline ends it).
  grpc::Alarm cancel_alarm;
  const ObservationExpectation expected;
  const std::vector<std::string> accepted_leaf_sha256;
  ProbeDone done;
  std::vector<std::unique_ptr<Call>> calls;
  absl::Mutex mutex;
  size_t pending ABSL_GUARDED_BY(mutex);          // The calls still running.
  std::string decided_by ABSL_GUARDED_BY(mutex);  // The perspective whose mismatch decided.
};

void ProbeFanout::JudgeAnswer(const Agent& agent, Call& call, Round& round) const {
  PerspectiveOutcome& outcome = call.outcome;
  if (!call.status.ok()) {
    outcome.kind = PerspectiveOutcome::Kind::kUnreachable;
    outcome.failure = absl::StrCat("agent at ", agent.address, ": ",
                                   call.status.error_code() == grpc::DEADLINE_EXCEEDED
                                       ? "deadline exceeded"
                                       : call.status.error_message());
    return;
  }
  ObservationExpectation now_expected = round.expected;
  now_expected.now = clock_.Now();
  auto body = enrolled_.Verify(agent.perspective.id(), call.response.observation(), now_expected);
  if (!body.ok()) {
    outcome.kind = PerspectiveOutcome::Kind::kInvalid;
    outcome.failure = std::string(body.status().message());
    return;
  }
  outcome.kind = PerspectiveOutcome::Kind::kObserved;
  outcome.body = std::move(*body);
  if (SawUnnamedLeaf(outcome.body, round.accepted_leaf_sha256) &&
      round.DecideBy(agent.perspective.id())) {
    for (const auto& other : round.calls) {
      if (other.get() != &call) {
        CancelCall(*other, round, grpc::Status(grpc::StatusCode::CANCELLED, "CANCELLED"));
      }
    }
  }
}

void ProbeFanout::CancelCall(Call& call, Round& round, const grpc::Status& status) {
  ProbeStreamClient::Ticket ticket;
  bool streamed = false;
  {
    absl::MutexLock lock(&round.mutex);
    if (call.cancelled.has_value()) return;
    call.cancelled = status;
    streamed = call.streamed;
    ticket = call.ticket;
  }
  // A streamed probe whose ticket is not stored yet is cancelled when it is
  // (StartStreamedProbe). A Probe call ends by its own deadline; only an earlier cancellation is
  // made here (before the call starts, it is cancelled as it starts).
  if (streamed) return ProbeStreamClient::Cancel(ticket, status);
  if (status.error_code() == grpc::StatusCode::CANCELLED) call.context.TryCancel();
}

void ProbeFanout::Complete(const Agent& agent, Call* call, Round& round,
                           grpc::Status status) const {
  call->finished = absl::Now();
  call->status = std::move(status);
  agent.in_flight->fetch_sub(1);
  JudgeAnswer(agent, *call, round);
  if (round.CompleteOne()) round.done(Answers(round));
}

void ProbeFanout::StartUnaryCall(const Agent& agent, Call* call,
                                 const std::shared_ptr<Round>& round) const {
  // Runs on a gRPC thread; the round lives while any of its calls runs.
  agent.stub->async()->Probe(&call->context, &round->request, &call->response,
                             [this, &agent, call, round](grpc::Status status) {
                               Complete(agent, call, *round, std::move(status));
                             });
}

void ProbeFanout::StartStreamedProbe(const Agent& agent, Call* call,
                                     const std::shared_ptr<Round>& round,
                                     absl::Time deadline) const {
  {
    absl::MutexLock lock(&round->mutex);
    call->streamed = true;
  }
  ProbeStreamClient::Ticket ticket = agent.streams->Probe(
      round->request.task(), deadline,
      [this, &agent, call, round](grpc::Status status, v1::SignedObservation observation) {
        if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
          // An agent from before ProbeStream: this probe and the next go as calls, but one
          // cancelled meanwhile ends as it was cancelled.
          std::optional<grpc::Status> cancelled;
          {
            absl::MutexLock lock(&round->mutex);
            call->streamed = false;
            cancelled = call->cancelled;
          }
          if (cancelled.has_value()) return Complete(agent, call, *round, *cancelled);
          return StartUnaryCall(agent, call, round);
        }
        *call->response.mutable_observation() = std::move(observation);
        Complete(agent, call, *round, std::move(status));
      });
  std::optional<grpc::Status> cancelled;
  {
    absl::MutexLock lock(&round->mutex);
    call->ticket = ticket;
    cancelled = call->cancelled;
  }
  // Cancelled before its ticket was stored: the cancellation is made now.
  if (cancelled.has_value()) ProbeStreamClient::Cancel(ticket, *cancelled);
}

std::vector<PerspectiveAnswer> ProbeFanout::Answers(Round& round) {
  const std::string decided_by = round.DecidedBy();
  std::vector<PerspectiveAnswer> answers;
  for (auto& call : round.calls) {
    PerspectiveAnswer& answer = answers.emplace_back();
    answer.round_trip_milliseconds =
        static_cast<uint32_t>(absl::ToInt64Milliseconds(call->finished - call->started));
    answer.observation = std::move(*call->response.mutable_observation());
    if (!decided_by.empty() && call->status.error_code() == grpc::CANCELLED) {
      call->outcome.kind = PerspectiveOutcome::Kind::kCancelled;
      call->outcome.failure = absl::StrCat("not awaited: perspective ", decided_by,
                                           " had already seen a certificate the VR does not name");
    }
    answer.outcome = std::move(call->outcome);
  }
  return answers;
}

void ProbeFanout::ProbeAllAsync(const v1::ProbeTask& task, const ObservationExpectation& expected,
                                const std::vector<std::string>& accepted_leaf_sha256,
                                absl::Duration timeout, ProbeDone done,
                                absl::Time cancel_at) const {
  if (agents_.empty()) {
    done({});
    return;
  }
  auto round = std::make_shared<Round>(live_rounds_, agents_.size(), expected, accepted_leaf_sha256,
                                       std::move(done));
  *round->request.mutable_task() = task;
  const auto deadline = absl::ToChronoTime(absl::Now() + timeout);
  // Every call's context is set up before the first starts: a mismatch cancels the others.
  for (size_t i = 0; i < agents_.size(); ++i) {
    Call& call = *round->calls[i];
    call.context.set_deadline(deadline);
    call.outcome.perspective = agents_[i].perspective;
  }
  // The alarm runs on a gRPC thread, once: `fired` is false when the round ended first (the
  // Round's destruction cancels it).
  const bool cut_by_cancel_at = cancel_at < absl::Now() + timeout;
  const grpc::Status alarm_status =
      cut_by_cancel_at ? grpc::Status(grpc::StatusCode::CANCELLED, "CANCELLED")
                       : grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded");
  std::weak_ptr<Round> weak = round;
  round->cancel_alarm.Set(cut_by_cancel_at ? absl::ToChronoTime(cancel_at) : deadline,
                          [weak, alarm_status](bool fired) {
                            if (!fired) return;
                            if (std::shared_ptr<Round> alive = weak.lock()) {
                              for (const auto& call : alive->calls)
                                CancelCall(*call, *alive, alarm_status);
                            }
                          });
  for (size_t i = 0; i < agents_.size(); ++i) {
    const Agent& agent = agents_[i];
    Call* call = round->calls[i].get();
    call->started = absl::Now();
    const int running = agent.in_flight->fetch_add(1);
    const absl::Time probe_deadline = std::min(absl::Now() + timeout, cancel_at);
    if (running < kStreamFromProbesInFlight || agent.streams->unimplemented() ||
        !ProbeStreamClient::Carries(probe_deadline)) {
      StartUnaryCall(agent, call, round);
    } else {
      StartStreamedProbe(agent, call, round, probe_deadline);
    }
  }
}

std::vector<PerspectiveAnswer> ProbeFanout::ProbeAll(
    const v1::ProbeTask& task, const ObservationExpectation& expected,
    const std::vector<std::string>& accepted_leaf_sha256, absl::Duration timeout) const {
  absl::Notification finished;
  std::vector<PerspectiveAnswer> answers;
  ProbeAllAsync(task, expected, accepted_leaf_sha256, timeout,
                [&](std::vector<PerspectiveAnswer> round_answers) {
                  answers = std::move(round_answers);
                  finished.Notify();
                });
  finished.WaitForNotification();  // Every call ends by its deadline at the latest.
  return answers;
}

}  // namespace mecai
