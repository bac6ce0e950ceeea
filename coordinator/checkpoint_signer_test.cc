// CheckpointSigner against a signer that keeps the real SignerLogState (docs/SECURITY.md T7): it
// hands over the records the signer asks for, appends the VDs whose answer was lost, and splits
// large sets of records over checkpoints of intermediate trees.
#include "coordinator/checkpoint_signer.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/base/clock.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "coordinator/record_store.h"
#include "coordinator/testing/log_state_signer.h"
#include "coordinator/testing/refusal_records.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/signer.grpc.pb.h"
#include "signer/log_state.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

constexpr char kShard[] = "shard-checkpoints";

class CheckpointSignerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(std::string directory, test_pki::MakeTempDirectory());
    ASSERT_OK_AND_ASSIGN(store_, RecordStore::Open(directory + "/store", kShard));
    ASSERT_OK_AND_ASSIGN(signer_, InProcessLogStateSigner::Start(directory + "/log-state.pb"));
    state_ = &signer_->state();
    service_ = &signer_->service();
    checkpoints_ = std::make_unique<CheckpointSigner>(*store_, signer_->stub(), SystemClock::Get(),
                                                      absl::Seconds(30));
  }

  void TearDown() override {
    checkpoints_.reset();
    signer_.reset();
  }

  // The signer signs a VD at the next index (its statement padded to `padding` bytes); the record
  // there carries it when `recorded`, else it says the signer could not be reached.
  v1::VouchingData VouchAtNextIndex(bool recorded, size_t padding = 0) {
    const uint64_t index = store_->TreeSize();
    v1::VouchingStatement statement;
    statement.set_hostname(absl::StrCat("host-", index, ".example.test"));
    statement.set_port(443);
    statement.set_log_index(index);
    statement.set_log_shard_id(kShard);
    statement.set_trust_list(std::string(padding, 'p'));
    v1::VouchingData vd;
    vd.set_statement(statement.SerializeAsString());
    vd.mutable_signature()->set_value(absl::StrCat("signature ", index));
    absl::StatusOr<SignerLogState::IndexClaim> claim = state_->ClaimVouchingIndex(kShard, index);
    EXPECT_TRUE(claim.ok() && claim->claimed);
    EXPECT_OK(state_->RecordVouched(kShard, index, vd.statement(), vd.signature()));
    EXPECT_OK(store_
                  ->Append([&](uint64_t log_index) -> absl::StatusOr<v1::QuorumRecord> {
                    v1::QuorumRecord record;
                    record.set_log_index(log_index);
                    record.set_log_shard_id(kShard);
                    if (recorded) {
                      record.set_decision(v1::ISSUED);
                      *record.mutable_vouching_data() = vd;
                    } else {
                      record.set_decision(v1::REFUSED);
                      record.mutable_refusal()->set_explanation("the signer could not be reached");
                    }
                    return record;
                  })
                  .status());
    return vd;
  }

  void AppendRefusal() { EXPECT_OK(AppendRefusalRecord(*store_, kShard)); }

  uint64_t SignedSize() {
    absl::StatusOr<v1::SignedCheckpoint> latest = store_->GetLatestCheckpoint();
    v1::CheckpointBody body;
    if (!latest.ok() || !body.ParseFromString(latest->tbs())) return 0;
    return body.tree_size();
  }

  std::unique_ptr<RecordStore> store_;
  std::unique_ptr<InProcessLogStateSigner> signer_;
  SignerLogState* state_ = nullptr;
  LogStateSigner* service_ = nullptr;
  std::unique_ptr<CheckpointSigner> checkpoints_;
};

TEST_F(CheckpointSignerTest, HandsOverTheRecordsOfTheVdsTheSignerSigned) {
  AppendRefusal();
  VouchAtNextIndex(/*recorded=*/true);
  AppendRefusal();
  VouchAtNextIndex(/*recorded=*/true);
  ASSERT_OK(checkpoints_->SignLatest().status());
  EXPECT_EQ(state_->TreeSize(kShard), 4u);
  EXPECT_EQ(state_->UncheckpointedVouchingData(kShard), 0u);
  EXPECT_EQ(SignedSize(), 4u);
  // The next one proves consistency from there.
  VouchAtNextIndex(/*recorded=*/true);
  ASSERT_OK(checkpoints_->SignLatest().status());
  EXPECT_EQ(state_->TreeSize(kShard), 5u);
  // Nothing new: the stored checkpoint, no call.
  const int calls = service_->calls();
  ASSERT_OK(checkpoints_->SignLatest().status());
  EXPECT_EQ(service_->calls(), calls);
}

TEST_F(CheckpointSignerTest, AVdWhoseAnswerWasLostIsRecordedBeforeTheCheckpoint) {
  AppendRefusal();
  const v1::VouchingData lost = VouchAtNextIndex(/*recorded=*/false);
  AppendRefusal();
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint checkpoint, checkpoints_->SignLatest());
  EXPECT_EQ(store_->TreeSize(), 4u);
  EXPECT_EQ(SignedSize(), 4u);
  ASSERT_OK_AND_ASSIGN(v1::QuorumRecord late, store_->GetRecord(3));
  EXPECT_EQ(late.decision(), v1::DECISION_UNSPECIFIED);
  EXPECT_EQ(late.unrecorded_vouching_data().statement(), lost.statement());
  EXPECT_THAT(late.refusal().explanation(), HasSubstr("signed at log index 1"));
}

TEST_F(CheckpointSignerTest, SplitsRecordsThatDoNotFitOneRequest) {
  // Five records of ~300 KB each: at most two fit a request of kRecordBytesPerRequest.
  for (int i = 0; i < 5; ++i) VouchAtNextIndex(/*recorded=*/true, /*padding=*/300 << 10);
  ASSERT_OK(checkpoints_->SignLatest().status());
  EXPECT_EQ(SignedSize(), 5u);
  EXPECT_EQ(state_->UncheckpointedVouchingData(kShard), 0u);
  EXPECT_GE(service_->calls(), 4);  // The first names the records, then three trees.
}

TEST_F(CheckpointSignerTest, ARefusalOfTheSignerIsFailedPrecondition) {
  ASSERT_OK_AND_ASSIGN(SignerLogState::IndexClaim claim, state_->ClaimVouchingIndex(kShard, 0));
  ASSERT_TRUE(claim.claimed);  // Still being signed: the signer will not cover it.
  AppendRefusal();
  EXPECT_THAT(checkpoints_->SignLatest(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("still being signed")));
}

}  // namespace
}  // namespace mecai
