// The one place that turns an entry of a shard's public log into the quorum record it stands for
// (docs/PUBLIC_LOG.md "The entries"): an entry is a mecai.v1.LogEntry (common/evidence/log_entry.h)
// naming its record by SHA-256, and the log server serves the record by that hash.
#ifndef MECAI_CLI_PUBLIC_LOG_RECORD_H_
#define MECAI_CLI_PUBLIC_LOG_RECORD_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cli/audit_client.h"
#include "proto/mecai/v1/record.pb.h"

namespace mecai {

// The record of `entry`, the leaf at `index`: the entry parsed strictly, its record fetched by
// record_sha256 with `fetch`, and checked: it hashes to that name, it is a QuorumRecord of log
// index `index`, and the entry derived from it (LogEntryOfRecord: the VD statement of an issued
// decision) is `entry` byte for byte. DATA_LOSS naming the index when any check fails; the
// fetch's own error, annotated, when the record cannot be fetched.
absl::StatusOr<v1::QuorumRecord> RecordOfEntry(absl::string_view entry, uint64_t index,
                                               const EvidenceFetch& fetch);

}  // namespace mecai

#endif  // MECAI_CLI_PUBLIC_LOG_RECORD_H_
