// The one place that turns an entry of a shard's public log into the quorum record it stands for
// (docs/PUBLIC_LOG.md §1: an entry is the serialized mecai.v1.QuorumRecord exactly as the
// coordinator stored and hashed it).
#ifndef MECAI_CLI_PUBLIC_LOG_RECORD_H_
#define MECAI_CLI_PUBLIC_LOG_RECORD_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cli/audit_client.h"
#include "proto/mecai/v1/record.pb.h"

namespace mecai {

// The record of `entry`, the leaf at `index`; `fetch` reads what the log serves by content hash,
// for entries that name their record by hash. DATA_LOSS when the entry is not a record of that
// index.
absl::StatusOr<v1::QuorumRecord> RecordOfEntry(absl::string_view entry, uint64_t index,
                                               const EvidenceFetch& fetch);

}  // namespace mecai

#endif  // MECAI_CLI_PUBLIC_LOG_RECORD_H_
