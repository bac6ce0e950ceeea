// The probe agent's Prometheus metrics: probes by outcome, their duration, probes in flight, and
// the ProbeTasks refused because their VR was probed already. Labels are ProbeOutcome names and
// a fixed set of refusal reasons only.
#ifndef MECAI_PROBE_AGENT_AGENT_METRICS_H_
#define MECAI_PROBE_AGENT_AGENT_METRICS_H_

#include <cstddef>
#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "proto/mecai/v1/probe.pb.h"

namespace mecai {
namespace probe_agent {

// Thread-safe.
class AgentMetrics {
 public:
  explicit AgentMetrics(prometheus::Registry& registry);

  // One finished probe and its overall outcome ("refused" for calls refused before probing).
  void RecordProbe(const std::string& outcome, double seconds);
  // A probe call began (+1) or ended (-1). Deltas, so concurrent updates cannot leave a stale
  // value.
  void ChangeInFlight(int delta);
  // A ProbeTask refused by the memory of probed VRs (probed_requests.h): "already_probed" for a
  // VR this agent probed within the window, "memory_full" when that memory is at its capacity.
  void RecordRepeatedVrRefusal(const std::string& reason);
  // VRs remembered now.
  void SetRememberedVrs(size_t count);

 private:
  prometheus::Family<prometheus::Counter>& probes_;
  prometheus::Histogram& probe_seconds_;
  prometheus::Gauge& in_flight_;
  prometheus::Family<prometheus::Counter>& repeated_vr_refusals_;
  prometheus::Gauge& remembered_vrs_;
};

}  // namespace probe_agent
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_AGENT_METRICS_H_
