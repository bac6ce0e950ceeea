// The agent's gRPC front: mecai.v1.ProbeService (proto/mecai/v1/probe.proto) over the Prober, with
// the agent-wide in-flight bound of trust rule 8.
#ifndef MECAI_PROBE_AGENT_PROBE_SERVICE_H_
#define MECAI_PROBE_AGENT_PROBE_SERVICE_H_

#include <atomic>
#include <cstdint>

#include "grpcpp/grpcpp.h"
#include "probe_agent/agent_config.h"
#include "probe_agent/agent_metrics.h"
#include "probe_agent/prober.h"
#include "proto/mecai/v1/probe.grpc.pb.h"

namespace mecai {
namespace probe_agent {

// The coordinator's deadline of a call (gRPC propagates it as grpc-timeout); InfiniteFuture when
// the call has none.
absl::Time DeadlineOf(const grpc::ServerContext& context);

// Thread-safe: the in-flight count is atomic and the Prober is thread-safe.
class ProbeServiceImpl final : public v1::ProbeService::Service {
 public:
  // `prober` must outlive the service. At most `max_in_flight_probes` probes run at once; a call
  // beyond that is answered RESOURCE_EXHAUSTED at once, so the coordinator can tell an overloaded
  // agent from a slow target.
  // `metrics` may be null.
  explicit ProbeServiceImpl(const Prober& prober,
                            uint32_t max_in_flight_probes = kDefaultMaxInFlightProbes,
                            AgentMetrics* metrics = nullptr);

  // The probe works to the call's deadline (DeadlineOf). Status codes: OK with the signed
  // Observation (failures at the target are outcomes inside it, trust rule 2); INVALID_ARGUMENT for
  // a malformed task; RESOURCE_EXHAUSTED at the in-flight limit; INTERNAL (or the resolver's fault
  // code) when the agent itself fails.
  grpc::Status Probe(grpc::ServerContext* context, const v1::ProbeRequest* request,
                     v1::ProbeResponse* response) override;

  // Probes running now.
  uint32_t in_flight_probes() const { return in_flight_.load(); }

 private:
  const Prober& prober_;
  const uint32_t max_in_flight_probes_;
  AgentMetrics* const metrics_;
  std::atomic<uint32_t> in_flight_{0};
};

}  // namespace probe_agent
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_PROBE_SERVICE_H_
