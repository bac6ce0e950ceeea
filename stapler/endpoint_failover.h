// Asking one VA over all of its Vouching Server endpoints (deploy/README.md "Stapler endpoints and
// metrics"): the endpoints are tried in their configured order, the first one first, each attempt
// with its own deadline within the fetch's overall deadline. An endpoint that cannot answer — the
// connection refused or lost, its deadline passed, any gRPC error — hands over to the next; an
// answer, a VD or the VA's refusal, ends the fetch (a refusal is the VA's decision, recorded in
// its log, ARCHITECTURE.md §3, and is not asked again elsewhere).
#ifndef MECAI_STAPLER_ENDPOINT_FAILOVER_H_
#define MECAI_STAPLER_ENDPOINT_FAILOVER_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

// One VR to one endpoint within `timeout`: the answer, or the transport's error.
using EndpointAttempt = std::function<absl::StatusOr<v1::VouchResponse>(
    const v1::PeerConfig& endpoint, absl::Duration timeout)>;

struct EndpointTimeouts {
  // The whole fetch, all endpoints together.
  absl::Duration overall = absl::Seconds(60);
  // One attempt at one endpoint; each attempt gets the smaller of this and what is left of
  // `overall`.
  absl::Duration per_endpoint = absl::Seconds(60);
};

// The VD of the first endpoint that answers. FAILED_PRECONDITION "refused: <REASON>: <explanation>"
// when the VA refused; UNAVAILABLE naming every endpoint and its error when none answered (an
// endpoint the overall deadline left no time for is named "not tried"). `endpoints` must not be
// empty. Logs each failed endpoint (Warning). Thread-safe if `attempt` is.
absl::StatusOr<v1::VouchingData> FetchFromEndpoints(const std::vector<v1::PeerConfig>& endpoints,
                                                    const EndpointTimeouts& timeouts,
                                                    const Clock& clock,
                                                    const EndpointAttempt& attempt);

}  // namespace mecai

#endif  // MECAI_STAPLER_ENDPOINT_FAILOVER_H_
