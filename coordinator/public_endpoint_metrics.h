// The public endpoint's Prometheus metrics (CONTRIBUTING.md rule 7; docs/PROTOCOL.md "The public
// endpoint"): requests by binding and outcome, every refusal by binding and reason, and the VRs
// decided and waiting now. Labels are bounded: two bindings, the endpoint's own refusal reasons
// and the RefusalReason names, in lower case; never an address or a hostname.
#ifndef MECAI_COORDINATOR_PUBLIC_ENDPOINT_METRICS_H_
#define MECAI_COORDINATOR_PUBLIC_ENDPOINT_METRICS_H_

#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace mecai {

// Thread-safe (prometheus-cpp metrics are).
class PublicEndpointMetrics {
 public:
  explicit PublicEndpointMetrics(prometheus::Registry& registry);

  // `binding`: "grpc" or "http". `outcome`: "issued", "refused" or "fault".
  void RecordRequest(const std::string& binding, const std::string& outcome);
  // `reason`: a label of docs/PROTOCOL.md "The public endpoint" (e.g. "too_large",
  // "over_address_limit", "request_timeout", "bad_signature").
  void RecordRefusal(const std::string& binding, const std::string& reason);
  void SetAdmission(size_t in_flight, size_t queued);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& refusals_;
  prometheus::Gauge& in_flight_;
  prometheus::Gauge& queued_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_PUBLIC_ENDPOINT_METRICS_H_
