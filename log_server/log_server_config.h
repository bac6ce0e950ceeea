// Validation and defaults of the public log server's configuration (v1::LogServerConfig,
// docs/PUBLIC_LOG.md).
#ifndef MECAI_LOG_SERVER_LOG_SERVER_CONFIG_H_
#define MECAI_LOG_SERVER_LOG_SERVER_CONFIG_H_

#include <string>

#include "absl/status/status.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

v1::LogServerConfig WithLogServerDefaults(v1::LogServerConfig config);

// Names every offending field (after WithLogServerDefaults).
absl::Status ValidateLogServerConfig(const v1::LogServerConfig& config, const std::string& source);

}  // namespace mecai

#endif  // MECAI_LOG_SERVER_LOG_SERVER_CONFIG_H_
