// The agent's gRPC front: mecai.v1.ProbeService (proto/mecai/v1/probe.proto) over the Prober, with
// the agent-wide in-flight bound of trust rule 8. The handler is gRPC's callback API: it starts the
// probe and returns at once, and the probe's completion finishes the call, so no gRPC thread waits
// for a probe and thousands are in flight on a few threads.
#ifndef MECAI_PROBE_AGENT_PROBE_SERVICE_H_
#define MECAI_PROBE_AGENT_PROBE_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "grpcpp/grpcpp.h"
#include "probe_agent/agent_config.h"
#include "probe_agent/agent_metrics.h"
#include "probe_agent/probed_requests.h"
#include "probe_agent/prober.h"
#include "proto/mecai/v1/probe.grpc.pb.h"

namespace mecai {
namespace probe_agent {

// The coordinator's deadline of a call (gRPC propagates it as grpc-timeout); InfiniteFuture when
// the call has none.
absl::Time DeadlineOf(const grpc::ServerContextBase& context);

// Thread-safe: the in-flight count is atomic, and the Prober and ProbedRequests are thread-safe.
class ProbeServiceImpl final : public v1::ProbeService::CallbackService {
 public:
  // `prober` and `probed` must outlive the service. At most `max_in_flight_probes` probes run at
  // once; a call beyond that is answered RESOURCE_EXHAUSTED at once, so the coordinator can tell an
  // overloaded agent from a slow target. `probed` remembers the VRs probed, so that each is probed
  // once. `metrics` may be null.
  ProbeServiceImpl(const Prober& prober, ProbedRequests& probed,
                   uint32_t max_in_flight_probes = kDefaultMaxInFlightProbes,
                   AgentMetrics* metrics = nullptr);

  // The probe works to the call's deadline (DeadlineOf). Status codes: OK with the signed
  // Observation (failures at the target are outcomes inside it, trust rule 2); INVALID_ARGUMENT for
  // a malformed task; ALREADY_EXISTS for a task whose VR (vouching_request_sha256) this agent
  // probed within ProbedRequests' window, or is probing now: an agent signs at most one Observation
  // per VR; RESOURCE_EXHAUSTED at the in-flight limit, when the resolution queue is full, or when
  // ProbedRequests is at its capacity; INTERNAL (or the resolver's fault code) when the agent
  // itself fails. A probe that ends without an Observation (refused, cancelled, failed) leaves its
  // VR free to be probed again. When the client cancels the call (the coordinator does on the
  // first mismatch), the probe stops: queued resolution is skipped and open connections are
  // closed.
  grpc::ServerUnaryReactor* Probe(grpc::CallbackServerContext* context,
                                  const v1::ProbeRequest* request,
                                  v1::ProbeResponse* response) override;

  // The same probes on one stream (proto/mecai/v1/probe.proto ProbeStream): each StreamedProbe is
  // admitted and answered exactly as a Probe call with its task and timeout would be, and its
  // result goes back, with its id, in the next message written. A probe id already running on the
  // stream, a missing task or a timeout outside 1..600,000 ms is answered INVALID_ARGUMENT. While
  // results wait to be written beyond max_in_flight_probes, the stream reads nothing more: a
  // coordinator that does not read its results stops being heard. The stream ends OK once the
  // coordinator has half-closed it and every probe has answered; when the coordinator cancels it
  // or it breaks, every probe still running on it stops as a cancelled Probe call does.
  grpc::ServerBidiReactor<v1::ProbeStreamRequest, v1::ProbeStreamResponse>* ProbeStream(
      grpc::CallbackServerContext* context) override;

  // Probes running now.
  uint32_t in_flight_probes() const { return in_flight_.load(); }

 private:
  class ProbeReactor;
  class ProbeStreamReactor;
  using ProbeDone = std::function<void(absl::StatusOr<v1::SignedObservation>)>;

  // Admits `task` (validity, the in-flight limit, one Observation per VR) and probes it to
  // `deadline`; `done` is called exactly once, at once when the task is refused. The one path of
  // Probe and ProbeStream.
  void StartProbe(const v1::ProbeTask& task, absl::Time deadline,
                  std::shared_ptr<const Cancellation> cancellation, ProbeDone done);
  // Counts a probe as finished: metrics, and the in-flight slot.
  void Release(const absl::StatusOr<v1::SignedObservation>& observation, absl::Time started);

  const Prober& prober_;
  ProbedRequests& probed_;
  const uint32_t max_in_flight_probes_;
  AgentMetrics* const metrics_;
  std::atomic<uint32_t> in_flight_{0};
};

}  // namespace probe_agent
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_PROBE_SERVICE_H_
