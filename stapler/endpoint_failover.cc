#include "stapler/endpoint_failover.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/logging.h"

namespace mecai {

absl::StatusOr<v1::VouchingData> FetchFromEndpoints(const std::vector<v1::PeerConfig>& endpoints,
                                                    const EndpointTimeouts& timeouts,
                                                    const Clock& clock,
                                                    const EndpointAttempt& attempt) {
  const absl::Time deadline = clock.Now() + timeouts.overall;
  std::vector<std::string> failures;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    const v1::PeerConfig& endpoint = endpoints[i];
    const absl::Duration remaining = deadline - clock.Now();
    if (remaining <= absl::ZeroDuration()) {
      failures.push_back(absl::StrCat(endpoint.address(), ": not tried, the fetch's deadline of ",
                                      absl::FormatDuration(timeouts.overall), " had passed"));
      continue;
    }
    absl::StatusOr<v1::VouchResponse> response =
        attempt(endpoint, std::min(timeouts.per_endpoint, remaining));
    if (response.ok()) {
      if (response->has_vouching_data()) return response->vouching_data();
      return absl::FailedPreconditionError(
          absl::StrCat("refused: ", v1::RefusalReason_Name(response->refusal().reason()), ": ",
                       response->refusal().explanation()));
    }
    MECAI_LOG(Warning) << "Vouching Server endpoint " << endpoint.address() << " (" << i + 1
                       << " of " << endpoints.size() << ") failed"
                       << (i + 1 < endpoints.size() ? ", trying the next" : "") << ": "
                       << response.status().message();
    failures.push_back(absl::StrCat(endpoint.address(), ": ",
                                    absl::StatusCodeToString(response.status().code()), ": ",
                                    response.status().message()));
  }
  return absl::UnavailableError(
      absl::StrCat("no Vouching Server endpoint answered (", absl::StrJoin(failures, "; "), ")"));
}

}  // namespace mecai
