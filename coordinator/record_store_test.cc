#include "coordinator/record_store.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/crypto/hashing.h"
#include "common/evidence/log_entry.h"
#include "common/testing/process_threads.h"
#include "common/transparency/merkle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/record.pb.h"
#include "proto/mecai/v1/signer.pb.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"

namespace mecai {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kShard[] = "coordinator-eu-1";
constexpr int64_t kFirstDecision = 1'790'000'000'000;
const char* const kHosts[] = {"alpha.example", "beta.example", "gamma.example", "delta.example"};

// A fresh directory per test under $TEST_TMPDIR.
std::string FreshDirectory(absl::string_view name) {
  const char* base = std::getenv("TEST_TMPDIR");
  const std::string path =
      absl::StrCat(base != nullptr ? base : "/tmp", "/",
                   ::testing::UnitTest::GetInstance()->current_test_info()->name(), "-", name);
  std::filesystem::remove_all(path);
  return path;
}

std::string HostFor(uint64_t index) { return kHosts[index % 4]; }
int64_t TimeFor(uint64_t index) { return kFirstDecision + static_cast<int64_t>(index) * 1000; }
std::string RequestFor(uint64_t index) { return absl::StrCat("serialized VR #", index); }

v1::QuorumRecord MakeRecord(uint64_t index, const std::string& hostname, int64_t decided_at,
                            const std::string& request, const std::string& shard = kShard) {
  v1::QuorumRecord record;
  record.set_log_index(index);
  record.set_log_shard_id(shard);
  record.set_decided_at_unix_milliseconds(decided_at);
  record.set_vouching_request(request);
  record.set_vouching_request_sha256(Sha256(request));
  record.set_hostname(hostname);
  record.set_port(443);
  record.set_trust_list("mozilla");
  record.add_certificate_sha256(Sha256(absl::StrCat("certificate of ", hostname)));
  record.set_decision(index % 3 == 0 ? v1::REFUSED : v1::ISSUED);
  return record;
}

// The record every test appends at `index`.
v1::QuorumRecord StandardRecord(uint64_t index) {
  return MakeRecord(index, HostFor(index), TimeFor(index), RequestFor(index));
}

absl::StatusOr<v1::QuorumRecord> AppendStandard(RecordStore& store) {
  return store.Append(
      [](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> { return StandardRecord(index); });
}

std::unique_ptr<RecordStore> OpenOrDie(const std::string& path, const std::string& shard = kShard) {
  absl::StatusOr<std::unique_ptr<RecordStore>> store = RecordStore::Open(path, shard);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

std::unique_ptr<RecordStore> OpenWithStandardRecords(const std::string& path, uint64_t count) {
  std::unique_ptr<RecordStore> store = OpenOrDie(path);
  for (uint64_t i = 0; i < count && store != nullptr; ++i) {
    absl::StatusOr<v1::QuorumRecord> appended = AppendStandard(*store);
    EXPECT_TRUE(appended.ok()) << appended.status();
  }
  return store;
}

std::vector<uint64_t> IndexesOf(const std::vector<v1::QuorumRecord>& records) {
  std::vector<uint64_t> indexes;
  for (const v1::QuorumRecord& record : records) indexes.push_back(record.log_index());
  return indexes;
}

// Every record's inclusion proof in every tree size, and every consistency proof, verify against
// roots computed here from the records themselves.
void ExpectProofsVerify(const RecordStore& store) {
  const uint64_t size = store.TreeSize();
  std::vector<std::string> leaf_hashes;
  for (uint64_t i = 0; i < size; ++i) {
    absl::StatusOr<v1::QuorumRecord> record = store.GetRecord(i);
    ASSERT_TRUE(record.ok()) << record.status();
    leaf_hashes.push_back(*LeafHashOfRecord(record->SerializeAsString()));
    absl::StatusOr<std::string> stored_leaf = store.GetLeafHash(i);
    ASSERT_TRUE(stored_leaf.ok()) << stored_leaf.status();
    EXPECT_EQ(*stored_leaf, leaf_hashes.back());
  }
  std::vector<std::string> roots;
  for (uint64_t n = 0; n <= size; ++n) {
    roots.push_back(
        RootFromLeafHashes(std::vector<std::string>(leaf_hashes.begin(), leaf_hashes.begin() + n)));
    absl::StatusOr<std::string> root = store.RootHash(n);
    ASSERT_TRUE(root.ok()) << root.status();
    ASSERT_EQ(*root, roots[n]) << "tree size " << n;
  }
  for (uint64_t n = 1; n <= size; ++n) {
    for (uint64_t index = 0; index < n; ++index) {
      absl::StatusOr<std::vector<std::string>> proof = store.InclusionProof(index, n);
      ASSERT_TRUE(proof.ok()) << proof.status();
      EXPECT_TRUE(VerifyInclusion(leaf_hashes[index], index, n, *proof, roots[n]).ok())
          << "record " << index << " in tree size " << n;
    }
    for (uint64_t first = 1; first <= n; ++first) {
      absl::StatusOr<std::vector<std::string>> proof = store.ConsistencyProof(first, n);
      ASSERT_TRUE(proof.ok()) << proof.status();
      EXPECT_TRUE(VerifyConsistency(first, n, roots[first], roots[n], *proof).ok())
          << first << " to " << n;
    }
  }
}

// Opens the RocksDB under a closed store directly, to damage it the way a bug or an attacker would.
void WithRawDatabase(
    const std::string& path,
    const std::function<void(rocksdb::DB*, const std::vector<rocksdb::ColumnFamilyHandle*>&)>&
        change) {
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name : {"default", "records", "by_host", "merkle", "replay", "trust_lists",
                           "checkpoints", "evidence", "record_hashes"}) {
    families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status status = rocksdb::DB::Open(rocksdb::DBOptions(), path, families, &handles, &db);
  ASSERT_TRUE(status.ok()) << status.ToString();
  change(db, handles);
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    EXPECT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
  }
  EXPECT_TRUE(db->Close().ok());
  delete db;
}

std::string BigEndian(uint64_t value) {
  std::string bytes(8, '\0');
  for (int i = 7; i >= 0; --i) {
    bytes[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return bytes;
}

v1::SignedCheckpoint MakeCheckpoint(const std::string& shard, uint64_t tree_size,
                                    const std::string& root) {
  v1::CheckpointBody body;
  body.set_log_shard_id(shard);
  body.set_tree_size(tree_size);
  body.set_root_hash(root);
  body.set_timestamp_unix_milliseconds(TimeFor(tree_size));
  body.set_va_id("va-test");
  v1::SignedCheckpoint checkpoint;
  checkpoint.set_tbs(body.SerializeAsString());
  checkpoint.mutable_signature()->set_value("signature bytes");
  return checkpoint;
}

TEST(RecordStoreTest, AppendedRecordsSurviveReopening) {
  const std::string path = FreshDirectory("store");
  std::string root;
  {
    std::unique_ptr<RecordStore> store = OpenOrDie(path);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->TreeSize(), 0u);
    EXPECT_EQ(*store->RootHash(0), EmptyTreeHash());
    for (uint64_t i = 0; i < 50; ++i) {
      absl::StatusOr<v1::QuorumRecord> appended = AppendStandard(*store);
      ASSERT_TRUE(appended.ok()) << appended.status();
      EXPECT_EQ(appended->SerializeAsString(), StandardRecord(i).SerializeAsString());
    }
    EXPECT_EQ(store->TreeSize(), 50u);
    root = *store->RootHash(50);
  }
  std::unique_ptr<RecordStore> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->shard_id(), kShard);
  EXPECT_EQ(store->TreeSize(), 50u);
  std::vector<std::string> leaf_hashes;
  for (uint64_t i = 0; i < 50; ++i) {
    absl::StatusOr<v1::QuorumRecord> record = store->GetRecord(i);
    ASSERT_TRUE(record.ok()) << record.status();
    EXPECT_EQ(record->SerializeAsString(), StandardRecord(i).SerializeAsString());
    leaf_hashes.push_back(*LeafHashOfRecord(StandardRecord(i).SerializeAsString()));
  }
  EXPECT_EQ(*store->RootHash(50), root);
  EXPECT_EQ(root, RootFromLeafHashes(leaf_hashes));

  absl::Status beyond = store->GetRecord(50).status();
  EXPECT_EQ(beyond.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(beyond.message(), HasSubstr("no record 50"));
  EXPECT_EQ(store->GetLeafHash(50).status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<v1::QuorumRecord> next = AppendStandard(*store);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->log_index(), 50u);
}

// docs/PUBLIC_LOG.md "The entries": an issued decision's leaf holds its VD statement; every leaf
// names its record by SHA-256, and the record_hashes family finds the record from it.
TEST(RecordStoreTest, EachLeafIsTheRecordsEntry) {
  const std::string path = FreshDirectory("store");
  {
    std::unique_ptr<RecordStore> store = OpenOrDie(path);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store
                    ->Append([](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
                      v1::QuorumRecord record = StandardRecord(index);
                      record.set_decision(v1::ISSUED);
                      record.mutable_vouching_data()->set_statement("statement 0");
                      return record;
                    })
                    .ok());
    ASSERT_TRUE(store
                    ->Append([](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
                      v1::QuorumRecord record = StandardRecord(index);
                      record.set_decision(v1::REFUSED);
                      record.mutable_vouching_data()->set_statement("never a statement");
                      return record;
                    })
                    .ok());
    for (uint64_t i = 0; i < 2; ++i) {
      const std::string bytes = *store->GetRecordBytes(i);
      EXPECT_EQ(*store->GetLeafHash(i),
                LeafHash(LogEntryBytes(i == 0 ? "statement 0" : "", Sha256(bytes))))
          << "record " << i;
    }
  }
  WithRawDatabase(path, [](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    for (uint64_t i = 0; i < 2; ++i) {
      std::string bytes;
      ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), cf[1], BigEndian(i), &bytes).ok());
      std::string index;
      ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), cf[8], Sha256(bytes), &index).ok());
      EXPECT_EQ(index, BigEndian(i));
    }
  });
}

TEST(RecordStoreTest, ListsRecordsByHostnameInPages) {
  std::unique_ptr<RecordStore> store = OpenWithStandardRecords(FreshDirectory("store"), 50);
  ASSERT_NE(store, nullptr);
  // A hostname that extends another must not show up in the other's listing.
  ASSERT_TRUE(store
                  ->Append([](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
                    return MakeRecord(index, "alpha.example.org", TimeFor(index),
                                      RequestFor(index));
                  })
                  .ok());

  // alpha.example holds records 0, 4, …, 48: pages of 5, 5 and 3.
  std::string token;
  absl::StatusOr<std::vector<v1::QuorumRecord>> page =
      store->ListRecords("alpha.example", 0, 5, "", &token);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(IndexesOf(*page), (std::vector<uint64_t>{0, 4, 8, 12, 16}));
  EXPECT_EQ(token, "20");
  page = store->ListRecords("alpha.example", 0, 5, token, &token);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(IndexesOf(*page), (std::vector<uint64_t>{20, 24, 28, 32, 36}));
  EXPECT_EQ(token, "40");
  page = store->ListRecords("alpha.example", 0, 5, token, &token);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(IndexesOf(*page), (std::vector<uint64_t>{40, 44, 48}));
  EXPECT_EQ(token, "");
  for (const v1::QuorumRecord& record : *page) {
    EXPECT_EQ(record.SerializeAsString(), StandardRecord(record.log_index()).SerializeAsString());
  }

  // Decided at or after record 30's time, two at a time.
  page = store->ListRecords("alpha.example", TimeFor(30), 2, "", &token);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(IndexesOf(*page), (std::vector<uint64_t>{32, 36}));
  EXPECT_EQ(token, "40");
  page = store->ListRecords("alpha.example", TimeFor(30), 2, token, &token);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(IndexesOf(*page), (std::vector<uint64_t>{40, 44}));
  EXPECT_EQ(token, "48");
  page = store->ListRecords("alpha.example", TimeFor(30), 2, token, &token);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(IndexesOf(*page), (std::vector<uint64_t>{48}));
  EXPECT_EQ(token, "");

  // Every hostname: pages of 20, 20 and 11.
  std::vector<uint64_t> all;
  token.clear();
  int pages = 0;
  do {
    page = store->ListRecords("", 0, 20, token, &token);
    ASSERT_TRUE(page.ok()) << page.status();
    for (uint64_t index : IndexesOf(*page)) all.push_back(index);
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(all.size(), 51u);
  for (uint64_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i);

  // Page size 0 means the default (100), so one page holds everything.
  page = store->ListRecords("", TimeFor(45), 0, "", &token);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(IndexesOf(*page), (std::vector<uint64_t>{45, 46, 47, 48, 49, 50}));
  EXPECT_EQ(token, "");

  page = store->ListRecords("nobody.example", 0, 10, "", &token);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->empty());
  EXPECT_EQ(token, "");
  page = store->ListRecords("alpha.example", 0, 10, "51", &token);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->empty());

  for (const char* bad_token : {"abc", "-1", "+5", " 5", "5 ", "52", "99999999999999999999999"}) {
    absl::Status status = store->ListRecords("", 0, 10, bad_token, &token).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad_token;
    EXPECT_THAT(status.message(), HasSubstr("page token")) << bad_token;
  }
}

TEST(RecordStoreTest, ReplayCacheFindsTheLatestRecordOfAVr) {
  const std::string path = FreshDirectory("store");
  {
    std::unique_ptr<RecordStore> store = OpenWithStandardRecords(path, 50);
    ASSERT_NE(store, nullptr);
    for (uint64_t i = 0; i < 50; ++i) {
      absl::StatusOr<std::optional<uint64_t>> found =
          store->FindByRequestDigest(Sha256(RequestFor(i)));
      ASSERT_TRUE(found.ok()) << found.status();
      EXPECT_EQ(*found, std::optional<uint64_t>(i));
    }
    absl::StatusOr<std::optional<uint64_t>> unknown =
        store->FindByRequestDigest(Sha256("a VR never seen"));
    ASSERT_TRUE(unknown.ok()) << unknown.status();
    EXPECT_FALSE(unknown->has_value());
    EXPECT_EQ(store->FindByRequestDigest("short").status().code(),
              absl::StatusCode::kInvalidArgument);

    // The same VR decided again: the cache names the newer record.
    ASSERT_TRUE(store
                    ->Append([](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
                      return MakeRecord(index, HostFor(7), TimeFor(index), RequestFor(7));
                    })
                    .ok());
    EXPECT_EQ(*store->FindByRequestDigest(Sha256(RequestFor(7))), std::optional<uint64_t>(50));
  }
  std::unique_ptr<RecordStore> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->FindByRequestDigest(Sha256(RequestFor(7))), std::optional<uint64_t>(50));
  EXPECT_EQ(*store->FindByRequestDigest(Sha256(RequestFor(8))), std::optional<uint64_t>(8));
}

TEST(RecordStoreTest, InclusionAndConsistencyProofsVerify) {
  std::unique_ptr<RecordStore> store = OpenWithStandardRecords(FreshDirectory("store"), 50);
  ASSERT_NE(store, nullptr);
  ExpectProofsVerify(*store);

  EXPECT_EQ(store->RootHash(51).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(store->InclusionProof(0, 51).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(store->InclusionProof(50, 50).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->ConsistencyProof(10, 51).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(store->ConsistencyProof(20, 10).status().code(), absl::StatusCode::kInvalidArgument);

  // A proof for one record does not prove another.
  absl::StatusOr<std::vector<std::string>> proof = store->InclusionProof(7, 50);
  ASSERT_TRUE(proof.ok());
  EXPECT_EQ(VerifyInclusion(*store->GetLeafHash(8), 7, 50, *proof, *store->RootHash(50)).code(),
            absl::StatusCode::kDataLoss);
}

// What an abandoned record at `index` must hold: trust rule 4, the log stays contiguous and
// says that the decision at that index was not completed, and why.
void ExpectAbandoned(const RecordStore& store, uint64_t index, const std::string& error) {
  absl::StatusOr<v1::QuorumRecord> record = store.GetRecord(index);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->log_index(), index);
  EXPECT_EQ(record->log_shard_id(), kShard);
  EXPECT_EQ(record->decision(), v1::DECISION_UNSPECIFIED);
  EXPECT_EQ(record->refusal().reason(), v1::REFUSAL_REASON_UNSPECIFIED);
  EXPECT_EQ(record->refusal().explanation(),
            absl::StrCat("the decision at this index could not be completed: ", error));
  EXPECT_TRUE(record->vouching_request().empty());
  EXPECT_TRUE(record->vouching_request_sha256().empty());
  EXPECT_TRUE(record->hostname().empty());
  EXPECT_FALSE(record->has_vouching_data());
}

TEST(RecordStoreTest, FailedBuildLeavesAnAbandonedRecord) {
  const std::string path = FreshDirectory("store");
  const absl::Time decided_at = absl::FromUnixMillis(kFirstDecision + 123'456);
  FakeClock clock(decided_at);
  {
    absl::StatusOr<std::unique_ptr<RecordStore>> opened = RecordStore::Open(path, kShard, clock);
    ASSERT_TRUE(opened.ok()) << opened.status();
    RecordStore& store = **opened;
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(AppendStandard(store).ok());
    const std::string root = *store.RootHash(3);
    uint64_t offered_index = 0;
    absl::StatusOr<v1::QuorumRecord> failed =
        store.Append([&](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
          offered_index = index;
          return absl::UnavailableError("signer unreachable");
        });
    EXPECT_EQ(offered_index, 3u);
    // The build's status comes back as is; the index it was offered is filled, not left a hole.
    EXPECT_EQ(failed.status(), absl::UnavailableError("signer unreachable"));
    EXPECT_EQ(store.TreeSize(), 4u);
    EXPECT_EQ(*store.RootHash(3), root);
    ExpectAbandoned(store, 3, "UNAVAILABLE: signer unreachable");
    EXPECT_EQ(store.GetRecord(3)->decided_at_unix_milliseconds(), absl::ToUnixMillis(decided_at));
    std::string token;
    absl::StatusOr<std::vector<v1::QuorumRecord>> all = store.ListRecords("", 0, 10, "", &token);
    ASSERT_TRUE(all.ok()) << all.status();
    EXPECT_EQ(IndexesOf(*all), (std::vector<uint64_t>{0, 1, 2, 3}));
    for (const char* host : kHosts) {
      // Held in a variable: a range-for over *<temporary StatusOr> would iterate a destroyed
      // vector (the temporary dies before the loop body runs; found by --config=asan).
      absl::StatusOr<std::vector<v1::QuorumRecord>> of_host =
          store.ListRecords(host, 0, 10, "", &token);
      ASSERT_TRUE(of_host.ok()) << of_host.status();
      for (const v1::QuorumRecord& record : *of_host) {
        EXPECT_NE(record.log_index(), 3u) << host;
      }
    }
    EXPECT_EQ(store.CommittedBatches(), 4u);

    absl::StatusOr<v1::QuorumRecord> next = AppendStandard(store);
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_EQ(next->log_index(), 4u);
  }
  std::unique_ptr<RecordStore> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->TreeSize(), 5u);
  ExpectAbandoned(*store, 3, "UNAVAILABLE: signer unreachable");
  ExpectProofsVerify(*store);
}

TEST(RecordStoreTest, AbandonedRecordQuotesALongErrorInBoundedSpace) {
  std::unique_ptr<RecordStore> store = OpenOrDie(FreshDirectory("store"));
  ASSERT_NE(store, nullptr);
  // 2000 two-byte characters: the quote is cut at a character boundary.
  std::string long_message;
  for (int i = 0; i < 2000; ++i) long_message += "\xc3\xa9";
  absl::Status failed = store
                            ->Append([&](uint64_t) -> absl::StatusOr<v1::QuorumRecord> {
                              return absl::InternalError(long_message);
                            })
                            .status();
  EXPECT_EQ(failed, absl::InternalError(long_message));
  absl::StatusOr<v1::QuorumRecord> record = store->GetRecord(0);
  ASSERT_TRUE(record.ok()) << record.status();
  const std::string& explanation = record->refusal().explanation();
  EXPECT_THAT(explanation, ::testing::StartsWith(
                               "the decision at this index could not be completed: INTERNAL: "));
  EXPECT_THAT(explanation, ::testing::EndsWith("\xc3\xa9..."));
  EXPECT_LE(explanation.size(), 100 + RecordStore::kMaxAbandonedErrorBytes);
}

TEST(RecordStoreTest, RecordForAnotherIndexOrShardIsRefused) {
  const std::string path = FreshDirectory("store");
  {
    std::unique_ptr<RecordStore> store = OpenWithStandardRecords(path, 2);
    ASSERT_NE(store, nullptr);
    const std::string root = *store->RootHash(2);

    absl::Status status = store
                              ->Append([](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
                                return MakeRecord(index + 1, "wrong-index.example", TimeFor(index),
                                                  "VR of a wrong index");
                              })
                              .status();
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(status.message(), HasSubstr("built for log index 2 names log index 3"));
    EXPECT_THAT(status.message(), HasSubstr(path));  // Returned in context; recorded without.

    status = store
                 ->Append([](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
                   return MakeRecord(index, "wrong-shard.example", TimeFor(index),
                                     "VR of a wrong shard", "coordinator-us-1");
                 })
                 .status();
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(status.message(), HasSubstr("\"coordinator-us-1\", not \"coordinator-eu-1\""));

    status = store
                 ->Append([](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
                   return MakeRecord(index, std::string("nul\0.example", 12), TimeFor(index),
                                     "VR with a NUL");
                 })
                 .status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);

    status = store
                 ->Append([](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
                   v1::QuorumRecord record =
                       MakeRecord(index, "digest.example", TimeFor(index), "VR one");
                   record.set_vouching_request_sha256(Sha256("VR two"));
                   return record;
                 })
                 .status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("not the SHA-256 of its VR"));

    // Each refused record's index holds an abandoned record quoting why (indexes 2 to 5).
    EXPECT_EQ(store->TreeSize(), 6u);
    EXPECT_EQ(*store->RootHash(2), root);
    // The abandoned record quotes the error without the store's path.
    ExpectAbandoned(*store, 2,
                    "FAILED_PRECONDITION: the record built for log index 2 names log index 3");
    ExpectAbandoned(*store, 3,
                    "FAILED_PRECONDITION: the record built for log index 3 names log shard "
                    "\"coordinator-us-1\", not \"coordinator-eu-1\"");
    EXPECT_THAT(store->GetRecord(4)->refusal().explanation(), HasSubstr("NUL in its hostname"));
    EXPECT_THAT(store->GetRecord(5)->refusal().explanation(),
                HasSubstr("not the SHA-256 of its VR"));
    for (const char* request :
         {"VR of a wrong index", "VR of a wrong shard", "VR with a NUL", "VR one", "VR two"}) {
      EXPECT_FALSE(store->FindByRequestDigest(Sha256(request))->has_value()) << request;
    }
    std::string token;
    for (const char* host : {"wrong-index.example", "wrong-shard.example", "digest.example"}) {
      EXPECT_TRUE(store->ListRecords(host, 0, 10, "", &token)->empty()) << host;
    }
    absl::StatusOr<v1::QuorumRecord> next = AppendStandard(*store);
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_EQ(next->log_index(), 6u);
  }
  std::unique_ptr<RecordStore> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->TreeSize(), 7u);
  ExpectAbandoned(*store, 3,
                  "FAILED_PRECONDITION: the record built for log index 3 names log shard "
                  "\"coordinator-us-1\", not \"coordinator-eu-1\"");
  ExpectProofsVerify(*store);
}

TEST(RecordStoreTest, StoreOfAnotherShardIsRefused) {
  const std::string path = FreshDirectory("store");
  OpenWithStandardRecords(path, 1);  // Opened and closed again.
  absl::StatusOr<std::unique_ptr<RecordStore>> other = RecordStore::Open(path, "coordinator-us-1");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(other.status().message(),
              HasSubstr("holds log shard \"coordinator-eu-1\", not \"coordinator-us-1\""));

  // A store is claimed for its shard when it is created, before any record.
  const std::string empty_path = FreshDirectory("empty");
  ASSERT_NE(OpenOrDie(empty_path), nullptr);
  EXPECT_EQ(RecordStore::Open(empty_path, "coordinator-us-1").status().code(),
            absl::StatusCode::kFailedPrecondition);

  EXPECT_EQ(RecordStore::Open(FreshDirectory("unnamed"), "").status().code(),
            absl::StatusCode::kInvalidArgument);
  std::unique_ptr<RecordStore> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->TreeSize(), 1u);
}

TEST(RecordStoreTest, StoreInUseCannotBeOpenedTwice) {
  const std::string path = FreshDirectory("store");
  std::unique_ptr<RecordStore> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(RecordStore::Open(path, kShard).status().code(), absl::StatusCode::kUnavailable);
}

TEST(RecordStoreTest, ConcurrentAppendsTakeContiguousIndexes) {
  const std::string path = FreshDirectory("store");
  constexpr int kThreads = 4;
  constexpr int kAppendsPerThread = 25;
  constexpr uint64_t kTotal = kThreads * kAppendsPerThread;
  {
    std::unique_ptr<RecordStore> store = OpenOrDie(path);
    ASSERT_NE(store, nullptr);
    absl::Mutex mutex;
    std::vector<uint64_t> indexes;
    std::atomic<bool> appending{true};
    std::atomic<int> reader_checks{0};
    // Readers run beside the writers: every tree they see proves its newest record.
    std::thread reader([&] {
      while (appending.load()) {
        const uint64_t size = store->TreeSize();
        if (size == 0) continue;
        absl::StatusOr<std::string> root = store->RootHash(size);
        absl::StatusOr<std::string> leaf = store->GetLeafHash(size - 1);
        absl::StatusOr<std::vector<std::string>> proof = store->InclusionProof(size - 1, size);
        ASSERT_TRUE(root.ok() && leaf.ok() && proof.ok());
        EXPECT_TRUE(VerifyInclusion(*leaf, size - 1, size, *proof, *root).ok());
        EXPECT_TRUE(store->GetRecord(size - 1).ok());
        reader_checks.fetch_add(1);
      }
    });
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
      writers.emplace_back([&, t] {
        for (int i = 0; i < kAppendsPerThread; ++i) {
          absl::StatusOr<v1::QuorumRecord> appended =
              store->Append([&](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
                return MakeRecord(index, kHosts[t], TimeFor(index),
                                  absl::StrCat("VR of thread ", t, " number ", i));
              });
          ASSERT_TRUE(appended.ok()) << appended.status();
          absl::MutexLock lock(&mutex);
          indexes.push_back(appended->log_index());
        }
      });
    }
    for (std::thread& writer : writers) writer.join();
    appending.store(false);
    reader.join();
    EXPECT_GT(reader_checks.load(), 0);

    std::sort(indexes.begin(), indexes.end());
    ASSERT_EQ(indexes.size(), kTotal);
    for (uint64_t i = 0; i < kTotal; ++i) EXPECT_EQ(indexes[i], i);
    EXPECT_EQ(store->TreeSize(), kTotal);
    std::string token;
    for (int t = 0; t < kThreads; ++t) {
      absl::StatusOr<std::vector<v1::QuorumRecord>> listed =
          store->ListRecords(kHosts[t], 0, 1000, "", &token);
      ASSERT_TRUE(listed.ok()) << listed.status();
      EXPECT_EQ(listed->size(), static_cast<size_t>(kAppendsPerThread)) << kHosts[t];
    }
  }
  std::unique_ptr<RecordStore> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->TreeSize(), kTotal);
  for (uint64_t i = 0; i < kTotal; ++i) EXPECT_EQ(store->GetRecord(i)->log_index(), i);
  ExpectProofsVerify(*store);
}

// The request every group-commit test appends from thread `thread`, append `number`.
std::string ConcurrentRequest(int thread, int number) {
  return absl::StrCat("VR of thread ", thread, " number ", number);
}

// Group commit (ARCHITECTURE.md §8): builds that take 0–2 ms each run in parallel; records still
// take the indexes they were offered, contiguously, and fewer synced writes than records carry
// them.
TEST(RecordStoreTest, GroupCommitKeepsTheLogContiguousWithFewerWrites) {
  const std::string path = FreshDirectory("store");
  constexpr int kThreads = 8;
  constexpr int kAppendsPerThread = 50;
  constexpr uint64_t kTotal = kThreads * kAppendsPerThread;
  {
    std::unique_ptr<RecordStore> store = OpenOrDie(path);
    ASSERT_NE(store, nullptr);
    absl::Mutex mutex;
    std::vector<uint64_t> indexes;
    std::atomic<int> concurrent_builds{0};
    std::atomic<int> most_concurrent_builds{0};
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
      writers.emplace_back([&, t] {
        std::mt19937 random(static_cast<uint32_t>(t));
        std::uniform_int_distribution<int> microseconds(0, 2000);
        for (int i = 0; i < kAppendsPerThread; ++i) {
          absl::StatusOr<v1::QuorumRecord> appended =
              store->Append([&](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
                const int now_building = concurrent_builds.fetch_add(1) + 1;
                int most = most_concurrent_builds.load();
                while (now_building > most &&
                       !most_concurrent_builds.compare_exchange_weak(most, now_building)) {
                }
                std::this_thread::sleep_for(std::chrono::microseconds(microseconds(random)));
                concurrent_builds.fetch_sub(1);
                return MakeRecord(index, kHosts[t % 4], TimeFor(index), ConcurrentRequest(t, i));
              });
          ASSERT_TRUE(appended.ok()) << appended.status();
          EXPECT_EQ(appended->vouching_request(), ConcurrentRequest(t, i));
          absl::MutexLock lock(&mutex);
          indexes.push_back(appended->log_index());
        }
      });
    }
    for (std::thread& writer : writers) writer.join();

    std::sort(indexes.begin(), indexes.end());
    ASSERT_EQ(indexes.size(), kTotal);
    for (uint64_t i = 0; i < kTotal; ++i) ASSERT_EQ(indexes[i], i);
    EXPECT_EQ(store->TreeSize(), kTotal);
    // Builds ran outside the append lock, and records shared synced writes.
    EXPECT_GT(most_concurrent_builds.load(), 1);
    EXPECT_LT(store->CommittedBatches(), kTotal);
    EXPECT_GE(store->CommittedBatches(), 1u);
    for (int t = 0; t < kThreads; ++t) {
      for (int i = 0; i < kAppendsPerThread; ++i) {
        absl::StatusOr<std::optional<uint64_t>> found =
            store->FindByRequestDigest(Sha256(ConcurrentRequest(t, i)));
        ASSERT_TRUE(found.ok()) << found.status();
        ASSERT_TRUE(found->has_value()) << ConcurrentRequest(t, i);
        EXPECT_EQ(store->GetRecord(**found)->vouching_request(), ConcurrentRequest(t, i));
      }
    }
    ExpectProofsVerify(*store);
  }
  std::unique_ptr<RecordStore> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->TreeSize(), kTotal);
  for (uint64_t i = 0; i < kTotal; ++i) EXPECT_EQ(store->GetRecord(i)->log_index(), i);
  ExpectProofsVerify(*store);
  absl::StatusOr<v1::QuorumRecord> next = AppendStandard(*store);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->log_index(), kTotal);
}

TEST(RecordStoreTest, FailedBuildAmongConcurrentAppendsLeavesNoHole) {
  const std::string path = FreshDirectory("store");
  constexpr int kThreads = 8;
  constexpr int kAppendsPerThread = 50;
  constexpr uint64_t kTotal = kThreads * kAppendsPerThread;
  constexpr int kFailingThread = 3;
  constexpr int kFailingAppend = 20;
  std::atomic<uint64_t> failed_index{kTotal};
  {
    std::unique_ptr<RecordStore> store = OpenOrDie(path);
    ASSERT_NE(store, nullptr);
    absl::Mutex mutex;
    std::vector<uint64_t> indexes;
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
      writers.emplace_back([&, t] {
        std::mt19937 random(static_cast<uint32_t>(100 + t));
        std::uniform_int_distribution<int> microseconds(0, 2000);
        for (int i = 0; i < kAppendsPerThread; ++i) {
          const bool fails = t == kFailingThread && i == kFailingAppend;
          absl::StatusOr<v1::QuorumRecord> appended =
              store->Append([&](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
                std::this_thread::sleep_for(std::chrono::microseconds(microseconds(random)));
                if (fails) {
                  failed_index.store(index);
                  return absl::DeadlineExceededError("signer deadline exceeded");
                }
                return MakeRecord(index, kHosts[t % 4], TimeFor(index), ConcurrentRequest(t, i));
              });
          if (fails) {
            EXPECT_EQ(appended.status(), absl::DeadlineExceededError("signer deadline exceeded"));
            continue;
          }
          ASSERT_TRUE(appended.ok()) << appended.status();
          absl::MutexLock lock(&mutex);
          indexes.push_back(appended->log_index());
        }
      });
    }
    for (std::thread& writer : writers) writer.join();

    ASSERT_LT(failed_index.load(), kTotal);
    indexes.push_back(failed_index.load());
    std::sort(indexes.begin(), indexes.end());
    ASSERT_EQ(indexes.size(), kTotal);
    for (uint64_t i = 0; i < kTotal; ++i) ASSERT_EQ(indexes[i], i);
    EXPECT_EQ(store->TreeSize(), kTotal);
    ExpectAbandoned(*store, failed_index.load(), "DEADLINE_EXCEEDED: signer deadline exceeded");
    EXPECT_FALSE(
        store->FindByRequestDigest(Sha256(ConcurrentRequest(kFailingThread, kFailingAppend)))
            ->has_value());
  }
  std::unique_ptr<RecordStore> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->TreeSize(), kTotal);
  ExpectAbandoned(*store, failed_index.load(), "DEADLINE_EXCEEDED: signer deadline exceeded");
  for (uint64_t i = 0; i < kTotal; ++i) EXPECT_EQ(store->GetRecord(i)->log_index(), i);
  ExpectProofsVerify(*store);
}

// A record built before the one below it waits for it, and both go to the disk in one batch; the
// replay cache then names the later of two records of one VR.
TEST(RecordStoreTest, RecordsCommitInIndexOrderAndShareABatch) {
  std::unique_ptr<RecordStore> store = OpenWithStandardRecords(FreshDirectory("store"), 2);
  ASSERT_NE(store, nullptr);
  const uint64_t batches_before = store->CommittedBatches();
  absl::Mutex mutex;
  bool earlier_building = false;
  bool later_built = false;
  bool later_returned = false;
  uint64_t tree_size_seen_by_earlier = 0;
  std::thread earlier([&] {
    absl::StatusOr<v1::QuorumRecord> appended =
        store->Append([&](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
          EXPECT_EQ(index, 2u);
          {
            absl::MutexLock lock(&mutex);
            earlier_building = true;
            mutex.Await(absl::Condition(&later_built));
          }
          // Time for the later record to queue behind this one.
          absl::SleepFor(absl::Milliseconds(100));
          absl::MutexLock lock(&mutex);
          EXPECT_FALSE(later_returned);
          tree_size_seen_by_earlier = store->TreeSize();
          return MakeRecord(index, HostFor(7), TimeFor(index), RequestFor(7));
        });
    ASSERT_TRUE(appended.ok()) << appended.status();
  });
  // The later Append starts once the earlier one holds index 2.
  {
    absl::MutexLock lock(&mutex);
    mutex.Await(absl::Condition(&earlier_building));
  }
  absl::StatusOr<v1::QuorumRecord> later =
      store->Append([&](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
        EXPECT_EQ(index, 3u);
        absl::MutexLock lock(&mutex);
        later_built = true;
        return MakeRecord(index, HostFor(7), TimeFor(index), RequestFor(7));
      });
  ASSERT_TRUE(later.ok()) << later.status();
  {
    absl::MutexLock lock(&mutex);
    later_returned = true;
  }
  earlier.join();
  EXPECT_EQ(later->log_index(), 3u);
  EXPECT_EQ(tree_size_seen_by_earlier, 2u);
  EXPECT_EQ(store->TreeSize(), 4u);
  EXPECT_EQ(store->CommittedBatches(), batches_before + 1);
  EXPECT_EQ(*store->FindByRequestDigest(Sha256(RequestFor(7))), std::optional<uint64_t>(3));
  ExpectProofsVerify(*store);
}

// Appends whose builds are answered later, from another thread, in any order: no thread waits for
// them (ARCHITECTURE.md §13), and they are committed in index order, many to one write.
TEST(RecordStoreTest, AsyncAppendsHoldNoThreadAndCommitInIndexOrder) {
  std::unique_ptr<RecordStore> store = OpenWithStandardRecords(FreshDirectory("store"), 1);
  ASSERT_NE(store, nullptr);
  constexpr int kAppends = 50;
  const int threads_before = ThreadsOfThisProcess();
  absl::Mutex mutex;
  std::vector<std::pair<uint64_t, RecordStore::BuildDone>> building;
  std::vector<uint64_t> answered;
  std::vector<std::thread::id> answering_threads;
  for (int i = 0; i < kAppends; ++i) {
    store->AppendAsync(
        [&](uint64_t index, RecordStore::BuildDone built) {
          absl::MutexLock lock(&mutex);
          building.emplace_back(index, std::move(built));
        },
        [&](absl::StatusOr<v1::QuorumRecord> appended) {
          ASSERT_TRUE(appended.ok()) << appended.status();
          absl::MutexLock lock(&mutex);
          answered.push_back(appended->log_index());
          answering_threads.push_back(std::this_thread::get_id());
        });
  }
  // Every build has started and none is answered: no thread was added to wait for them.
  EXPECT_EQ(ThreadsOfThisProcess(), threads_before);
  std::vector<std::pair<uint64_t, RecordStore::BuildDone>> builds;
  {
    absl::MutexLock lock(&mutex);
    ASSERT_EQ(building.size(), static_cast<size_t>(kAppends));
    EXPECT_TRUE(answered.empty());
    builds = std::move(building);
  }
  const uint64_t batches_before = store->CommittedBatches();
  // Answered last first: nothing is committed until index 1 is built, then all at once.
  std::reverse(builds.begin(), builds.end());
  for (auto& [index, built] : builds) {
    if (index != 1) built(StandardRecord(index));
  }
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(store->TreeSize(), 1u);
  builds.back().second(StandardRecord(1));
  {
    absl::MutexLock lock(&mutex);
    auto all_answered = [&] { return answered.size() == static_cast<size_t>(kAppends); };
    ASSERT_TRUE(mutex.AwaitWithTimeout(absl::Condition(&all_answered), absl::Seconds(10)));
    std::vector<uint64_t> expected;
    for (int i = 1; i <= kAppends; ++i) expected.push_back(i);
    EXPECT_EQ(answered, expected);
    EXPECT_THAT(answering_threads, Not(Contains(std::this_thread::get_id())));
  }
  EXPECT_EQ(store->TreeSize(), static_cast<uint64_t>(kAppends + 1));
  EXPECT_EQ(store->CommittedBatches(), batches_before + 1);
  ExpectProofsVerify(*store);
}

// A build whose answer is dropped (its last copy destroyed uncalled) is a failed build: its index
// is filled with an abandoned record, and the records after it are committed.
TEST(RecordStoreTest, ADroppedAsyncBuildIsAbandonedAndLeavesNoHole) {
  std::unique_ptr<RecordStore> store = OpenOrDie(FreshDirectory("store"));
  ASSERT_NE(store, nullptr);
  absl::Notification dropped_answered;
  absl::Status dropped_status;
  store->AppendAsync([](uint64_t, RecordStore::BuildDone) {},
                     [&](absl::StatusOr<v1::QuorumRecord> appended) {
                       dropped_status = appended.status();
                       dropped_answered.Notify();
                     });
  ASSERT_TRUE(dropped_answered.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(dropped_status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(dropped_status.message(), HasSubstr("ended without an answer"));
  absl::StatusOr<v1::QuorumRecord> next = AppendStandard(*store);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->log_index(), 1u);
  absl::StatusOr<v1::QuorumRecord> abandoned = store->GetRecord(0);
  ASSERT_TRUE(abandoned.ok()) << abandoned.status();
  EXPECT_EQ(abandoned->decision(), v1::DECISION_UNSPECIFIED);
  EXPECT_THAT(abandoned->refusal().explanation(),
              HasSubstr("could not be completed: INTERNAL: the record's build ended without"));
  ExpectProofsVerify(*store);
}

// A build answered twice is taken once: the second answer changes nothing.
TEST(RecordStoreTest, AnAsyncBuildAnsweredTwiceIsTakenOnce) {
  std::unique_ptr<RecordStore> store = OpenOrDie(FreshDirectory("store"));
  ASSERT_NE(store, nullptr);
  std::atomic<int> answers{0};
  absl::Notification answered;
  store->AppendAsync(
      [](uint64_t index, RecordStore::BuildDone built) {
        built(StandardRecord(index));
        built(MakeRecord(index, "other.example", TimeFor(index), RequestFor(99)));
      },
      [&](absl::StatusOr<v1::QuorumRecord> appended) {
        EXPECT_TRUE(appended.ok()) << appended.status();
        if (++answers == 1) answered.Notify();
      });
  ASSERT_TRUE(answered.WaitForNotificationWithTimeout(absl::Seconds(10)));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(answers.load(), 1);
  EXPECT_EQ(store->TreeSize(), 1u);
  EXPECT_EQ(store->GetRecord(0)->hostname(), HostFor(0));
}

// The store is destroyed only once every Append begun is answered: a build still under way when
// the destructor starts completes, and its record is committed and answered first.
TEST(RecordStoreTest, DestructionWaitsForTheAppendsUnderWay) {
  const std::string path = FreshDirectory("store");
  std::unique_ptr<RecordStore> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  std::atomic<bool> answered{false};
  std::atomic<bool> answered_ok{false};
  std::thread builder;
  store->AppendAsync(
      [&](uint64_t index, RecordStore::BuildDone built) {
        builder = std::thread([index, built = std::move(built)] {
          absl::SleepFor(absl::Milliseconds(300));
          built(StandardRecord(index));
        });
      },
      [&](absl::StatusOr<v1::QuorumRecord> appended) {
        answered_ok = appended.ok();
        answered = true;
      });
  store.reset();
  EXPECT_TRUE(answered.load());
  EXPECT_TRUE(answered_ok.load());
  builder.join();
  std::unique_ptr<RecordStore> reopened = OpenOrDie(path);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->TreeSize(), 1u);
}

TEST(RecordStoreTest, StoreDeletedWithoutShutdownReopensConsistent) {
  const std::string path = FreshDirectory("store");
  std::string root;
  {
    // No close call, no flush: the object is simply destroyed after its last synced Append.
    RecordStore* store = OpenWithStandardRecords(path, 20).release();
    ASSERT_NE(store, nullptr);
    root = *store->RootHash(20);
    delete store;
  }
  std::unique_ptr<RecordStore> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->TreeSize(), 20u);
  EXPECT_EQ(*store->RootHash(20), root);
  ExpectProofsVerify(*store);
}

// A copy of the directory of a store that is still open is what a machine that lost power would
// leave on disk: the synced WAL, nothing flushed.
TEST(RecordStoreTest, CrashImageOpensWithEveryAppendedRecord) {
  const std::string path = FreshDirectory("store");
  const std::string image = FreshDirectory("image");
  std::unique_ptr<RecordStore> store = OpenWithStandardRecords(path, 20);
  ASSERT_NE(store, nullptr);
  std::filesystem::copy(path, image, std::filesystem::copy_options::recursive);
  ASSERT_TRUE(AppendStandard(*store).ok());  // After the "crash"; not in the image.

  std::unique_ptr<RecordStore> recovered = OpenOrDie(image);
  ASSERT_NE(recovered, nullptr);
  EXPECT_EQ(recovered->TreeSize(), 20u);
  EXPECT_EQ(*recovered->RootHash(20), *store->RootHash(20));
  ExpectProofsVerify(*recovered);
}

// A crash in the middle of the last write tears the WAL's tail: recovery drops that whole batch and
// keeps every one before it.
TEST(RecordStoreTest, TornLastWriteLosesOnlyThatRecord) {
  const std::string path = FreshDirectory("store");
  const std::string image = FreshDirectory("image");
  std::unique_ptr<RecordStore> store = OpenWithStandardRecords(path, 20);
  ASSERT_NE(store, nullptr);
  std::filesystem::copy(path, image, std::filesystem::copy_options::recursive);
  std::filesystem::path newest_wal;
  for (const auto& entry : std::filesystem::directory_iterator(image)) {
    if (entry.path().extension() == ".log" &&
        (newest_wal.empty() || entry.path().filename() > newest_wal.filename())) {
      newest_wal = entry.path();
    }
  }
  ASSERT_FALSE(newest_wal.empty());
  const uintmax_t wal_size = std::filesystem::file_size(newest_wal);
  ASSERT_GT(wal_size, 16u);
  std::filesystem::resize_file(newest_wal, wal_size - 16);

  std::unique_ptr<RecordStore> recovered = OpenOrDie(image);
  ASSERT_NE(recovered, nullptr);
  EXPECT_EQ(recovered->TreeSize(), 19u);
  EXPECT_EQ(*recovered->RootHash(19), *store->RootHash(19));
  EXPECT_EQ(recovered->GetRecord(19).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(recovered->FindByRequestDigest(Sha256(RequestFor(19)))->has_value());
  ExpectProofsVerify(*recovered);
  absl::StatusOr<v1::QuorumRecord> again = AppendStandard(*recovered);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->log_index(), 19u);
}

TEST(RecordStoreTest, RewrittenRecordIsDataLoss) {
  const std::string path = FreshDirectory("store");
  OpenWithStandardRecords(path, 10);
  WithRawDatabase(path, [](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    v1::QuorumRecord forged = StandardRecord(4);
    forged.set_decision(v1::ISSUED == forged.decision() ? v1::REFUSED : v1::ISSUED);
    ASSERT_TRUE(
        db->Put(rocksdb::WriteOptions(), cf[1], BigEndian(4), forged.SerializeAsString()).ok());
  });
  absl::Status status = RecordStore::Open(path, kShard).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("record 4 does not hash to its leaf"));
  EXPECT_THAT(status.message(), HasSubstr(path));
}

TEST(RecordStoreTest, MissingRecordIsDataLoss) {
  const std::string path = FreshDirectory("store");
  OpenWithStandardRecords(path, 10);
  WithRawDatabase(path, [](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), cf[1], BigEndian(7)).ok());
  });
  absl::Status status = RecordStore::Open(path, kShard).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("record 7 is missing (tree size 10)"));
}

TEST(RecordStoreTest, TreeSizeBeyondTheLogIsDataLoss) {
  const std::string path = FreshDirectory("store");
  OpenWithStandardRecords(path, 10);
  WithRawDatabase(path, [](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf[3], "tree_size", BigEndian(11)).ok());
  });
  absl::Status status = RecordStore::Open(path, kShard).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("the log is inconsistent"));
  EXPECT_THAT(status.message(), HasSubstr("leaf hash of record 10 is missing"));
}

TEST(RecordStoreTest, RecordBeyondTheTreeIsDataLoss) {
  const std::string path = FreshDirectory("store");
  OpenWithStandardRecords(path, 10);
  WithRawDatabase(path, [](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Put(cf[1], BigEndian(10), StandardRecord(10).SerializeAsString()).ok());
    ASSERT_TRUE(
        batch.Put(cf[3], BigEndian(10), *LeafHashOfRecord(StandardRecord(10).SerializeAsString()))
            .ok());
    ASSERT_TRUE(db->Write(rocksdb::WriteOptions(), &batch).ok());
  });
  absl::Status status = RecordStore::Open(path, kShard).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("there is a leaf hash for index 10 (tree size 10)"));
}

// A record as the coordinator builds it: the CRL its decision relied on, in full.
v1::QuorumRecord RecordWithCrl(uint64_t index, const std::string& crl) {
  v1::QuorumRecord record = StandardRecord(index);
  v1::RevocationEvidence* evidence = record.add_revocation();
  evidence->set_source(v1::CRL);
  evidence->set_response_der(crl);
  evidence->set_url("http://crl.example/issuing.crl");
  return record;
}

// ARCHITECTURE.md §8 "Evidence by content hash": a CRL shared by many decisions is stored once,
// the records (and so the log's leaves) name it by hash, and the bytes are served by that hash.
TEST(RecordStoreTest, ACrlSharedByDecisionsIsStoredOnceAndServedByHash) {
  const std::string path = FreshDirectory("store");
  const std::string crl(256 * 1024, 'c');
  {
    std::unique_ptr<RecordStore> store = OpenOrDie(path);
    for (uint64_t i = 0; i < 20; ++i) {
      absl::StatusOr<v1::QuorumRecord> stored =
          store->Append([&](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
            return RecordWithCrl(index, crl);
          });
      ASSERT_TRUE(stored.ok()) << stored.status();
      ASSERT_EQ(stored->revocation_size(), 1);
      EXPECT_TRUE(stored->revocation(0).response_der().empty());
      EXPECT_EQ(stored->revocation(0).response_sha256(), Sha256(crl));
      // The leaf is the record as returned: evidence by hash.
      absl::StatusOr<std::string> bytes = store->GetRecordBytes(i);
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      EXPECT_EQ(*bytes, stored->SerializeAsString());
      EXPECT_LT(bytes->size(), 1024u);
    }
  }
  // Reopened, every record still names the CRL and the CRL is there, once.
  std::unique_ptr<RecordStore> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::string> served = store->GetEvidence(Sha256(crl));
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(*served, crl);
  EXPECT_EQ(store->GetEvidence(Sha256("never fetched")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store->GetEvidence("short").status().code(), absl::StatusCode::kInvalidArgument);
  store.reset();

  int blobs = 0;
  WithRawDatabase(path, [&](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf[7]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++blobs;
  });
  EXPECT_EQ(blobs, 1);
}

TEST(RecordStoreTest, EvidenceWhoseHashIsNotItsBytesIsRefusedAndTheIndexAbandoned) {
  const std::string path = FreshDirectory("store");
  std::unique_ptr<RecordStore> store = OpenOrDie(path);
  absl::StatusOr<v1::QuorumRecord> stored =
      store->Append([](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
        v1::QuorumRecord record = RecordWithCrl(index, "the CRL");
        record.mutable_revocation(0)->set_response_sha256(Sha256("another CRL"));
        return record;
      });
  EXPECT_EQ(stored.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(stored.status().message(), HasSubstr("not the SHA-256 of its response"));
  absl::StatusOr<v1::QuorumRecord> abandoned = store->GetRecord(0);
  ASSERT_TRUE(abandoned.ok()) << abandoned.status();
  EXPECT_EQ(abandoned->decision(), v1::DECISION_UNSPECIFIED);
  EXPECT_EQ(store->GetEvidence(Sha256("the CRL")).status().code(), absl::StatusCode::kNotFound);

  // Naming by hash alone evidence the store never received is refused the same way.
  stored = store->Append([](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
    v1::QuorumRecord record = RecordWithCrl(index, "");
    record.mutable_revocation(0)->set_response_sha256(Sha256("never stored"));
    return record;
  });
  EXPECT_EQ(stored.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(stored.status().message(), HasSubstr("the store does not hold it"));
}

TEST(RecordStoreTest, EvidenceChangedOrRemovedOnDiskIsDataLoss) {
  const std::string crl = "the issuing CA's CRL";
  for (const bool remove : {false, true}) {
    const std::string path = FreshDirectory(remove ? "removed" : "changed");
    {
      std::unique_ptr<RecordStore> store = OpenOrDie(path);
      ASSERT_TRUE(store
                      ->Append([&](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
                        return RecordWithCrl(index, crl);
                      })
                      .ok());
    }
    WithRawDatabase(
        path, [&](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
          if (remove) {
            ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), cf[7], Sha256(crl)).ok());
          } else {
            ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf[7], Sha256(crl), "forged").ok());
          }
        });
    absl::Status status = RecordStore::Open(path, kShard).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(status.message(),
                HasSubstr(remove ? "record 0 names revocation evidence" : "does not hash to it"));
  }
}

TEST(RecordStoreTest, CheckpointsMustMatchTheLog) {
  const std::string path = FreshDirectory("store");
  {
    std::unique_ptr<RecordStore> store = OpenWithStandardRecords(path, 10);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->GetLatestCheckpoint().status().code(), absl::StatusCode::kNotFound);

    const v1::SignedCheckpoint at_five = MakeCheckpoint(kShard, 5, *store->RootHash(5));
    const v1::SignedCheckpoint at_ten = MakeCheckpoint(kShard, 10, *store->RootHash(10));
    ASSERT_TRUE(store->PutCheckpoint(at_five, 5).ok());
    ASSERT_TRUE(store->PutCheckpoint(at_ten, 10).ok());
    ASSERT_TRUE(store->PutCheckpoint(at_five, 5).ok());  // Re-stored older one; latest stays.
    absl::StatusOr<v1::SignedCheckpoint> latest = store->GetLatestCheckpoint();
    ASSERT_TRUE(latest.ok()) << latest.status();
    EXPECT_EQ(latest->SerializeAsString(), at_ten.SerializeAsString());

    absl::Status status = store->PutCheckpoint(MakeCheckpoint(kShard, 10, *store->RootHash(9)), 10);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("is not the log's root"));
    EXPECT_EQ(store->PutCheckpoint(at_ten, 9).code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(store->PutCheckpoint(MakeCheckpoint("coordinator-us-1", 10, *store->RootHash(10)), 10)
                  .code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(store->PutCheckpoint(MakeCheckpoint(kShard, 11, *store->RootHash(10)), 11).code(),
              absl::StatusCode::kOutOfRange);
    v1::SignedCheckpoint garbage;
    garbage.set_tbs("\xff\xff\xff");
    EXPECT_EQ(store->PutCheckpoint(garbage, 10).code(), absl::StatusCode::kInvalidArgument);
  }
  std::unique_ptr<RecordStore> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<v1::SignedCheckpoint> latest = store->GetLatestCheckpoint();
  ASSERT_TRUE(latest.ok()) << latest.status();
  v1::CheckpointBody body;
  ASSERT_TRUE(body.ParseFromString(latest->tbs()));
  EXPECT_EQ(body.tree_size(), 10u);
  EXPECT_EQ(body.root_hash(), *store->RootHash(10));
}

TEST(RecordStoreTest, TrustListStateRoundTrips) {
  const std::string path = FreshDirectory("store");
  {
    std::unique_ptr<RecordStore> store = OpenOrDie(path);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->GetTrustListState("mozilla").status().code(), absl::StatusCode::kNotFound);
    ASSERT_TRUE(store->PutTrustListState("mozilla", "removed roots: one").ok());
    ASSERT_TRUE(store->PutTrustListState("mozilla", std::string("removed roots: \0two", 19)).ok());
    EXPECT_EQ(store->PutTrustListState("", "bytes").code(), absl::StatusCode::kInvalidArgument);
  }
  std::unique_ptr<RecordStore> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::string> state = store->GetTrustListState("mozilla");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(*state, std::string("removed roots: \0two", 19));
  EXPECT_EQ(store->TreeSize(), 0u);
}

}  // namespace
}  // namespace mecai
