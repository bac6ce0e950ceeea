// What a restore of the coordinator's store costs (docs/OPERATIONS.md "Backup and restore"):
// bytes on disk per record, the time to take a backup (RecordStore::CreateBackup), and the time a
// coordinator takes to open a restored store, which verifies every record against its Merkle leaf
// (RecordStore::Open) — against the baseline, in the same run on the same files, of RocksDB
// reading every value of the records column family once without checking anything.
//
// Usage: store_recovery_bench [RECORDS [DIR]]   (default 100000 records under /var/tmp)
#include <sys/statfs.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/realistic_record.h"
#include "coordinator/record_store.h"
#include "proto/mecai/v1/record.pb.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"

namespace mecai {
namespace {

constexpr char kShard[] = "bench-shard";

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int Run(uint64_t records, const std::string& parent) {
  std::string dir = absl::StrCat(parent, "/store_recovery_bench-XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    std::fprintf(stderr, "store_recovery_bench: cannot make a directory under %s\n",
                 parent.c_str());
    return 1;
  }
  const std::string store_path = dir + "/store";
  {
    auto store = RecordStore::Open(store_path, kShard);
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", std::string(store.status().message()).c_str());
      return 1;
    }
    for (uint64_t i = 0; i < records; ++i) {
      auto appended = (*store)->Append([](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
        return RealisticRecord(index, kShard);
      });
      if (!appended.ok()) {
        std::fprintf(stderr, "%s\n", std::string(appended.status().message()).c_str());
        return 1;
      }
    }
    const auto backup_start = std::chrono::steady_clock::now();
    absl::Status backed_up = (*store)->CreateBackup(dir + "/backup");
    const double backup_seconds = SecondsSince(backup_start);
    if (!backed_up.ok()) {
      std::fprintf(stderr, "%s\n", std::string(backed_up.message()).c_str());
      return 1;
    }
    std::printf("records:                     %llu\n", static_cast<unsigned long long>(records));
    std::printf("bytes on disk per record:    %.0f (store directory after a flush)\n",
                static_cast<double>(DirectoryBytes(dir + "/backup")) / records);
    std::printf("backup (RocksDB checkpoint): %.3f s\n", backup_seconds);
  }
  // Baseline: RocksDB reads every record once, nothing checked.
  double scan_seconds = 0;
  {
    rocksdb::DBOptions options;
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    std::vector<std::string> names;
    rocksdb::DB::ListColumnFamilies(options, dir + "/backup", &names);
    for (const std::string& name : names)
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    const auto start = std::chrono::steady_clock::now();
    rocksdb::Status opened =
        rocksdb::DB::OpenForReadOnly(options, dir + "/backup", families, &handles, &raw);
    if (!opened.ok()) {
      std::fprintf(stderr, "%s\n", opened.ToString().c_str());
      return 1;
    }
    std::unique_ptr<rocksdb::DB> db(raw);
    uint64_t bytes = 0;
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] != "records") continue;
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[i]));
      for (it->SeekToFirst(); it->Valid(); it->Next()) bytes += it->value().size();
    }
    scan_seconds = SecondsSince(start);
    for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
    std::printf("baseline, RocksDB scan:      %.3f s (%llu record bytes)\n", scan_seconds,
                static_cast<unsigned long long>(bytes));
  }
  const auto open_start = std::chrono::steady_clock::now();
  auto restored = RecordStore::Open(dir + "/backup", kShard);
  const double open_seconds = SecondsSince(open_start);
  if (!restored.ok() || (*restored)->TreeSize() != records) {
    std::fprintf(stderr, "the backup did not open with every record\n");
    return 1;
  }
  std::printf("RecordStore::Open (verify):  %.3f s, %.1f µs per record, %.1fx the scan\n",
              open_seconds, open_seconds * 1e6 / records, open_seconds / scan_seconds);
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) {
  uint64_t records = 100000;
  if (argc > 1 && (!absl::SimpleAtoi(argv[1], &records) || records == 0)) {
    std::fprintf(stderr, "usage: store_recovery_bench [RECORDS [DIR]]\n");
    return 2;
  }
  return mecai::Run(records, argc > 2 ? argv[2] : "/var/tmp");
}
