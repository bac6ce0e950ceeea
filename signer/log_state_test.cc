// The signer's durable memory of each log shard (signer/log_state.h, docs/SECURITY.md T7): the
// journal of VDs signed since the last checkpoint survives restarts and torn writes, an index asked
// for twice while its VD is being signed never releases that VD, and one state has one process.
#include "signer/log_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/crypto/hashing.h"
#include "common/evidence/log_entry.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/transparency/merkle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/record.pb.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::_;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kShard[] = "shard-test";

v1::Signature FakeSignature(uint64_t index) {
  v1::Signature signature;
  signature.set_value(absl::StrCat("signature ", index));
  return signature;
}

std::string StatementAt(uint64_t index) { return absl::StrCat("statement at ", index); }

class SignerLogStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(std::string directory, test_pki::MakeTempDirectory());
    path_ = directory + "/log-state.pb";
    Reopen();
  }

  void Reopen() {
    state_.reset();
    ASSERT_OK_AND_ASSIGN(state_, SignerLogState::Open(path_));
  }

  // Claims `index` and records a VD there, as the signer does.
  void Vouch(uint64_t index) {
    ASSERT_OK_AND_ASSIGN(SignerLogState::IndexClaim claim,
                         state_->ClaimVouchingIndex(kShard, index));
    ASSERT_TRUE(claim.claimed) << claim.explanation;
    ASSERT_OK(state_->RecordVouched(kShard, index, StatementAt(index), FakeSignature(index)));
  }

  // A first checkpoint of `tree_size` leaves whose records at `vouched` carry the VDs Vouch made.
  absl::Status FirstCheckpoint(uint64_t tree_size, const std::vector<uint64_t>& vouched,
                               SignerLogState::CheckpointShortfall* shortfall) {
    std::vector<std::string> records;
    MerkleTree tree;
    for (uint64_t i = 0; i < tree_size; ++i) {
      v1::QuorumRecord record;
      record.set_log_index(i);
      record.set_log_shard_id(kShard);
      for (uint64_t v : vouched) {
        if (v == i) record.mutable_vouching_data()->set_statement(StatementAt(i));
      }
      records.push_back(record.SerializeAsString());
      RETURN_IF_ERROR(tree.AppendLeafHash(*LeafHashOfRecord(records.back())));
    }
    ASSIGN_OR_RETURN(std::string root, tree.RootHash(tree_size));
    std::vector<v1::RecordAtIndex> given;
    for (uint64_t v : vouched) {
      v1::RecordAtIndex record;
      record.set_log_index(v);
      record.set_record(records[v]);
      ASSIGN_OR_RETURN(std::vector<std::string> proof, tree.InclusionProof(v, tree_size));
      for (const std::string& node : proof) record.add_inclusion_proof(node);
      given.push_back(std::move(record));
    }
    return state_->AdvanceCheckpoint(kShard, tree_size, root, 1, 0, {}, given, shortfall);
  }

  std::string path_;
  std::unique_ptr<SignerLogState> state_;
};

TEST_F(SignerLogStateTest, TheVdsSignedSinceTheLastCheckpointSurviveARestart) {
  Vouch(3);
  Vouch(7);
  Reopen();
  EXPECT_EQ(state_->UncheckpointedVouchingData(kShard), 2u);
  ASSERT_OK_AND_ASSIGN(SignerLogState::IndexClaim taken, state_->ClaimVouchingIndex(kShard, 7));
  EXPECT_FALSE(taken.claimed);
  ASSERT_TRUE(taken.vouched.has_value());
  EXPECT_EQ(taken.vouched->statement(), StatementAt(7));
  EXPECT_EQ(taken.vouched->signature().value(), "signature 7");
  // An index no VD took is free after the restart: every VD that left was journaled first.
  ASSERT_OK_AND_ASSIGN(SignerLogState::IndexClaim free, state_->ClaimVouchingIndex(kShard, 5));
  EXPECT_TRUE(free.claimed);
  // A checkpoint over them needs their records.
  SignerLogState::CheckpointShortfall shortfall;
  state_->ReleaseClaim(kShard, 5);
  EXPECT_THAT(state_->AdvanceCheckpoint(kShard, 10, std::string(32, 'r'), 1, 0, {}, {}, &shortfall),
              StatusIs(absl::StatusCode::kAborted, _));
  EXPECT_THAT(shortfall.records_needed, ElementsAre(3, 7));
}

// A VD is in the journal file when RecordVouched returns, before it may leave the signer: a signer
// process killed right after still finds it.
TEST_F(SignerLogStateTest, AVdIsInTheJournalFileBeforeItMayLeave) {
  Vouch(4);
  ASSERT_OK_AND_ASSIGN(std::string journal, ReadFile(path_ + ".vouched"));
  EXPECT_THAT(journal, HasSubstr(StatementAt(4)));
}

TEST_F(SignerLogStateTest, ACheckpointForgetsTheVdsItCoversAndCompactsTheJournal) {
  Vouch(1);
  Vouch(6);
  SignerLogState::CheckpointShortfall shortfall;
  ASSERT_OK(FirstCheckpoint(4, {1}, &shortfall));
  EXPECT_EQ(state_->UncheckpointedVouchingData(kShard), 1u);
  ASSERT_OK_AND_ASSIGN(std::string journal, ReadFile(path_ + ".vouched"));
  EXPECT_THAT(journal, Not(HasSubstr(StatementAt(1))));
  EXPECT_THAT(journal, HasSubstr(StatementAt(6)));
  Reopen();
  EXPECT_EQ(state_->TreeSize(kShard), 4u);
  EXPECT_EQ(state_->UncheckpointedVouchingData(kShard), 1u);
  EXPECT_THAT(state_->ClaimVouchingIndex(kShard, 1),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("inside the tree")));
  // Appending after the compaction still lands in the journal.
  Vouch(8);
  Reopen();
  EXPECT_EQ(state_->UncheckpointedVouchingData(kShard), 2u);
}

TEST_F(SignerLogStateTest, AnEntryCutShortByACrashIsDroppedAndTheJournalGoesOn) {
  Vouch(2);
  Vouch(3);
  {
    // The start of a third entry right after the second, a length and half a checksum, as a
    // crash in the middle of the write leaves it.
    ASSERT_OK_AND_ASSIGN(std::string journal, ReadFile(path_ + ".vouched"));
    const size_t end = journal.find_last_not_of('\0') + 1;
    int fd = open((path_ + ".vouched").c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pwrite(fd, "\x00\x00\x00\x40\x12\x34", 6, static_cast<off_t>(end)), 6);
    close(fd);
  }
  Reopen();
  EXPECT_EQ(state_->UncheckpointedVouchingData(kShard), 2u);
  Vouch(4);
  Reopen();
  EXPECT_EQ(state_->UncheckpointedVouchingData(kShard), 3u);
}

TEST_F(SignerLogStateTest, AnIndexAskedForAgainWhileItsVdIsSignedNeverReleasesThatVd) {
  ASSERT_OK_AND_ASSIGN(SignerLogState::IndexClaim first, state_->ClaimVouchingIndex(kShard, 3));
  ASSERT_TRUE(first.claimed);
  // A restarted coordinator asks for the same index while the first signing is under way.
  ASSERT_OK_AND_ASSIGN(SignerLogState::IndexClaim second, state_->ClaimVouchingIndex(kShard, 3));
  EXPECT_FALSE(second.claimed);
  EXPECT_FALSE(second.vouched.has_value());
  EXPECT_THAT(state_->RecordVouched(kShard, 3, StatementAt(3), FakeSignature(3)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("dropped")));
  // No VD exists at 3, so a checkpoint over it needs no record there.
  SignerLogState::CheckpointShortfall shortfall;
  ASSERT_OK(FirstCheckpoint(5, {}, &shortfall));
  EXPECT_THAT(shortfall.records_needed, IsEmpty());
}

TEST_F(SignerLogStateTest, ACheckpointWaitsForAVdStillBeingSigned) {
  ASSERT_OK_AND_ASSIGN(SignerLogState::IndexClaim claim, state_->ClaimVouchingIndex(kShard, 2));
  ASSERT_TRUE(claim.claimed);
  SignerLogState::CheckpointShortfall shortfall;
  EXPECT_THAT(FirstCheckpoint(5, {}, &shortfall),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("still being signed")));
}

TEST_F(SignerLogStateTest, TwoProcessesNeverShareOneState) {
  EXPECT_THAT(SignerLogState::Open(path_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("another signer process")));
  Reopen();  // Released with the first.
}

TEST_F(SignerLogStateTest, VdsBeyondTheAllowanceWaitForACheckpoint) {
  for (uint64_t i = 0; i < SignerLogState::kMaxUncheckpointedVouchingData; ++i) {
    absl::StatusOr<SignerLogState::IndexClaim> claim = state_->ClaimVouchingIndex(kShard, i);
    ASSERT_TRUE(claim.ok() && claim->claimed) << i;
  }
  EXPECT_THAT(state_->ClaimVouchingIndex(kShard, SignerLogState::kMaxUncheckpointedVouchingData),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("until a checkpoint")));
}

TEST_F(SignerLogStateTest, ConcurrentVdsAreAllJournaled) {
  constexpr int kThreads = 8;
  constexpr int kEach = 40;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < kEach; ++i) Vouch(static_cast<uint64_t>(t * kEach + i));
    });
  }
  for (std::thread& thread : threads) thread.join();
  Reopen();
  EXPECT_EQ(state_->UncheckpointedVouchingData(kShard), static_cast<size_t>(kThreads * kEach));
}

}  // namespace
}  // namespace mecai
