#include "cli/public_log_record.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/evidence/log_entry.h"

namespace mecai {

absl::StatusOr<v1::QuorumRecord> RecordOfEntry(absl::string_view entry, uint64_t index,
                                               const EvidenceFetch& fetch) {
  absl::StatusOr<v1::LogEntry> parsed = ParseLogEntry(entry);
  if (!parsed.ok()) {
    return absl::DataLossError(absl::StrCat("entry ", index, ": ", parsed.status().message()));
  }
  const std::string& record_sha256 = parsed->record_sha256();
  absl::StatusOr<std::string> bytes = fetch(record_sha256);
  if (!bytes.ok()) {
    return Annotate(bytes.status(), absl::StrCat("entry ", index, ": fetching its record ",
                                                 HexEncode(record_sha256)));
  }
  if (Sha256(*bytes) != record_sha256) {
    return absl::DataLossError(absl::StrCat("entry ", index, ": the record served for ",
                                            HexEncode(record_sha256), " does not hash to it"));
  }
  v1::QuorumRecord record;
  if (!record.ParseFromString(*bytes)) {
    return absl::DataLossError(
        absl::StrCat("entry ", index, ": its record is not a mecai.v1.QuorumRecord"));
  }
  if (record.log_index() != index) {
    return absl::DataLossError(
        absl::StrCat("entry ", index, " names the record of log index ", record.log_index()));
  }
  absl::StatusOr<std::string> derived = LogEntryOfRecord(*bytes);
  if (!derived.ok() || *derived != entry) {
    return absl::DataLossError(absl::StrCat(
        "entry ", index, " is not the entry of the record it names (its VD statement differs)"));
  }
  return record;
}

}  // namespace mecai
