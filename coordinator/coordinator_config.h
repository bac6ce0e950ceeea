// Validation and defaults of the coordinator's configuration (v1::CoordinatorConfig).
#ifndef MECAI_COORDINATOR_COORDINATOR_CONFIG_H_
#define MECAI_COORDINATOR_COORDINATOR_CONFIG_H_

#include <string>

#include "absl/status/status.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

// The longest probe_timeout_milliseconds a coordinator's config may set: every probe then fits on a
// probe stream (coordinator/probe_stream_client.h).
inline constexpr int kMaxProbeTimeoutMilliseconds = 120 * 1000;

// Fills unset limits with their documented defaults (see config.proto).
v1::CoordinatorConfig WithCoordinatorDefaults(v1::CoordinatorConfig config);

// Checks every field of a config that WithCoordinatorDefaults produced; the error names each
// offending field. `source` names the file in messages.
absl::Status ValidateCoordinatorConfig(const v1::CoordinatorConfig& config,
                                       const std::string& source);

}  // namespace mecai

#endif  // MECAI_COORDINATOR_COORDINATOR_CONFIG_H_
