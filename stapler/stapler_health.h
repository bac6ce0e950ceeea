// The stapler's health, as the other services report theirs: grpc.health.v1.Health on a
// plaintext health-only port (StaplerConfig.health_address, like ListenConfig.health_address), for
// Kubernetes probes and service monitors. A stapler is healthy while it has something fresh to
// staple for every VA of its VA list (ARCHITECTURE.md §5 "Server behaviour"): for each VA it holds
// a VD issued less than the threshold ago. A VA it holds no VD for counts only once the stapler
// has run for the threshold, so a starting stapler has that long to fetch its first VDs.
#ifndef MECAI_STAPLER_STAPLER_HEALTH_H_
#define MECAI_STAPLER_STAPLER_HEALTH_H_

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

// The default threshold (StaplerConfig.health_max_vd_age_ms): 12 h, where the alert
// MecaiStaplerVouchingDataOld warns (docs/OPERATIONS.md "Alerts"), half of what clients accept
// (client/vd_verifier.h kDefaultMaxVdAge).
inline constexpr absl::Duration kDefaultHealthMaxVdAge = absl::Hours(12);

struct StaplerHealth {
  bool serving = false;
  // Why not, one sentence per VA that makes it unhealthy; empty when serving.
  std::vector<std::string> problems;
};

// Judges `held` (the VD held for each VA, as Stapler::HeldVds) for the VAs `va_ids` at `now`, for
// a stapler started at `started`: SERVING when every VA has a held VD issued (its statement's
// issued_at) less than `max_vd_age` ago, or the stapler started less than `max_vd_age` ago and
// holds none for it yet. A held VD whose statement does not parse counts as none.
StaplerHealth JudgeStaplerHealth(const std::map<std::string, v1::VouchingData>& held,
                                 const std::vector<std::string>& va_ids, absl::Time started,
                                 absl::Time now, absl::Duration max_vd_age);

}  // namespace mecai

#endif  // MECAI_STAPLER_STAPLER_HEALTH_H_
