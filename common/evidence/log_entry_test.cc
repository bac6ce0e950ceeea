#include "common/evidence/log_entry.h"

#include <string>

#include "common/crypto/hashing.h"
#include "common/transparency/merkle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;

v1::QuorumRecord IssuedRecord() {
  v1::QuorumRecord record;
  record.set_log_index(7);
  record.set_log_shard_id("shard-1");
  record.set_hostname("www.example.com");
  record.set_decision(v1::ISSUED);
  record.mutable_vouching_data()->set_statement("the statement bytes");
  return record;
}

TEST(LogEntryTest, AnIssuedRecordsEntryHoldsItsStatementAndItsHash) {
  const std::string record_bytes = IssuedRecord().SerializeAsString();
  absl::StatusOr<std::string> entry = LogEntryOfRecord(record_bytes);
  ASSERT_TRUE(entry.ok()) << entry.status();
  absl::StatusOr<v1::LogEntry> parsed = ParseLogEntry(*entry);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->statement(), "the statement bytes");
  EXPECT_EQ(parsed->record_sha256(), Sha256(record_bytes));
  // The canonical encoding is the one Protocol Buffers itself writes for these two fields.
  EXPECT_EQ(*entry, parsed->SerializeAsString());
  EXPECT_EQ(*LeafHashOfRecord(record_bytes), LeafHash(*entry));
}

TEST(LogEntryTest, TheBytesAreTheDocumentedOnes) {
  const std::string hash(32, '\x11');
  const std::string statement(200, 'S');  // A length that needs a two-byte varint.
  const std::string entry = LogEntryBytes(statement, hash);
  EXPECT_EQ(entry, std::string("\x0A\xC8\x01", 3) + statement + std::string("\x12\x20", 2) + hash);
  EXPECT_EQ(LogEntryBytes("", hash), std::string("\x12\x20", 2) + hash);
}

TEST(LogEntryTest, OnlyAnIssuedRecordPutsAStatementInTheLog) {
  for (v1::Decision decision : {v1::REFUSED, v1::DECISION_UNSPECIFIED}) {
    v1::QuorumRecord record = IssuedRecord();
    record.set_decision(decision);
    const std::string record_bytes = record.SerializeAsString();
    absl::StatusOr<v1::LogEntry> parsed = ParseLogEntry(*LogEntryOfRecord(record_bytes));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_TRUE(parsed->statement().empty());
    EXPECT_EQ(parsed->record_sha256(), Sha256(record_bytes));
  }
}

TEST(LogEntryTest, AnyChangeToTheRecordChangesTheLeaf) {
  v1::QuorumRecord record = IssuedRecord();
  const std::string before = *LeafHashOfRecord(record.SerializeAsString());
  record.set_hostname("www.example.net");  // Not part of the statement: only the hash changes.
  EXPECT_NE(*LeafHashOfRecord(record.SerializeAsString()), before);
}

TEST(LogEntryTest, NonCanonicalOrMalformedEntriesAreRefused) {
  const std::string hash(32, '\x22');
  const std::string good = LogEntryBytes("s", hash);
  ASSERT_TRUE(ParseLogEntry(good).ok());
  // The two fields in the other order parse as the same message but are other bytes.
  const std::string swapped = std::string("\x12\x20", 2) + hash + std::string("\x0A\x01s", 3);
  EXPECT_THAT(ParseLogEntry(swapped).status().message(), HasSubstr("canonical"));
  // An unknown field.
  EXPECT_THAT(ParseLogEntry(good + std::string("\x18\x01", 2)).status().message(),
              HasSubstr("canonical"));
  // A short hash.
  EXPECT_THAT(ParseLogEntry(LogEntryBytes("s", "short")).status().message(),
              HasSubstr("5 bytes, not 32"));
  EXPECT_THAT(ParseLogEntry("\x0A\x05s").status().message(), HasSubstr("not a LogEntry"));
  EXPECT_THAT(LogEntryOfRecord("\x0A\x05s").status().message(), HasSubstr("not a QuorumRecord"));
}

}  // namespace
}  // namespace mecai
