// The leaves of a shard's log (docs/PUBLIC_LOG.md "Entries"): each record becomes one
// v1::LogEntry, holding the statement of an issued VD and the SHA-256 of the whole record. The
// record store, the log server, the signer and every auditor derive a record's leaf here, so that
// one rule decides what the log commits to.
#ifndef MECAI_COMMON_EVIDENCE_LOG_ENTRY_H_
#define MECAI_COMMON_EVIDENCE_LOG_ENTRY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/mecai/v1/record.pb.h"

namespace mecai {

// The serialized LogEntry of `statement` (empty for none) and a 32-byte `record_sha256`, built
// field by field: 0x0A <varint length> statement (omitted when empty), 0x12 0x20 record_sha256.
std::string LogEntryBytes(absl::string_view statement, absl::string_view record_sha256);

// The serialized LogEntry of a serialized QuorumRecord: its VD statement when the decision is
// ISSUED, and SHA-256(record_bytes). INVALID_ARGUMENT when the bytes are not a QuorumRecord.
absl::StatusOr<std::string> LogEntryOfRecord(absl::string_view record_bytes);

// RFC 9162 §2.1.1 leaf hash of the record: SHA-256(0x00 || LogEntryOfRecord(record_bytes)).
absl::StatusOr<std::string> LeafHashOfRecord(absl::string_view record_bytes);

// A LogEntry parsed strictly: INVALID_ARGUMENT for bytes that are not exactly LogEntryBytes of
// their own fields (unknown fields, a record hash that is not 32 bytes, another encoding).
absl::StatusOr<v1::LogEntry> ParseLogEntry(absl::string_view entry_bytes);

}  // namespace mecai

#endif  // MECAI_COMMON_EVIDENCE_LOG_ENTRY_H_
