#include "probe_agent/agent_metrics.h"

#include "common/metrics.h"

namespace mecai {
namespace probe_agent {

AgentMetrics::AgentMetrics(prometheus::Registry& registry)
    : probes_(prometheus::BuildCounter()
                  .Name("mecai_probe_agent_probes_total")
                  .Help("Probes answered, by overall outcome.")
                  .Register(registry)),
      probe_seconds_(prometheus::BuildHistogram()
                         .Name("mecai_probe_agent_probe_duration_seconds")
                         .Help("Time to resolve and fetch from every address of one probe.")
                         .Register(registry)
                         .Add({}, LatencyBuckets())),
      in_flight_(prometheus::BuildGauge()
                     .Name("mecai_probe_agent_probes_in_flight")
                     .Help("Probes running now.")
                     .Register(registry)
                     .Add({})) {}

void AgentMetrics::RecordProbe(const std::string& outcome, double seconds) {
  probes_.Add({{"outcome", outcome}}).Increment();
  probe_seconds_.Observe(seconds);
}

void AgentMetrics::ChangeInFlight(int delta) { in_flight_.Increment(delta); }

}  // namespace probe_agent
}  // namespace mecai
