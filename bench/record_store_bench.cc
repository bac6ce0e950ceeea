// Quorum-record writes against RocksDB's own synced writes (ARCHITECTURE.md §8, trust rule 4).
//
// For each number of writer threads W in {1, 4, 8, 16}, in the same run and on the same disk:
//   (a) raw RocksDB: each write is one Put of a ~2 KiB value with WriteOptions.sync = true, on a
//       fresh database, from W threads;
//   (b) RecordStore::Append of a realistic ~2 KiB QuorumRecord whose build is trivial (no signer),
//       on a fresh store, from W threads. --build-micros makes each build sleep that long first,
//       standing in for the signer call the coordinator makes there.
// Prints writes per second of both and the ratio (b)/(a), the median of --rounds rounds. Both sides
// sync the WAL on every write, so the figures depend on the file system: the directory's file
// system type is printed (tmpfs makes fsync nearly free; use a directory on the real disk).
//
// Usage: record_store_bench [--writes N] [--dir DIR] [--rounds R] [--build-micros U]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_stats.h"
#include "bench/synced_writes.h"
#include "common/crypto/hashing.h"
#include "coordinator/record_store.h"
#include "proto/mecai/v1/record.pb.h"

namespace mecai {
namespace {

constexpr int kWriterCounts[] = {1, 4, 8, 16};
constexpr size_t kValueBytes = 2048;
constexpr char kShard[] = "bench-shard";

struct Flags {
  uint64_t writes = 2000;
  std::string dir = "/var/tmp";
  int rounds = 3;
  int build_micros = 0;
};

constexpr char kUsage[] =
    "Usage: record_store_bench [--writes N] [--dir DIR] [--rounds R] [--build-micros U]\n"
    "  Compares RecordStore::Append with raw RocksDB synced writes for 1, 4, 8 and 16 writer\n"
    "  threads.\n"
    "  --writes N   writes per measurement, shared among the threads (default 2000)\n"
    "  --dir DIR    where the fresh databases are made (default /var/tmp; fsync costs depend on\n"
    "               its file system, which is printed)\n"
    "  --rounds R   measurements per configuration; the median is reported (default 3)\n"
    "  --build-micros U  each Append's build sleeps U microseconds, like a signer call (default "
    "0)\n";

// Parses the command line; exits with a message on a bad one.
Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    std::string name = arg;
    std::string value;
    const size_t equals = arg.find('=');
    if (equals != std::string::npos) {
      name = arg.substr(0, equals);
      value = arg.substr(equals + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::fprintf(stderr, "record_store_bench: %s needs a value\n%s", arg.c_str(), kUsage);
      std::exit(2);
    }
    bool ok = true;
    if (name == "--writes") {
      ok = absl::SimpleAtoi(value, &flags.writes) && flags.writes > 0;
    } else if (name == "--dir") {
      ok = !value.empty();
      flags.dir = value;
    } else if (name == "--build-micros") {
      ok = absl::SimpleAtoi(value, &flags.build_micros) && flags.build_micros >= 0;
    } else if (name == "--rounds") {
      ok = absl::SimpleAtoi(value, &flags.rounds) && flags.rounds > 0;
    } else {
      std::fprintf(stderr, "record_store_bench: unknown flag %s\n%s", name.c_str(), kUsage);
      std::exit(2);
    }
    if (!ok) {
      std::fprintf(stderr, "record_store_bench: bad value \"%s\" for %s\n%s", value.c_str(),
                   name.c_str(), kUsage);
      std::exit(2);
    }
  }
  return flags;
}

// The value, or exits with the status.
template <typename T>
T OrExit(absl::StatusOr<T> value) {
  if (!value.ok()) {
    std::fprintf(stderr, "record_store_bench: %s\n", value.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(value);
}

// Deterministic filler bytes.
std::string Filler(size_t size, uint32_t seed) {
  std::string bytes(size, '\0');
  uint32_t state = seed * 2654435761u + 1;
  for (char& byte : bytes) {
    state = state * 1664525u + 1013904223u;
    byte = static_cast<char>(state >> 24);
  }
  return bytes;
}

// A quorum record shaped like an issued decision of three perspectives: the VR, three signed
// Observations and the VD, about 2 KiB serialized.
v1::QuorumRecord TemplateRecord() {
  v1::QuorumRecord record;
  record.set_log_shard_id(kShard);
  record.set_decided_at_unix_milliseconds(1'790'000'000'000);
  record.set_vouching_request(Filler(760, 1));
  record.set_vouching_request_sha256(Sha256(record.vouching_request()));
  record.set_hostname("www.example.com");
  record.set_port(443);
  record.set_trust_list("mozilla");
  record.add_certificate_sha256(Sha256("leaf certificate"));
  record.set_decision(v1::ISSUED);
  const char* const regions[] = {"eu-west", "us-east", "ap-south"};
  for (int i = 0; i < 3; ++i) {
    v1::PerspectiveResult* result = record.add_perspectives();
    result->mutable_perspective()->set_id(absl::StrCat(regions[i], "-1a"));
    result->mutable_perspective()->set_region(regions[i]);
    result->mutable_observation()->set_tbs(Filler(220, 10 + i));
    result->mutable_observation()->mutable_signature()->set_value(Filler(64, 20 + i));
    result->set_round_trip_milliseconds(40 + i);
  }
  record.mutable_vouching_data()->set_statement(Filler(240, 30));
  record.mutable_vouching_data()->mutable_signature()->set_value(Filler(64, 31));
  return record;
}

struct AppendResult {
  double rate = 0;
  uint64_t batches = 0;
};

// (b) RecordStore::Append of a copy of `record` (its own log index and VR) on a fresh store.
AppendResult RecordStoreAppends(const Flags& flags, int threads, const v1::QuorumRecord& record) {
  const std::string path = OrExit(FreshDirectory(flags.dir, "record_store_bench-record_store"));
  absl::StatusOr<std::unique_ptr<RecordStore>> store = RecordStore::Open(path, kShard);
  if (!store.ok()) {
    std::fprintf(stderr, "record_store_bench: %s\n", store.status().ToString().c_str());
    std::exit(1);
  }
  AppendResult result;
  result.rate = OrExit(MeasureWrites(threads, flags.writes, [&](uint64_t k) {
    return (*store)
        ->Append([&](uint64_t log_index) -> absl::StatusOr<v1::QuorumRecord> {
          if (flags.build_micros > 0) {
            std::this_thread::sleep_for(std::chrono::microseconds(flags.build_micros));
          }
          v1::QuorumRecord built = record;
          built.set_log_index(log_index);
          // Distinct VRs, so that every record has its own replay entry.
          std::string* request = built.mutable_vouching_request();
          for (int i = 0; i < 8; ++i) (*request)[i] = static_cast<char>(k >> (8 * i));
          built.set_vouching_request_sha256(Sha256(*request));
          return built;
        })
        .status();
  }));
  result.batches = (*store)->CommittedBatches();
  store->reset();
  std::filesystem::remove_all(path);
  return result;
}

int Run(const Flags& flags) {
  std::error_code error;
  if (!std::filesystem::is_directory(flags.dir, error)) {
    std::fprintf(stderr, "record_store_bench: --dir %s is not a directory\n", flags.dir.c_str());
    return 2;
  }
  const v1::QuorumRecord record = TemplateRecord();
  std::printf("directory: %s (file system: %s)\n", flags.dir.c_str(),
              FileSystemOf(flags.dir).c_str());
  std::printf("hardware threads: %u\n", std::thread::hardware_concurrency());
  std::printf("writes per measurement: %llu, rounds: %d (median reported)\n",
              static_cast<unsigned long long>(flags.writes), flags.rounds);
  std::printf("raw value: %zu bytes; quorum record: %zu bytes serialized; build sleeps %d us\n\n",
              kValueBytes, record.ByteSizeLong(), flags.build_micros);
  std::printf(
      "| writers | RocksDB synced Put (writes/s) | RecordStore::Append (writes/s) "
      "| ratio (b)/(a) | records per batch |\n");
  std::printf(
      "|--------:|------------------------------:|-------------------------------:"
      "|--------------:|------------------:|\n");
  bool goal_met = true;
  for (int threads : kWriterCounts) {
    std::vector<double> raw_rates;
    std::vector<double> append_rates;
    uint64_t batches = 0;
    for (int round = 0; round < flags.rounds; ++round) {
      raw_rates.push_back(
          OrExit(RocksDbSyncedPutRate(flags.dir, threads, flags.writes, kValueBytes)));
      const AppendResult appended = RecordStoreAppends(flags, threads, record);
      append_rates.push_back(appended.rate);
      batches += appended.batches;
    }
    const double raw = Median(raw_rates);
    const double append = Median(append_rates);
    const double ratio = append / raw;
    goal_met = goal_met && ratio >= 0.5;
    std::printf("| %7d | %29.0f | %30.0f | %13.2f | %17.2f |\n", threads, raw, append, ratio,
                static_cast<double>(flags.writes) * flags.rounds / static_cast<double>(batches));
    std::fflush(stdout);
  }
  if (flags.build_micros == 0) {
    std::printf("\ngoal ratio >= 0.5 at every writer count: %s\n", goal_met ? "met" : "NOT met");
  }
  return 0;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) { return mecai::Run(mecai::ParseFlags(argc, argv)); }
