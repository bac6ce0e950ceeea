// The probe agent's Prometheus metrics (STYLE.md rule 7): probes by outcome, their duration, and
// probes in flight. Labels are ProbeOutcome names only.
#ifndef MECAI_PROBE_AGENT_AGENT_METRICS_H_
#define MECAI_PROBE_AGENT_AGENT_METRICS_H_

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

 private:
  prometheus::Family<prometheus::Counter>& probes_;
  prometheus::Histogram& probe_seconds_;
  prometheus::Gauge& in_flight_;
};

}  // namespace probe_agent
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_AGENT_METRICS_H_
