#include "common/evidence/log_entry.h"

#include "absl/strings/str_cat.h"
#include "common/crypto/hashing.h"
#include "common/transparency/merkle.h"

namespace mecai {
namespace {

// Protocol Buffers encoding (https://protobuf.dev/programming-guides/encoding/): a base-128
// varint, least significant group first.
void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

}  // namespace

std::string LogEntryBytes(absl::string_view statement, absl::string_view record_sha256) {
  std::string entry;
  entry.reserve(statement.size() + 8 + record_sha256.size());
  if (!statement.empty()) {
    entry.push_back(0x0A);  // Field 1, length-delimited.
    AppendVarint(statement.size(), &entry);
    entry.append(statement.data(), statement.size());
  }
  entry.push_back(0x12);  // Field 2, length-delimited.
  AppendVarint(record_sha256.size(), &entry);
  entry.append(record_sha256.data(), record_sha256.size());
  return entry;
}

absl::StatusOr<std::string> LogEntryOfRecord(absl::string_view record_bytes) {
  v1::QuorumRecord record;
  if (!record.ParseFromArray(record_bytes.data(), static_cast<int>(record_bytes.size()))) {
    return absl::InvalidArgumentError("the log record is not a QuorumRecord");
  }
  const std::string& statement =
      record.decision() == v1::ISSUED ? record.vouching_data().statement() : std::string();
  return LogEntryBytes(statement, Sha256(record_bytes));
}

absl::StatusOr<std::string> LeafHashOfRecord(absl::string_view record_bytes) {
  absl::StatusOr<std::string> entry = LogEntryOfRecord(record_bytes);
  if (!entry.ok()) return entry.status();
  return LeafHash(*entry);
}

absl::StatusOr<v1::LogEntry> ParseLogEntry(absl::string_view entry_bytes) {
  v1::LogEntry entry;
  if (!entry.ParseFromArray(entry_bytes.data(), static_cast<int>(entry_bytes.size()))) {
    return absl::InvalidArgumentError("the log entry is not a LogEntry");
  }
  if (entry.record_sha256().size() != 32) {
    return absl::InvalidArgumentError(absl::StrCat("the log entry's record hash has ",
                                                   entry.record_sha256().size(), " bytes, not 32"));
  }
  // Unknown fields, repeated fields or another field order all change the bytes.
  if (LogEntryBytes(entry.statement(), entry.record_sha256()) != entry_bytes) {
    return absl::InvalidArgumentError("the log entry is not in its one canonical encoding");
  }
  return entry;
}

}  // namespace mecai
