#include "common/storage/rocksdb_status.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/status.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Mapping {
  rocksdb::Status from;
  absl::StatusCode to;
};

TEST(FromRocksDbStatusTest, EveryRocksDbCodeHasItsCanonicalCode) {
  const std::vector<Mapping> mappings = {
      {rocksdb::Status::NotFound("key"), absl::StatusCode::kNotFound},
      {rocksdb::Status::Corruption("bad block checksum"), absl::StatusCode::kDataLoss},
      {rocksdb::Status::NotSupported("feature"), absl::StatusCode::kUnimplemented},
      {rocksdb::Status::InvalidArgument("options"), absl::StatusCode::kInvalidArgument},
      {rocksdb::Status::IOError("read failed"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::PathNotFound("no directory"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::NoSpace("disk full"), absl::StatusCode::kResourceExhausted},
      {rocksdb::Status::SpaceLimit("quota"), absl::StatusCode::kResourceExhausted},
      {rocksdb::Status::CompactionTooLarge("compaction"), absl::StatusCode::kResourceExhausted},
      {rocksdb::Status::Incomplete("iterator"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::ShutdownInProgress("closing"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::Busy("write conflict"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::TryAgain("later"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::TimedOut("lock"), absl::StatusCode::kDeadlineExceeded},
      {rocksdb::Status::Expired("ttl"), absl::StatusCode::kDeadlineExceeded},
      {rocksdb::Status::MergeInProgress("merge"), absl::StatusCode::kAborted},
      {rocksdb::Status::Aborted("aborted"), absl::StatusCode::kAborted},
      {rocksdb::Status::MemoryLimit("memory"), absl::StatusCode::kAborted},
      {rocksdb::Status::ColumnFamilyDropped("family"), absl::StatusCode::kFailedPrecondition},
  };
  for (const Mapping& mapping : mappings) {
    const absl::Status status = FromRocksDbStatus(mapping.from, "writing the records");
    EXPECT_EQ(status.code(), mapping.to) << mapping.from.ToString();
    // The message names what failed, then keeps RocksDB's own text.
    EXPECT_EQ(status.message(), "writing the records: " + mapping.from.ToString());
  }
}

TEST(FromRocksDbStatusTest, OkIsOk) {
  EXPECT_TRUE(FromRocksDbStatus(rocksdb::Status::OK(), "anything").ok());
}

std::string FreshDirectory(const std::string& name) {
  const char* temporary = std::getenv("TEST_TMPDIR");
  return std::string(temporary != nullptr ? temporary : "/tmp") + "/" + name;
}

rocksdb::Options CreatingOptions() {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  return options;
}

void Close(RocksDbWithColumnFamilies& opened) {
  for (rocksdb::ColumnFamilyHandle* handle : opened.handles) {
    opened.db->DestroyColumnFamilyHandle(handle);
  }
  opened.handles.clear();
  opened.db.reset();
}

TEST(OpenWithColumnFamiliesTest, HandlesFollowTheNamedOrderAndKeepTheirData) {
  const std::string path = FreshDirectory("ordered");
  const std::vector<std::string> families = {"default", "records", "by_host"};
  {
    ASSERT_OK_AND_ASSIGN(RocksDbWithColumnFamilies opened,
                         OpenWithColumnFamilies(CreatingOptions(), path, families, "test store"));
    ASSERT_EQ(opened.handles.size(), families.size());
    for (size_t i = 0; i < families.size(); ++i) {
      EXPECT_EQ(opened.handles[i]->GetName(), families[i]);
    }
    ASSERT_TRUE(opened.db->Put(rocksdb::WriteOptions(), opened.handles[1], "k", "v").ok());
    Close(opened);
  }
  ASSERT_OK_AND_ASSIGN(RocksDbWithColumnFamilies reopened,
                       OpenWithColumnFamilies(rocksdb::Options(), path, families, "test store"));
  std::string value;
  ASSERT_TRUE(reopened.db->Get(rocksdb::ReadOptions(), reopened.handles[1], "k", &value).ok());
  EXPECT_EQ(value, "v");
  Close(reopened);
}

TEST(OpenWithColumnFamiliesTest, FailuresAreMappedAndNameWhatWasOpened) {
  const std::string path = FreshDirectory("failures");
  ASSERT_OK_AND_ASSIGN(
      RocksDbWithColumnFamilies opened,
      OpenWithColumnFamilies(CreatingOptions(), path, {"default", "records"}, "test store"));

  // A second open of a database in use: RocksDB's LOCK file refuses it (an IOError).
  absl::StatusOr<RocksDbWithColumnFamilies> locked =
      OpenWithColumnFamilies(CreatingOptions(), path, {"default", "records"}, "second opener");
  EXPECT_EQ(locked.status().code(), absl::StatusCode::kUnavailable) << locked.status();
  EXPECT_THAT(std::string(locked.status().message()), StartsWith("second opener: IO error"));
  Close(opened);

  // Every family the database holds must be named.
  absl::StatusOr<RocksDbWithColumnFamilies> partial =
      OpenWithColumnFamilies(rocksdb::Options(), path, {"default"}, "partial opener");
  EXPECT_EQ(partial.status().code(), absl::StatusCode::kInvalidArgument) << partial.status();
  EXPECT_THAT(std::string(partial.status().message()), HasSubstr("records"));

  // No database and none to be created.
  absl::StatusOr<RocksDbWithColumnFamilies> missing = OpenWithColumnFamilies(
      rocksdb::Options(), FreshDirectory("missing"), {"default"}, "missing store");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument) << missing.status();
  EXPECT_THAT(std::string(missing.status().message()), StartsWith("missing store: "));
}

}  // namespace
}  // namespace mecai
