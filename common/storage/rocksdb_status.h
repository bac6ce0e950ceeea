// The one conversion of rocksdb::Status to absl::Status (CONTRIBUTING.md rule 2), and the one way
// the stores open a RocksDB database with column families (the coordinator's record store, the
// approval service's store).
#ifndef MECAI_COMMON_STORAGE_ROCKSDB_STATUS_H_
#define MECAI_COMMON_STORAGE_ROCKSDB_STATUS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/status.h"

namespace mecai {

// `status` as an absl::Status whose message is "<what>: <RocksDB's text>"; OK for OK.
//   NotFound → NOT_FOUND; Corruption → DATA_LOSS; NotSupported → UNIMPLEMENTED;
//   InvalidArgument → INVALID_ARGUMENT; IOError → RESOURCE_EXHAUSTED when the disk or its quota is
//   full (NoSpace, SpaceLimit), else UNAVAILABLE; CompactionTooLarge → RESOURCE_EXHAUSTED;
//   Incomplete, ShutdownInProgress, Busy, TryAgain → UNAVAILABLE; TimedOut, Expired →
//   DEADLINE_EXCEEDED; MergeInProgress, Aborted → ABORTED; ColumnFamilyDropped →
//   FAILED_PRECONDITION; anything else → INTERNAL.
absl::Status FromRocksDbStatus(const rocksdb::Status& status, absl::string_view what);

// A RocksDB database and the handles of its column families, in the order they were named. The
// owner destroys the handles (rocksdb::DB::DestroyColumnFamilyHandle) before the database.
struct RocksDbWithColumnFamilies {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
};

// Opens the database at `path` with the column families `families` ("default" among them:
// RocksDB opens a database only with every family it holds), each with the column-family part of
// `options`. A failure is FromRocksDbStatus(status, what).
absl::StatusOr<RocksDbWithColumnFamilies> OpenWithColumnFamilies(
    const rocksdb::Options& options, const std::string& path,
    const std::vector<std::string>& families, absl::string_view what);

}  // namespace mecai

#endif  // MECAI_COMMON_STORAGE_ROCKSDB_STATUS_H_
