// Validation and defaults of the witness's configuration (v1::WitnessConfig, docs/PUBLIC_LOG.md
// "Witnesses").
#ifndef MECAI_WITNESS_WITNESS_CONFIG_H_
#define MECAI_WITNESS_WITNESS_CONFIG_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/transparency/note_key.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {
namespace witness {

v1::WitnessConfig WithWitnessDefaults(v1::WitnessConfig config);

// Names every offending field (after WithWitnessDefaults); INVALID_ARGUMENT.
absl::Status ValidateWitnessConfig(const v1::WitnessConfig& config, const std::string& source);

// The configured logs: origin → its note verifier keys, `logs` and then the log_vkeys of
// va_list_file. INVALID_ARGUMENT (naming the file, VA and problem) for a VA list that does not
// load, a bad vkey, an origin twice, or no log at all.
absl::StatusOr<std::map<std::string, std::vector<NoteVerifierKey>>> WitnessedLogs(
    const v1::WitnessConfig& config);

}  // namespace witness
}  // namespace mecai

#endif  // MECAI_WITNESS_WITNESS_CONFIG_H_
