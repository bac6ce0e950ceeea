#include "cli/public_log_record.h"

#include <string>

#include "absl/container/flat_hash_map.h"
#include "common/crypto/hashing.h"
#include "common/evidence/log_entry.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

// What a log server serves by hash: here, a map the test fills (and falsifies).
class ServedByHash {
 public:
  void Serve(const std::string& sha256, const std::string& bytes) { served_[sha256] = bytes; }
  EvidenceFetch Fetch() const {
    return [this](const std::string& sha256) -> absl::StatusOr<std::string> {
      auto it = served_.find(sha256);
      if (it == served_.end()) return absl::UnavailableError("HTTP status 404");
      return it->second;
    };
  }

 private:
  absl::flat_hash_map<std::string, std::string> served_;
};

std::string IssuedRecordBytes(uint64_t index) {
  v1::QuorumRecord record;
  record.set_log_index(index);
  record.set_log_shard_id("shard-1");
  record.set_hostname("www.example.test");
  record.set_decision(v1::ISSUED);
  record.mutable_vouching_data()->set_statement("the VD statement's bytes");
  return record.SerializeAsString();
}

TEST(RecordOfEntryTest, FetchesTheRecordTheEntryNamesAndChecksIt) {
  const std::string bytes = IssuedRecordBytes(7);
  ASSERT_OK_AND_ASSIGN(std::string entry, LogEntryOfRecord(bytes));
  ServedByHash log;
  log.Serve(Sha256(bytes), bytes);
  ASSERT_OK_AND_ASSIGN(v1::QuorumRecord record, RecordOfEntry(entry, 7, log.Fetch()));
  EXPECT_EQ(record.hostname(), "www.example.test");
  EXPECT_THAT(
      RecordOfEntry(entry, 8, log.Fetch()),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("entry 8 names the record of log index 7")));
}

TEST(RecordOfEntryTest, RefusesARecordThatIsNotTheOneNamedOrAnEntryThatIsNotItsRecords) {
  const std::string bytes = IssuedRecordBytes(7);
  ASSERT_OK_AND_ASSIGN(std::string entry, LogEntryOfRecord(bytes));
  ServedByHash log;
  log.Serve(Sha256(bytes), IssuedRecordBytes(6));
  EXPECT_THAT(RecordOfEntry(entry, 7, log.Fetch()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("does not hash to it")));
  // The right record, but an entry whose statement is not the record's VD statement.
  log.Serve(Sha256(bytes), bytes);
  const std::string forged = LogEntryBytes("another statement", Sha256(bytes));
  EXPECT_THAT(RecordOfEntry(forged, 7, log.Fetch()),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("entry 7 is not the entry of the record it names")));
  EXPECT_THAT(RecordOfEntry("not an entry", 7, log.Fetch()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("entry 7: ")));
  const std::string unknown = IssuedRecordBytes(9);
  ASSERT_OK_AND_ASSIGN(std::string unserved, LogEntryOfRecord(unknown));
  EXPECT_THAT(RecordOfEntry(unserved, 9, log.Fetch()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("entry 9: fetching its record")));
}

}  // namespace
}  // namespace mecai
