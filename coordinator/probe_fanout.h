// Sends one ProbeTask to every configured agent at once, with one deadline, and turns the answers
// into verified PerspectiveOutcomes (MECAI proposal: "A VA might choose to perform the hostname and
// server certificate query from more than one geographical location").
#ifndef MECAI_COORDINATOR_PROBE_FANOUT_H_
#define MECAI_COORDINATOR_PROBE_FANOUT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/enrolled_agents.h"
#include "common/quorum_policy.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/probe.grpc.pb.h"

namespace mecai {

// Thread-safe: concurrent ProbeAll calls share the channels.
class ProbeFanout {
 public:
  // Opens a channel per agent (connections are made lazily). `agents` must outlive this object.
  static absl::StatusOr<std::unique_ptr<ProbeFanout>> Create(
      const google::protobuf::RepeatedPtrField<v1::AgentEndpoint>& endpoints,
      const EnrolledAgents& agents, const Clock& clock);

  // Waits until every agent accepts a connection, or `deadline`; the error names the first
  // unreachable agent and its address.
  absl::Status WaitForAgents(absl::Time deadline) const;

  // Probes from every perspective concurrently and waits for all answers or `timeout`. Each
  // outcome is kObserved only when the Observation verifies against `expected`; results keep the
  // configured order. Answers are judged as they arrive: the first verified Observation that saw a
  // leaf outside `accepted_leaf_sha256` decides the outcome (a mismatch always refuses), and the
  // calls still running are cancelled (kCancelled). The round trip of each call is returned in
  // `round_trip_milliseconds`.
  std::vector<PerspectiveOutcome> ProbeAll(const v1::ProbeTask& task,
                                           const ObservationExpectation& expected,
                                           const std::vector<std::string>& accepted_leaf_sha256,
                                           absl::Duration timeout,
                                           std::vector<v1::SignedObservation>* observations,
                                           std::vector<uint32_t>* round_trip_milliseconds) const;

 private:
  struct Agent {
    v1::Perspective perspective;
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::ProbeService::Stub> stub;
  };
  ProbeFanout(const EnrolledAgents& agents, const Clock& clock)
      : enrolled_(agents), clock_(clock) {}

  const EnrolledAgents& enrolled_;
  const Clock& clock_;
  std::vector<Agent> agents_;  // Constant after Create.
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_PROBE_FANOUT_H_
