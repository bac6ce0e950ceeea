#include "coordinator/logged_vd_proofs.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/crypto/hashing.h"
#include "common/evidence/log_entry.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/transparency/merkle.h"
#include "coordinator/record_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

constexpr char kShard[] = "shard-proofs";

class LoggedVdProofsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(std::string directory, test_pki::MakeTempDirectory());
    ASSERT_OK_AND_ASSIGN(store_, RecordStore::Open(directory + "/store", kShard));
    proofs_ = std::make_unique<LoggedVdProofs>(*store_);
  }

  // Appends an issued record whose statement is "statement <i>"; returns the VR's answer as the
  // coordinator has it before the proof.
  v1::VouchResponse AppendIssued() {
    absl::StatusOr<v1::QuorumRecord> record =
        store_->Append([](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
          v1::QuorumRecord record;
          record.set_log_index(index);
          record.set_log_shard_id(kShard);
          record.set_decision(v1::ISSUED);
          record.mutable_vouching_data()->set_statement(absl::StrCat("statement ", index));
          return record;
        });
    EXPECT_TRUE(record.ok()) << record.status();
    v1::VouchResponse response;
    *response.mutable_vouching_data() = record->vouching_data();
    response.set_log_index(record->log_index());
    return response;
  }

  // A checkpoint as a logged signer returns it, of the whole store.
  v1::SignedCheckpoint Checkpoint() const {
    v1::SignedCheckpoint checkpoint;
    checkpoint.set_note(absl::StrCat("note of ", store_->TreeSize()));
    checkpoint.mutable_log_key_endorsement()->set_tbs("endorsement");
    checkpoint.add_va_certificate_chain_der("va certificate");
    return checkpoint;
  }

  // The answers `done` callbacks received, by log index.
  struct Answers {
    absl::Mutex mutex;
    std::map<uint64_t, absl::StatusOr<v1::VouchResponse>> by_index;
    LoggedVdProofs::Done Callback(uint64_t index) {
      return [this, index](absl::StatusOr<v1::VouchResponse> answer) {
        absl::MutexLock lock(&mutex);
        by_index.emplace(index, std::move(answer));
      };
    }
    size_t size() {
      absl::MutexLock lock(&mutex);
      return by_index.size();
    }
  };

  // `response`'s proof verifies against the store's root of `tree_size`.
  void ExpectProven(const v1::VouchResponse& response, uint64_t tree_size) {
    const v1::VouchingData& vd = response.vouching_data();
    ASSERT_TRUE(vd.has_log_proof());
    EXPECT_EQ(vd.log_proof().checkpoint_note(), absl::StrCat("note of ", tree_size));
    EXPECT_EQ(vd.va_certificate_chain_der(0), "va certificate");
    ASSERT_OK_AND_ASSIGN(std::string record, store_->GetRecordBytes(response.log_index()));
    EXPECT_EQ(vd.log_proof().record_sha256(), Sha256(record));
    EXPECT_OK(VerifyInclusion(
        LeafHash(LogEntryBytes(vd.statement(), vd.log_proof().record_sha256())),
        response.log_index(), tree_size,
        {vd.log_proof().inclusion_proof().begin(), vd.log_proof().inclusion_proof().end()},
        *store_->RootHash(tree_size)));
  }

  std::unique_ptr<RecordStore> store_;
  std::unique_ptr<LoggedVdProofs> proofs_;
};

TEST_F(LoggedVdProofsTest, AVdWaitsForTheCheckpointThatCoversItsRecord) {
  Answers answers;
  const v1::VouchResponse first = AppendIssued();
  const v1::VouchResponse second = AppendIssued();
  EXPECT_TRUE(LoggedVdProofs::NeedsProof(first));
  proofs_->WhenProven(first, absl::InfiniteFuture(), answers.Callback(0));
  proofs_->WhenProven(second, absl::InfiniteFuture(), answers.Callback(1));
  EXPECT_EQ(answers.size(), 0u);
  EXPECT_EQ(proofs_->Waiting(), 2u);
  // A checkpoint of one record proves only the first.
  v1::SignedCheckpoint of_one = Checkpoint();
  of_one.set_note("note of 1");
  proofs_->CheckpointStored(of_one, 1);
  ASSERT_EQ(answers.size(), 1u);
  ASSERT_OK(answers.by_index.at(0).status());
  ExpectProven(*answers.by_index.at(0), 1);
  proofs_->CheckpointStored(Checkpoint(), 2);
  ASSERT_EQ(answers.size(), 2u);
  ExpectProven(*answers.by_index.at(1), 2);
  EXPECT_FALSE(LoggedVdProofs::NeedsProof(*answers.by_index.at(1)));
  // A VR answered later from an already covered record is proven at once.
  Answers later;
  proofs_->WhenProven(first, absl::InfiniteFuture(), later.Callback(0));
  ASSERT_EQ(later.size(), 1u);
  ExpectProven(*later.by_index.at(0), 2);
}

TEST_F(LoggedVdProofsTest, AWaiterPastItsDeadlineIsToldItsRecord) {
  Answers answers;
  const absl::Time now = absl::Now();
  proofs_->WhenProven(AppendIssued(), now + absl::Seconds(1), answers.Callback(0));
  proofs_->ExpireOverdue(now);
  EXPECT_EQ(answers.size(), 0u);
  proofs_->ExpireOverdue(now + absl::Seconds(1));
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_THAT(answers.by_index.at(0),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("recorded at log index 0 but no checkpoint proves its VD yet")));
  EXPECT_EQ(proofs_->Waiting(), 0u);
}

TEST_F(LoggedVdProofsTest, ACheckpointWithoutANoteIsNotAProof) {
  Answers answers;
  proofs_->WhenProven(AppendIssued(), absl::InfiniteFuture(), answers.Callback(0));
  proofs_->CheckpointStored(v1::SignedCheckpoint(), 1);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_THAT(answers.by_index.at(0),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("logged_vouching_data")));
}

// Checkpoints and waiters from several threads at once (run under TSan by scripts/test.sh): every
// VR gets exactly one answer, and every answer is a proof.
TEST_F(LoggedVdProofsTest, ConcurrentWaitersAndCheckpointsEachGetOneProof) {
  constexpr int kVrs = 200;
  std::vector<v1::VouchResponse> responses;
  for (int i = 0; i < kVrs; ++i) responses.push_back(AppendIssued());
  Answers answers;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kVrs; i += 4) {
        proofs_->WhenProven(responses[i], absl::InfiniteFuture(), answers.Callback(i));
      }
    });
  }
  threads.emplace_back([&] {
    for (uint64_t size = 1; size <= kVrs; size += 7) {
      v1::SignedCheckpoint checkpoint = Checkpoint();
      checkpoint.set_note(absl::StrCat("note of ", size));
      proofs_->CheckpointStored(checkpoint, size);
    }
    proofs_->CheckpointStored(Checkpoint(), kVrs);
  });
  for (std::thread& thread : threads) thread.join();
  ASSERT_EQ(answers.size(), static_cast<size_t>(kVrs));
  for (auto& [index, answer] : answers.by_index) {
    ASSERT_TRUE(answer.ok()) << "VR " << index << ": " << answer.status();
    EXPECT_TRUE(answer->vouching_data().has_log_proof()) << "VR " << index;
  }
  EXPECT_EQ(proofs_->Waiting(), 0u);
}

}  // namespace
}  // namespace mecai
