// RocksDB's own synced writes, the baseline the store benchmarks compare against
// (docs/PERFORMANCE.md "Record store writes"): a write is durable only once the WAL is synced
// (ARCHITECTURE.md §8, trust rule 4), so what a disk allows is the rate of one synced Put per write
// from the same writers, on the same file system.
#ifndef MECAI_BENCH_SYNCED_WRITES_H_
#define MECAI_BENCH_SYNCED_WRITES_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mecai {

// The name of the file system holding `dir`, from statfs(2)'s f_type ("ext2/3/4", "xfs", "tmpfs
// (fsync is nearly free: not a disk figure)", ...).
std::string FileSystemOf(const std::string& dir);

// A fresh, empty directory under `parent`, named `prefix`-XXXXXX (mkdtemp(3)).
absl::StatusOr<std::string> FreshDirectory(const std::string& parent, absl::string_view prefix);

// Runs `write(k)` for k in [0, writes) from `threads` threads, each taking the next k; returns
// writes per second, or the first failed write's status (the threads stop taking new writes).
absl::StatusOr<double> MeasureWrites(int threads, uint64_t writes,
                                     const std::function<absl::Status(uint64_t k)>& write);

// Writes per second of RocksDB Put with WriteOptions.sync = true: `writes` values of `value_bytes`
// random (incompressible) bytes, 8-byte keys, from `threads` threads, on a fresh database made
// under `parent` and removed afterwards.
absl::StatusOr<double> RocksDbSyncedPutRate(const std::string& parent, int threads, uint64_t writes,
                                            size_t value_bytes);

}  // namespace mecai

#endif  // MECAI_BENCH_SYNCED_WRITES_H_
