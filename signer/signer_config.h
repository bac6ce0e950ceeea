// Validation and defaults of the signer's configuration (v1::SignerConfig).
#ifndef MECAI_SIGNER_SIGNER_CONFIG_H_
#define MECAI_SIGNER_SIGNER_CONFIG_H_

#include <string>

#include "absl/status/status.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

v1::SignerConfig WithSignerDefaults(v1::SignerConfig config);

// Names every offending field. Plaintext serving is refused (trust rule 7).
absl::Status ValidateSignerConfig(const v1::SignerConfig& config, const std::string& source);

}  // namespace mecai

#endif  // MECAI_SIGNER_SIGNER_CONFIG_H_
