// Validation and defaults of the signer's configuration (v1::SignerConfig).
#ifndef MECAI_SIGNER_SIGNER_CONFIG_H_
#define MECAI_SIGNER_SIGNER_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

// Evidence by content hash (config.proto SignerConfig.evidence_cache_bytes and
// max_evidence_upload_bytes; ARCHITECTURE.md §8).
inline constexpr uint64_t kDefaultEvidenceCacheBytes = uint64_t{256} << 20;
inline constexpr uint64_t kDefaultMaxEvidenceUploadBytes = uint64_t{32} << 20;
inline constexpr uint64_t kMinimumMaxEvidenceUploadBytes = uint64_t{64} << 10;
inline constexpr uint64_t kMaximumEvidenceCacheBytes = uint64_t{16} << 30;

v1::SignerConfig WithSignerDefaults(v1::SignerConfig config);

// Names every offending field. Plaintext serving is refused (trust rule 7).
absl::Status ValidateSignerConfig(const v1::SignerConfig& config, const std::string& source);

}  // namespace mecai

#endif  // MECAI_SIGNER_SIGNER_CONFIG_H_
