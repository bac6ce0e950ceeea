// Periodic store backups (docs/OPERATIONS.md "Backup and restore"): each is a whole store that
// opens and verifies, taken while records are appended; old ones are pruned; what a crash left
// half written is removed and never listed.
#include "coordinator/store_backup.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "coordinator/record_store.h"
#include "coordinator/testing/refusal_records.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kShard[] = "shard-backed-up";

class FixedClock : public Clock {
 public:
  absl::Time Now() const override { return now; }
  absl::Time now = absl::FromUnixSeconds(1796000000);
};

class StoreBackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(directory_, test_pki::MakeTempDirectory());
    ASSERT_OK_AND_ASSIGN(store_, RecordStore::Open(directory_ + "/store", kShard));
  }

  void Append(int count) {
    for (int i = 0; i < count; ++i) ASSERT_OK(AppendRefusalRecord(*store_, kShard));
  }

  StoreBackupOptions Options(uint32_t kept) {
    StoreBackupOptions options;
    options.directory = directory_ + "/backups";
    options.kept = kept;
    return options;
  }

  std::string directory_;
  std::unique_ptr<RecordStore> store_;
  FixedClock clock_;
};

TEST_F(StoreBackupTest, ABackupTakenDuringAppendsOpensWithEveryRecordCommittedBeforeIt) {
  Append(10);
  StoreBackup backup(*store_, Options(5), clock_);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < 200 && !stop.load(); ++i) Append(1);
  });
  ASSERT_OK_AND_ASSIGN(std::string path, backup.BackUpNow());
  stop = true;
  writer.join();
  EXPECT_THAT(path, HasSubstr("/backups/store-20261130T"));
  // Open verifies every record against the Merkle log.
  ASSERT_OK_AND_ASSIGN(auto copy, RecordStore::Open(path, kShard));
  const uint64_t named_size = std::stoull(path.substr(path.rfind('-') + 1));
  EXPECT_GE(named_size, 10u);
  EXPECT_GE(copy->TreeSize(), named_size);
  EXPECT_LE(copy->TreeSize(), store_->TreeSize());
  ASSERT_OK_AND_ASSIGN(std::string root, copy->RootHash(copy->TreeSize()));
  ASSERT_OK_AND_ASSIGN(std::string same_root, store_->RootHash(copy->TreeSize()));
  EXPECT_EQ(root, same_root);
}

TEST_F(StoreBackupTest, KeepsTheNewestAndRemovesWhatACrashLeftHalfWritten) {
  Append(1);
  std::filesystem::create_directories(directory_ + "/backups/.partial-store-crashed");
  StoreBackup backup(*store_, Options(2), clock_);
  EXPECT_FALSE(std::filesystem::exists(directory_ + "/backups/.partial-store-crashed"));
  std::vector<std::string> written;
  for (int i = 0; i < 3; ++i) {
    clock_.now += absl::Hours(1);
    Append(1);
    ASSERT_OK_AND_ASSIGN(std::string path, backup.BackUpNow());
    written.push_back(path);
  }
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> kept, backup.List());
  EXPECT_THAT(kept, SizeIs(2));
  EXPECT_EQ(kept[0], written[1]);
  EXPECT_EQ(kept[1], written[2]);
  EXPECT_FALSE(std::filesystem::exists(written[0]));
}

TEST_F(StoreBackupTest, ABackupThatCannotBeWrittenIsAnErrorAndListsNothing) {
  Append(1);
  // The backup directory's place is taken by a file.
  ASSERT_TRUE(std::filesystem::create_directories(directory_ + "/blocked"));
  { std::ofstream(directory_ + "/blocked/backups") << "not a directory"; }
  StoreBackupOptions options = Options(2);
  options.directory = directory_ + "/blocked/backups";
  StoreBackup backup(*store_, options, clock_);
  EXPECT_FALSE(backup.BackUpNow().ok());
}

}  // namespace
}  // namespace mecai
