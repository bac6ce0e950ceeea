// Bytes on disk per record when decisions carry a CRL (ARCHITECTURE.md §8 "Evidence by content
// hash"): records whose decisions all relied on one CA's CRL, stored once by hash, against the
// baseline, in the same run, of records that each carry a CRL of their own — what every record
// cost when each embedded its CRL, and what the store still costs when every response differs
// (OCSP responses are per certificate, a few hundred bytes to a few KiB).
//
// Usage: evidence_store_bench [RECORDS [CRL_BYTES [DIR]]]
//        (default 2000 records, a 200 KiB CRL, under /var/tmp)
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/realistic_record.h"
#include "coordinator/record_store.h"
#include "proto/mecai/v1/record.pb.h"

namespace mecai {
namespace {

constexpr char kShard[] = "bench-shard";

// An issued decision with three perspectives (RealisticRecord) relying on `crl`.
v1::QuorumRecord RecordWithCrl(uint64_t index, const std::string& crl) {
  v1::QuorumRecord record = RealisticRecord(index, kShard);
  v1::RevocationEvidence* evidence = record.add_revocation();
  evidence->set_source(v1::CRL);
  evidence->set_url("http://crl.example/issuing-ca.crl");
  evidence->set_response_der(crl);
  return record;
}

// Appends `records` records to a new store under `dir`, each with a `crl_bytes` CRL that is the
// same for all (`shared`) or drawn anew for each; returns the store's bytes on disk per record
// after a backup (RocksDB checkpoint: memtables flushed), or 0 on error.
double BytesPerRecord(const std::string& dir, uint64_t records, size_t crl_bytes, bool shared) {
  std::mt19937_64 random(shared ? 1 : 2);
  const std::string shared_crl = RandomBytes(random, crl_bytes);
  const std::string path = absl::StrCat(dir, shared ? "/shared" : "/distinct");
  auto store = RecordStore::Open(path, kShard);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", std::string(store.status().message()).c_str());
    return 0;
  }
  for (uint64_t i = 0; i < records; ++i) {
    const std::string crl = shared ? shared_crl : RandomBytes(random, crl_bytes);
    auto appended = (*store)->Append([&](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
      return RecordWithCrl(index, crl);
    });
    if (!appended.ok()) {
      std::fprintf(stderr, "%s\n", std::string(appended.status().message()).c_str());
      return 0;
    }
  }
  const std::string backup = path + "-backup";
  if (absl::Status backed_up = (*store)->CreateBackup(backup); !backed_up.ok()) {
    std::fprintf(stderr, "%s\n", std::string(backed_up.message()).c_str());
    return 0;
  }
  return static_cast<double>(DirectoryBytes(backup)) / static_cast<double>(records);
}

int Run(uint64_t records, size_t crl_bytes, const std::string& parent) {
  std::string dir = absl::StrCat(parent, "/evidence_store_bench-XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    std::fprintf(stderr, "evidence_store_bench: cannot make a directory under %s\n",
                 parent.c_str());
    return 1;
  }
  const double distinct = BytesPerRecord(dir, records, crl_bytes, /*shared=*/false);
  const double shared = BytesPerRecord(dir, records, crl_bytes, /*shared=*/true);
  std::filesystem::remove_all(dir);
  if (distinct == 0 || shared == 0) return 1;
  std::printf(
      "| records | CRL bytes | store bytes per record, one CRL for all | baseline: a CRL "
      "of its own each | ratio |\n");
  std::printf("|--:|--:|--:|--:|--:|\n");
  std::printf("| %llu | %zu | %.0f | %.0f | %.1fx smaller |\n",
              static_cast<unsigned long long>(records), crl_bytes, shared, distinct,
              distinct / shared);
  return 0;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) {
  uint64_t records = 2000;
  uint64_t crl_bytes = 200 * 1024;
  if (argc > 1 && (!absl::SimpleAtoi(argv[1], &records) || records == 0)) {
    std::fprintf(stderr, "usage: evidence_store_bench [RECORDS [CRL_BYTES [DIR]]]\n");
    return 2;
  }
  if (argc > 2 && (!absl::SimpleAtoi(argv[2], &crl_bytes) || crl_bytes == 0)) {
    std::fprintf(stderr, "usage: evidence_store_bench [RECORDS [CRL_BYTES [DIR]]]\n");
    return 2;
  }
  return mecai::Run(records, static_cast<size_t>(crl_bytes), argc > 3 ? argv[3] : "/var/tmp");
}
