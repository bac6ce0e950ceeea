#include "log_server/store_follower.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto/hashing.h"
#include "common/crypto/signature.h"
#include "common/evidence/log_entry.h"
#include "common/pki/pki_builder.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/transparency/signed_note.h"
#include "common/transparency/tiles.h"
#include "common/transparency/tlog_checkpoint.h"
#include "coordinator/record_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

constexpr char kShard[] = "shard-1";
constexpr char kOrigin[] = "log.test.example/shard-1";

class StoreFollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(directory_, test_pki::MakeTempDirectory());
    ASSERT_OK_AND_ASSIGN(store_, RecordStore::Open(directory_ + "/store", kShard));
    ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEd25519Key());
    ASSERT_OK_AND_ASSIGN(vkey_, Ed25519VerifierKey(kOrigin, key.get()));
    ASSERT_OK_AND_ASSIGN(signer_, InMemorySigningKey::Create(std::move(key)));
  }

  void Grow(uint64_t size) {
    while (store_->TreeSize() < size) {
      ASSERT_OK(store_
                    ->Append([](uint64_t index) {
                      v1::QuorumRecord record;
                      record.set_log_index(index);
                      record.set_log_shard_id(kShard);
                      record.set_hostname(absl::StrCat("host-", index, ".example"));
                      record.set_decision(v1::REFUSED);
                      return absl::StatusOr<v1::QuorumRecord>(record);
                    })
                    .status());
    }
  }

  // Stores a checkpoint of the first `size` records carrying a note of `origin` and `root` (the
  // store's own when empty), signed by `signer` under `key`.
  void PutCheckpoint(uint64_t size, const NoteVerifierKey& key, SigningKey& signer,
                     const std::string& root = "") {
    ASSERT_OK_AND_ASSIGN(std::string store_root, store_->RootHash(size));
    v1::CheckpointBody body;
    body.set_log_shard_id(kShard);
    body.set_tree_size(size);
    body.set_root_hash(store_root);
    v1::SignedCheckpoint checkpoint;
    checkpoint.set_tbs(body.SerializeAsString());
    ASSERT_OK_AND_ASSIGN(std::string text,
                         FormatCheckpointText({key.name, size, root.empty() ? store_root : root}));
    ASSERT_OK_AND_ASSIGN(NoteSignature signature, SignNoteText(text, key, signer));
    ASSERT_OK_AND_ASSIGN(*checkpoint.mutable_note(), FormatSignedNote(text, {signature}));
    ASSERT_OK(store_->PutCheckpoint(checkpoint, size));
  }

  absl::StatusOr<std::unique_ptr<StoreFollower>> Follow() {
    return StoreFollower::Open(directory_ + "/store", directory_ + "/secondary", kShard, vkey_);
  }

  std::string directory_;
  std::unique_ptr<RecordStore> store_;
  NoteVerifierKey vkey_;
  std::unique_ptr<InMemorySigningKey> signer_;
};

TEST_F(StoreFollowerTest, ServesNothingBeforeTheFirstNoteThenFollowsTheWriter) {
  Grow(10);
  ASSERT_OK_AND_ASSIGN(auto follower, Follow());
  EXPECT_FALSE(follower->Checkpoint().has_value());
  EXPECT_EQ(follower->LeavesRead(), 10u);
  EXPECT_THAT(follower->TileHashes({false, 0, 0, 1}),
              StatusIs(absl::StatusCode::kNotFound, testing::_));

  Grow(300);
  PutCheckpoint(300, vkey_, *signer_);
  ASSERT_OK(follower->CatchUp());
  ASSERT_TRUE(follower->Checkpoint().has_value());
  EXPECT_EQ(follower->Checkpoint()->tree_size, 300u);
  ASSERT_OK_AND_ASSIGN(OpenedNote note, OpenSignedNote(follower->Checkpoint()->note, {vkey_}));
  // The tiles and entries of that tree, and nothing beyond it.
  ASSERT_OK_AND_ASSIGN(std::string tile, follower->TileHashes({false, 0, 1, 44}));
  ASSERT_OK_AND_ASSIGN(std::string leaf, store_->GetLeafHash(299));
  EXPECT_EQ(tile.substr(43 * kMerkleHashBytes), leaf);
  EXPECT_THAT(follower->TileHashes({false, 0, 1, 45}),
              StatusIs(absl::StatusCode::kNotFound, testing::_));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> entries, follower->BundleEntries({true, 0, 1, 44}));
  ASSERT_EQ(entries.size(), 44u);
  // Each entry is the record's LogEntry: it names the record by its SHA-256.
  ASSERT_OK_AND_ASSIGN(std::string record, store_->GetRecordBytes(256));
  ASSERT_OK_AND_ASSIGN(v1::LogEntry entry, ParseLogEntry(entries[0]));
  EXPECT_EQ(entry.record_sha256(), Sha256(record));
  EXPECT_EQ(LeafHash(entries[0]), *store_->GetLeafHash(256));
  // Records appended but not yet in a checkpoint are not served.
  Grow(320);
  ASSERT_OK(follower->CatchUp());
  EXPECT_EQ(follower->LeavesRead(), 320u);
  EXPECT_THAT(follower->BundleEntries({true, 0, 1, 45}),
              StatusIs(absl::StatusCode::kNotFound, testing::_));
}

TEST_F(StoreFollowerTest, ServesTheSameTreesNoteStoredAgainWithCosignatures) {
  Grow(20);
  PutCheckpoint(20, vkey_, *signer_);
  ASSERT_OK_AND_ASSIGN(auto follower, Follow());
  const std::string first = follower->Checkpoint()->note;
  // The coordinator stores the note again with a witness's line appended
  // (coordinator/witness_collector.h): served once it verifies.
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint stored, store_->GetLatestCheckpoint());
  const std::string witness_line =
      "\xe2\x80\x94 witness.example/w1 "
      "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+"
      "mbIUBkBIfZ+qnA==\n";
  stored.set_note(first + witness_line);
  ASSERT_OK(store_->PutCheckpoint(stored, 20));
  ASSERT_OK(follower->CatchUp());
  EXPECT_EQ(follower->Checkpoint()->note, first + witness_line);
  // A note of that size that no longer verifies is not served: the cosigned one stays.
  stored.set_note(absl::StrCat("x", first));
  ASSERT_OK(store_->PutCheckpoint(stored, 20));
  EXPECT_FALSE(follower->CatchUp().ok());
  EXPECT_EQ(follower->Checkpoint()->note, first + witness_line);
}

TEST_F(StoreFollowerTest, ANoteOfAnotherKeyOrRootIsNeverServed) {
  Grow(20);
  PutCheckpoint(20, vkey_, *signer_);
  ASSERT_OK_AND_ASSIGN(auto follower, Follow());
  ASSERT_EQ(follower->Checkpoint()->tree_size, 20u);

  // Another key under the same name.
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr other_key, GenerateEd25519Key());
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey other, Ed25519VerifierKey(kOrigin, other_key.get()));
  ASSERT_OK_AND_ASSIGN(auto other_signer, InMemorySigningKey::Create(std::move(other_key)));
  Grow(30);
  PutCheckpoint(30, other, *other_signer);
  EXPECT_THAT(follower->CatchUp(),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("no known key")));
  EXPECT_EQ(follower->Checkpoint()->tree_size, 20u);

  // The right key over a root the leaves do not make.
  Grow(40);
  PutCheckpoint(40, vkey_, *signer_, std::string(kMerkleHashBytes, '\x07'));
  EXPECT_THAT(follower->CatchUp(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("does not match the leaves")));
  EXPECT_EQ(follower->Checkpoint()->tree_size, 20u);

  // An honest one is served again.
  Grow(50);
  PutCheckpoint(50, vkey_, *signer_);
  ASSERT_OK(follower->CatchUp());
  EXPECT_EQ(follower->Checkpoint()->tree_size, 50u);
}

TEST_F(StoreFollowerTest, ServesEvidenceAndRecordsByTheirHashOnly) {
  const std::string crl = "a CRL's DER bytes";
  ASSERT_OK(store_
                ->Append([&crl](uint64_t index) {
                  v1::QuorumRecord record;
                  record.set_log_index(index);
                  record.set_log_shard_id(kShard);
                  record.set_decision(v1::ISSUED);
                  v1::RevocationEvidence* evidence = record.add_revocation();
                  evidence->set_source(v1::CRL);
                  evidence->set_response_der(crl);
                  return absl::StatusOr<v1::QuorumRecord>(record);
                })
                .status());
  ASSERT_OK_AND_ASSIGN(auto follower, Follow());
  ASSERT_OK_AND_ASSIGN(std::string served, follower->Evidence(Sha256(crl)));
  EXPECT_EQ(served, crl);
  // The record itself, by the SHA-256 its log entry names.
  ASSERT_OK_AND_ASSIGN(std::string record, store_->GetRecordBytes(0));
  ASSERT_OK_AND_ASSIGN(std::string served_record, follower->Evidence(Sha256(record)));
  EXPECT_EQ(served_record, record);
  EXPECT_THAT(follower->Evidence(Sha256("never stored")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no evidence")));
  EXPECT_THAT(follower->Evidence("short"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("32 bytes")));
}

// Every catch-up adds a line to RocksDB's info log in secondary_path; a server that catches up
// once a second for months must not fill the volume that directory is on (an emptyDir with a
// size limit beside the coordinator, deploy/k8s/base/coordinator.yaml). Small limits here, so that
// a few hundred catch-ups roll the log many times; each file starts with RocksDB's header (the
// options, some 60 KB), so a file is that plus file_bytes.
TEST_F(StoreFollowerTest, TheInfoLogOfTheSecondaryStaysBounded) {
  Grow(3);
  SecondaryInfoLogLimits limits;
  limits.file_bytes = 4096;
  limits.files_kept = 3;
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<StoreFollower> follower,
      StoreFollower::Open(directory_ + "/store", directory_ + "/secondary", kShard, vkey_, limits));
  std::map<std::string, uintmax_t> at_open;
  std::map<std::string, uintmax_t> rolled;  // Every file rolled since, and its size.
  uintmax_t bytes = 0;
  size_t files = 0;
  uintmax_t largest = 0;
  auto look = [&] {
    bytes = 0;
    files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(directory_ + "/secondary")) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("LOG", 0) != 0) continue;
      bytes += entry.file_size();
      ++files;
      largest = std::max<uintmax_t>(largest, entry.file_size());
      if (name != "LOG" && at_open.count(name) == 0) rolled[name] = entry.file_size();
    }
  };
  // Open itself may roll the log (RocksDB's header alone exceeds these limits); only what the
  // catch-ups roll counts.
  look();
  at_open = std::move(rolled);
  rolled.clear();
  // Until more files were rolled than are kept: the size a file reaches.
  int catch_ups = 0;
  for (; catch_ups < 20000 && rolled.size() <= limits.files_kept; ++catch_ups) {
    ASSERT_OK(follower->CatchUp());
    look();
  }
  ASSERT_GT(rolled.size(), limits.files_kept) << "after " << catch_ups << " catch-ups";
  const uintmax_t file_bound = largest + 1024;
  const uintmax_t bound = limits.files_kept * file_bound;
  // Then until far more was written than the bound holds.
  for (; catch_ups < 20000 && rolled.size() <= 4 * limits.files_kept; ++catch_ups) {
    ASSERT_OK(follower->CatchUp());
    look();
    ASSERT_LE(files, limits.files_kept);
    ASSERT_LE(bytes, bound);
  }
  uintmax_t written = 0;
  for (const auto& [name, size] : rolled) written += size;
  EXPECT_GT(written, 2 * bound) << "after " << catch_ups << " catch-ups";
  EXPECT_LE(largest, file_bound);
}

TEST_F(StoreFollowerTest, RefusesAStoreOfAnotherShard) {
  Grow(1);
  EXPECT_THAT(
      StoreFollower::Open(directory_ + "/store", directory_ + "/secondary", "shard-2", vkey_),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("holds log shard \"shard-1\"")));
}

}  // namespace
}  // namespace mecai
