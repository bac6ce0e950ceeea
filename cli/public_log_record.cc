#include "cli/public_log_record.h"

#include "absl/strings/str_cat.h"

namespace mecai {

absl::StatusOr<v1::QuorumRecord> RecordOfEntry(absl::string_view entry, uint64_t index,
                                               const EvidenceFetch& /*fetch*/) {
  v1::QuorumRecord record;
  if (!record.ParseFromArray(entry.data(), static_cast<int>(entry.size()))) {
    return absl::DataLossError(absl::StrCat("entry ", index, " is not a mecai.v1.QuorumRecord"));
  }
  if (record.log_index() != index) {
    return absl::DataLossError(
        absl::StrCat("entry ", index, " is the record of log index ", record.log_index()));
  }
  return record;
}

}  // namespace mecai
