#include "coordinator/probe_fanout.h"

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "common/grpc_channel.h"
#include "common/status.h"

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
    fanout->agents_.push_back(std::move(agent));
  }
  return fanout;
}

absl::Status ProbeFanout::WaitForAgents(absl::Time deadline) const {
  for (const Agent& agent : agents_) agent.channel->GetState(/*try_to_connect=*/true);
  for (const Agent& agent : agents_) {
    RETURN_IF_ERROR(WaitUntilConnected(
        *agent.channel, deadline,
        absl::StrCat("agent '", agent.perspective.id(), "' at ", agent.address)));
  }
  return absl::OkStatus();
}

std::vector<PerspectiveOutcome> ProbeFanout::ProbeAll(
    const v1::ProbeTask& task, const ObservationExpectation& expected, absl::Duration timeout,
    std::vector<v1::SignedObservation>* observations,
    std::vector<uint32_t>* round_trip_milliseconds) const {
  struct Call {
    grpc::ClientContext context;
    v1::ProbeResponse response;
    grpc::Status status;
    absl::Time started;
    absl::Time finished;
  };
  v1::ProbeRequest request;
  *request.mutable_task() = task;
  std::vector<std::unique_ptr<Call>> calls;
  absl::BlockingCounter pending(static_cast<int>(agents_.size()));
  const auto deadline = absl::ToChronoTime(absl::Now() + timeout);
  for (const Agent& agent : agents_) {
    calls.push_back(std::make_unique<Call>());
    Call* call = calls.back().get();
    call->context.set_deadline(deadline);
    call->started = absl::Now();
    // The callback runs on a gRPC thread; it only records and counts down (never blocks).
    agent.stub->async()->Probe(&call->context, &request, &call->response,
                               [call, &pending](grpc::Status status) {
                                 call->status = std::move(status);
                                 call->finished = absl::Now();
                                 pending.DecrementCount();
                               });
  }
  pending.Wait();  // Every call ends by its deadline at the latest.

  std::vector<PerspectiveOutcome> outcomes;
  observations->clear();
  round_trip_milliseconds->clear();
  for (size_t i = 0; i < agents_.size(); ++i) {
    const Agent& agent = agents_[i];
    Call& call = *calls[i];
    PerspectiveOutcome outcome;
    outcome.perspective = agent.perspective;
    round_trip_milliseconds->push_back(
        static_cast<uint32_t>(absl::ToInt64Milliseconds(call.finished - call.started)));
    observations->push_back(call.response.observation());
    if (!call.status.ok()) {
      outcome.kind = PerspectiveOutcome::Kind::kUnreachable;
      outcome.failure = absl::StrCat("agent at ", agent.address, ": ",
                                     call.status.error_code() == grpc::DEADLINE_EXCEEDED
                                         ? "deadline exceeded"
                                         : call.status.error_message());
    } else {
      ObservationExpectation now_expected = expected;
      now_expected.now = clock_.Now();
      auto body =
          enrolled_.Verify(agent.perspective.id(), call.response.observation(), now_expected);
      if (body.ok()) {
        outcome.kind = PerspectiveOutcome::Kind::kObserved;
        outcome.body = std::move(*body);
      } else {
        outcome.kind = PerspectiveOutcome::Kind::kInvalid;
        outcome.failure = std::string(body.status().message());
      }
    }
    outcomes.push_back(std::move(outcome));
  }
  return outcomes;
}

}  // namespace mecai
