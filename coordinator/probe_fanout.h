// Sends one ProbeTask to every configured agent at once, with one deadline, and turns the answers
// into verified PerspectiveOutcomes (MECAI proposal: "A VA might choose to perform the hostname and
// server certificate query from more than one geographical location").
#ifndef MECAI_COORDINATOR_PROBE_FANOUT_H_
#define MECAI_COORDINATOR_PROBE_FANOUT_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/evidence/enrolled_agents.h"
#include "common/evidence/quorum_policy.h"
#include "coordinator/probe_stream_client.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/probe.grpc.pb.h"

namespace mecai {

// What one perspective answered in a probe round: the judged outcome, the signed Observation as
// the agent sent it (empty when none came), and how long the call took.
struct PerspectiveAnswer {
  PerspectiveOutcome outcome;
  v1::SignedObservation observation;
  uint32_t round_trip_milliseconds = 0;
};

// Thread-safe: concurrent ProbeAll calls share the channels.
class ProbeFanout {
 public:
  // Opens a channel per agent (connections are made lazily). `agents` must outlive this object.
  static absl::StatusOr<std::unique_ptr<ProbeFanout>> Create(
      const google::protobuf::RepeatedPtrField<v1::AgentEndpoint>& endpoints,
      const EnrolledAgents& agents, const Clock& clock);
  // Waits until every round has been destroyed, its calls with it (a round ends by its timeout at
  // the latest): a round's last call lets go of an agent's channel on a gRPC thread, and this
  // object's channels must not be the last references then. gRPC 1.51 releases its process-wide
  // callback queue with the last channel, which from one of that queue's own threads crashes.
  // Never from a ProbeDone callback: that round is still alive then.
  ~ProbeFanout();
  ProbeFanout(const ProbeFanout&) = delete;
  ProbeFanout& operator=(const ProbeFanout&) = delete;

  // Each agent's channel, in the configured order: its perspective id, its address, the channel
  // (for coordinator/peer_monitor.h). Calls to an agent that is down fail at once (UNAVAILABLE)
  // and its outcome is kUnreachable; the channel keeps reconnecting.
  struct AgentChannel {
    std::string perspective_id;
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
  };
  std::vector<AgentChannel> Channels() const;

  // Probes from every perspective concurrently and waits for all answers or `timeout`; one answer
  // per agent, in the configured order. Each outcome is kObserved only when the Observation
  // verifies against `expected` (its `now` is the time the answer arrived). Answers are judged as
  // they arrive: the first verified Observation that saw a leaf outside `accepted_leaf_sha256`
  // decides the outcome (a mismatch always refuses), and the calls still running are cancelled
  // (kCancelled).
  std::vector<PerspectiveAnswer> ProbeAll(const v1::ProbeTask& task,
                                          const ObservationExpectation& expected,
                                          const std::vector<std::string>& accepted_leaf_sha256,
                                          absl::Duration timeout) const;

  // ProbeAll without a thread that waits: the probes go out on gRPC's callback API and `done` is
  // called once with the answers, on the gRPC thread that completed the round's last probe (it
  // must be quick: hand blocking work to another thread). Every probe ends by `timeout` at the
  // latest (DEADLINE_EXCEEDED, kUnreachable); the probes still running at `cancel_at` (the VR's
  // own deadline) are cancelled then, and end CANCELLED (kUnreachable). A probe goes as a Probe
  // call while fewer than kStreamFromProbesInFlight of the agent's run, and otherwise on its
  // ProbeStream (docs/ARCHITECTURE.md "Probe streams"), but to an agent that answered a stream
  // UNIMPLEMENTED, and a probe that may run longer than a stream carries
  // (ProbeStreamClient::Carries).
  using ProbeDone = std::function<void(std::vector<PerspectiveAnswer> answers)>;
  // From this many probes running at one agent, the next go on its stream, where those sent while
  // a message is written share the next (measured in docs/PERFORMANCE.md "Probe streams"); below
  // it a call costs the coordinator less than a streamed probe's two messages.
  static constexpr int kStreamFromProbesInFlight = 16;
  void ProbeAllAsync(const v1::ProbeTask& task, const ObservationExpectation& expected,
                     const std::vector<std::string>& accepted_leaf_sha256, absl::Duration timeout,
                     ProbeDone done, absl::Time cancel_at = absl::InfiniteFuture()) const;

 private:
  struct Agent {
    v1::Perspective perspective;
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::ProbeService::Stub> stub;
    // This agent's probes running now, calls and streamed (declared before `streams`, whose
    // destruction answers the probes still running on it).
    std::unique_ptr<std::atomic<int>> in_flight = std::make_unique<std::atomic<int>>(0);
    std::unique_ptr<ProbeStreamClient> streams;  // On `stub`.
  };
  // One agent's call in a round; the Round owns them.
  struct Call;
  struct Round;
  // The rounds not yet destroyed, shared with them: a round may be destroyed on a gRPC thread
  // while the destructor waits.
  struct LiveRounds {
    absl::Mutex mutex;
    int count ABSL_GUARDED_BY(mutex) = 0;
  };
  ProbeFanout(const EnrolledAgents& agents, const Clock& clock)
      : enrolled_(agents), clock_(clock) {}

  // Runs on a gRPC thread when `call` to `agent` completes: verifies and judges the answer (CPU
  // only, never blocks) and, when it is the round's first to see a leaf outside
  // `accepted_leaf_sha256`, cancels the round's other calls.
  void JudgeAnswer(const Agent& agent, Call& call, Round& round) const;
  // The answers of a round whose calls have all completed, in the configured order.
  static std::vector<PerspectiveAnswer> Answers(Round& round);
  // Sends the round's task to `agent` as a Probe call (`call` is the agent's in the round).
  void StartUnaryCall(const Agent& agent, Call* call, const std::shared_ptr<Round>& round) const;
  // The same on the agent's ProbeStream; an agent that answers it UNIMPLEMENTED gets the call.
  void StartStreamedProbe(const Agent& agent, Call* call, const std::shared_ptr<Round>& round,
                          absl::Time deadline) const;
  // Records the answer of `call` and judges it; the round's last answer calls its `done`.
  void Complete(const Agent& agent, Call* call, Round& round, grpc::Status status) const;
  // Ends `call` early with `status` (CANCELLED or DEADLINE_EXCEEDED) if it is still running.
  static void CancelCall(Call& call, Round& round, const grpc::Status& status);

  const EnrolledAgents& enrolled_;
  const Clock& clock_;
  std::vector<Agent> agents_;  // Constant after Create.
  const std::shared_ptr<LiveRounds> live_rounds_ = std::make_shared<LiveRounds>();
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_PROBE_FANOUT_H_
