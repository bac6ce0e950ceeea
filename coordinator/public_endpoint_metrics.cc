#include "coordinator/public_endpoint_metrics.h"

namespace mecai {

PublicEndpointMetrics::PublicEndpointMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("mecai_coordinator_public_requests_total")
                    .Help("VRs answered on the public endpoint, by binding and outcome (issued, "
                          "refused, fault).")
                    .Register(registry)),
      refusals_(prometheus::BuildCounter()
                    .Name("mecai_coordinator_public_refusals_total")
                    .Help("Refusals on the public endpoint, by binding and reason: the endpoint's "
                          "own limits and the VR refusal reasons.")
                    .Register(registry)),
      in_flight_(prometheus::BuildGauge()
                     .Name("mecai_coordinator_public_in_flight")
                     .Help("VRs of the public endpoint being decided now.")
                     .Register(registry)
                     .Add({})),
      queued_(prometheus::BuildGauge()
                  .Name("mecai_coordinator_public_queued")
                  .Help("VRs of the public endpoint waiting for a slot now.")
                  .Register(registry)
                  .Add({})) {}

void PublicEndpointMetrics::RecordRequest(const std::string& binding, const std::string& outcome) {
  requests_.Add({{"binding", binding}, {"outcome", outcome}}).Increment();
}

void PublicEndpointMetrics::RecordRefusal(const std::string& binding, const std::string& reason) {
  refusals_.Add({{"binding", binding}, {"reason", reason}}).Increment();
}

void PublicEndpointMetrics::SetAdmission(size_t in_flight, size_t queued) {
  in_flight_.Set(static_cast<double>(in_flight));
  queued_.Set(static_cast<double>(queued));
}

}  // namespace mecai
