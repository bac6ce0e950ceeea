#include "bench/synced_writes.h"

#include <stdlib.h>
#include <sys/statfs.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"

namespace mecai {

std::string FileSystemOf(const std::string& dir) {
  struct statfs info;
  if (statfs(dir.c_str(), &info) != 0) {
    return absl::StrCat("unknown (statfs: ", std::strerror(errno), ")");
  }
  const auto type = static_cast<uint64_t>(info.f_type);
  switch (type) {
    case 0xEF53:
      return "ext2/3/4";
    case 0x01021994:
      return "tmpfs (fsync is nearly free: not a disk figure)";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x794C7630:
      return "overlayfs";
    case 0x2FC12FC1:
      return "zfs";
    default:
      return absl::StrFormat("f_type 0x%x", type);
  }
}

absl::StatusOr<std::string> FreshDirectory(const std::string& parent, absl::string_view prefix) {
  std::string pattern = absl::StrCat(parent, "/", prefix, "-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot make a directory under ", parent, ": ", std::strerror(errno)));
  }
  return pattern;
}

absl::StatusOr<double> MeasureWrites(int threads, uint64_t writes,
                                     const std::function<absl::Status(uint64_t k)>& write) {
  std::atomic<uint64_t> next{0};
  std::atomic<bool> go{false};
  std::mutex mutex;
  absl::Status first_failure;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      for (uint64_t k = next.fetch_add(1); k < writes; k = next.fetch_add(1)) {
        absl::Status status = write(k);
        if (!status.ok()) {
          std::lock_guard<std::mutex> lock(mutex);
          if (first_failure.ok()) {
            first_failure =
                absl::Status(status.code(), absl::StrCat("write ", k, ": ", status.message()));
          }
          next.store(writes);
          return;
        }
      }
    });
  }
  const auto start = std::chrono::steady_clock::now();
  go.store(true);
  for (std::thread& worker : workers) worker.join();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  if (!first_failure.ok()) return first_failure;
  return static_cast<double>(writes) / elapsed.count();
}

absl::StatusOr<double> RocksDbSyncedPutRate(const std::string& parent, int threads, uint64_t writes,
                                            size_t value_bytes) {
  absl::StatusOr<std::string> path = FreshDirectory(parent, "synced-put");
  if (!path.ok()) return path.status();
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw_db = nullptr;
  const rocksdb::Status opened = rocksdb::DB::Open(options, *path, &raw_db);
  if (!opened.ok()) {
    return absl::InternalError(absl::StrCat("opening RocksDB at ", *path, ": ", opened.ToString()));
  }
  std::unique_ptr<rocksdb::DB> db(raw_db);
  std::mt19937_64 random(7);
  std::string value(value_bytes, '\0');
  for (char& byte : value) byte = static_cast<char>(random());
  rocksdb::WriteOptions sync;
  sync.sync = true;
  absl::StatusOr<double> rate = MeasureWrites(threads, writes, [&](uint64_t k) {
    char key[8];
    for (int i = 7; i >= 0; --i, k >>= 8) key[i] = static_cast<char>(k & 0xff);
    const rocksdb::Status status = db->Put(sync, rocksdb::Slice(key, sizeof(key)), value);
    return status.ok() ? absl::OkStatus() : absl::UnavailableError(status.ToString());
  });
  db.reset();
  std::error_code ignored;
  std::filesystem::remove_all(*path, ignored);
  return rate;
}

}  // namespace mecai
