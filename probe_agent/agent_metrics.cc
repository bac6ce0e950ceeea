#include "probe_agent/agent_metrics.h"

#include "common/base/metrics.h"

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
                     .Add({})),
      repeated_vr_refusals_(
          prometheus::BuildCounter()
              .Name("mecai_probe_agent_repeated_vr_refusals_total")
              .Help("ProbeTasks refused because this agent had probed their VR within the window "
                    "(reason already_probed) or remembers as many VRs as it may (memory_full).")
              .Register(registry)),
      remembered_vrs_(prometheus::BuildGauge()
                          .Name("mecai_probe_agent_remembered_vrs")
                          .Help("VRs this agent probed and remembers, so that it probes each once.")
                          .Register(registry)
                          .Add({})) {}

void AgentMetrics::RecordProbe(const std::string& outcome, double seconds) {
  probes_.Add({{"outcome", outcome}}).Increment();
  probe_seconds_.Observe(seconds);
}

void AgentMetrics::ChangeInFlight(int delta) { in_flight_.Increment(delta); }

void AgentMetrics::RecordRepeatedVrRefusal(const std::string& reason) {
  repeated_vr_refusals_.Add({{"reason", reason}}).Increment();
}

void AgentMetrics::SetRememberedVrs(size_t count) {
  remembered_vrs_.Set(static_cast<double>(count));
}

}  // namespace probe_agent
}  // namespace mecai
