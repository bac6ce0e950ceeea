// The log guard against the signer's real log state (docs/OPERATIONS.md "Backup and restore"): a
// store copied back from before the last checkpoint the signer signed is rolled back, a copy that
// grew apart from the published log is forked, and neither is appended to or served; a backup
// taken after the last checkpoint restores and is confirmed.
#include "coordinator/log_guard.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "coordinator/checkpoint_signer.h"
#include "coordinator/coordinator_metrics.h"
#include "coordinator/record_store.h"
#include "coordinator/store_backup.h"
#include "coordinator/testing/log_state_signer.h"
#include "coordinator/testing/refusal_records.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

constexpr char kShard[] = "shard-guarded";

// The value of mecai_coordinator_log_guard{state=`state`}, or -1 when absent.
double GuardGauge(prometheus::Registry& registry, const std::string& state) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != "mecai_coordinator_log_guard") continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        if (label.name == "state" && label.value == state) return metric.gauge.value;
      }
    }
  }
  return -1;
}

class LogGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(directory_, test_pki::MakeTempDirectory());
    ASSERT_OK_AND_ASSIGN(signer_,
                         InProcessLogStateSigner::Start(directory_ + "/signer-log-state.pb"));
    ASSERT_OK_AND_ASSIGN(store_, RecordStore::Open(directory_ + "/store", kShard));
  }

  // A refusal record at the next index of `store`, its explanation `text`.
  static void Append(RecordStore& store, const std::string& text) {
    EXPECT_OK(AppendRefusalRecord(store, kShard, text));
  }

  std::unique_ptr<CheckpointSigner> CheckpointsOf(RecordStore& store) {
    return std::make_unique<CheckpointSigner>(store, signer_->stub(), SystemClock::Get(),
                                              absl::Seconds(10));
  }

  // A backup of store_ through StoreBackup, opened as a store of its own (as after a restore).
  std::unique_ptr<RecordStore> BackUpAndReopen(const std::string& name) {
    StoreBackupOptions options;
    options.directory = directory_ + "/backups-" + name;
    StoreBackup backup(*store_, options, SystemClock::Get());
    absl::StatusOr<std::string> path = backup.BackUpNow();
    EXPECT_OK(path.status());
    if (!path.ok()) return nullptr;
    absl::StatusOr<std::unique_ptr<RecordStore>> restored = RecordStore::Open(*path, kShard);
    EXPECT_OK(restored.status());
    return restored.ok() ? *std::move(restored) : nullptr;
  }

  std::string directory_;
  std::unique_ptr<InProcessLogStateSigner> signer_;
  std::unique_ptr<RecordStore> store_;
};

TEST_F(LogGuardTest, ANewShardIsConfirmedAndAllowsAppends) {
  auto checkpoints = CheckpointsOf(*store_);
  LogGuard guard(*checkpoints, nullptr);
  EXPECT_THAT(guard.AllowsAppends(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("not yet confirmed")));
  EXPECT_EQ(guard.Confirm(), LogGuard::State::kConfirmed);
  EXPECT_OK(guard.AllowsAppends());
  EXPECT_OK(guard.AllowsReads());
}

TEST_F(LogGuardTest, AStoreWithACurrentCheckpointIsStillAskedOfTheSigner) {
  Append(*store_, "one");
  auto checkpoints = CheckpointsOf(*store_);
  ASSERT_OK(checkpoints->SignLatest().status());
  const int calls = signer_->service().calls();
  LogGuard guard(*checkpoints, nullptr);
  EXPECT_EQ(guard.Confirm(), LogGuard::State::kConfirmed);
  EXPECT_GT(signer_->service().calls(), calls);
}

TEST_F(LogGuardTest, ABackupFromBeforeTheLastSignedCheckpointIsRolledBackAndServesNothing) {
  Append(*store_, "one");
  Append(*store_, "two");
  auto checkpoints = CheckpointsOf(*store_);
  ASSERT_OK(checkpoints->SignLatest().status());
  std::unique_ptr<RecordStore> old_copy = BackUpAndReopen("before");
  ASSERT_NE(old_copy, nullptr);
  Append(*store_, "three");
  ASSERT_OK(checkpoints->SignLatest().status());  // The signer has now signed 3 leaves.

  auto restored_checkpoints = CheckpointsOf(*old_copy);
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry);
  LogGuard guard(*restored_checkpoints, &metrics);
  EXPECT_EQ(GuardGauge(registry, "unconfirmed"), 1);
  EXPECT_EQ(guard.Confirm(), LogGuard::State::kRolledBackOrForked);
  EXPECT_EQ(GuardGauge(registry, "unconfirmed"), 0);
  EXPECT_EQ(GuardGauge(registry, "rolled_back_or_forked"), 1);
  EXPECT_THAT(guard.AllowsAppends(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("rolls back or forks what its signer signed")));
  EXPECT_THAT(guard.AllowsReads(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                            HasSubstr("Restoring a coordinator's store")));
  // Final: asking again changes nothing, and the copy was not appended to.
  EXPECT_EQ(guard.Confirm(), LogGuard::State::kRolledBackOrForked);
  EXPECT_EQ(old_copy->TreeSize(), 2u);
}

TEST_F(LogGuardTest, ABackupTakenAfterTheLastSignedCheckpointRestores) {
  Append(*store_, "one");
  auto checkpoints = CheckpointsOf(*store_);
  ASSERT_OK(checkpoints->SignLatest().status());
  Append(*store_, "two");  // Not yet in a checkpoint.
  std::unique_ptr<RecordStore> copy = BackUpAndReopen("after");
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->TreeSize(), 2u);
  auto restored_checkpoints = CheckpointsOf(*copy);
  LogGuard guard(*restored_checkpoints, nullptr);
  EXPECT_EQ(guard.Confirm(), LogGuard::State::kConfirmed);
  EXPECT_OK(guard.AllowsAppends());
}

TEST_F(LogGuardTest, ACopyThatGrewApartFromThePublishedLogIsForked) {
  Append(*store_, "one");
  auto checkpoints = CheckpointsOf(*store_);
  ASSERT_OK(checkpoints->SignLatest().status());
  std::unique_ptr<RecordStore> copy = BackUpAndReopen("fork");
  ASSERT_NE(copy, nullptr);
  auto copy_checkpoints = CheckpointsOf(*copy);
  LogGuard copy_guard(*copy_checkpoints, nullptr);
  // Both start confirmed: each extends the signed tree of one leaf.
  ASSERT_EQ(copy_guard.Confirm(), LogGuard::State::kConfirmed);
  Append(*store_, "two, as published");
  ASSERT_OK(checkpoints->SignLatest().status());
  Append(*copy, "two, written by the copy");
  absl::Status refused = copy_checkpoints->SignLatest().status();
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  copy_guard.ReportRefusedCheckpoint(refused);
  EXPECT_EQ(copy_guard.state(), LogGuard::State::kRolledBackOrForked);
  EXPECT_THAT(copy_guard.AllowsAppends(),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
}

TEST_F(LogGuardTest, AnUnreachableSignerLeavesTheLogUnconfirmedButReadable) {
  Append(*store_, "one");
  // Nothing listens on port 1 of loopback.
  auto unreachable = v1::SignerService::NewStub(
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()));
  CheckpointSigner checkpoints(*store_, *unreachable, SystemClock::Get(), absl::Seconds(1));
  LogGuard guard(checkpoints, nullptr);
  EXPECT_EQ(guard.Confirm(), LogGuard::State::kUnconfirmed);
  EXPECT_THAT(guard.AllowsAppends(), StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  EXPECT_OK(guard.AllowsReads());
  // A fault is not a refusal.
  guard.ReportRefusedCheckpoint(absl::UnavailableError("signer: connection refused"));
  EXPECT_EQ(guard.state(), LogGuard::State::kUnconfirmed);
  // Once the signer answers, the same guard confirms.
  CheckpointSigner reachable(*store_, signer_->stub(), SystemClock::Get(), absl::Seconds(10));
  LogGuard later(reachable, nullptr);
  EXPECT_EQ(later.Confirm(), LogGuard::State::kConfirmed);
}

}  // namespace
}  // namespace mecai
