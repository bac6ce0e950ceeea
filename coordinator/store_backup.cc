#include "coordinator/store_backup.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/logging.h"
#include "common/base/status.h"

namespace mecai {
namespace {

constexpr char kBackupPrefix[] = "store-";
constexpr char kPartialPrefix[] = ".partial-";

absl::Status FromErrorCode(const std::error_code& error, const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", error.message()));
}

// fsync(2) of a directory, so a rename in it survives a crash.
absl::Status SyncDirectory(const std::string& directory) {
  const int fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("opening ", directory, " to sync it"));
  const int synced = fsync(fd);
  close(fd);
  if (synced != 0) return absl::InternalError(absl::StrCat("syncing ", directory));
  return absl::OkStatus();
}

}  // namespace

StoreBackup::StoreBackup(const RecordStore& store, StoreBackupOptions options, const Clock& clock,
                         CoordinatorMetrics* metrics)
    : store_(store), options_(std::move(options)), clock_(clock), metrics_(metrics) {
  // What a backup cut short by a crash left behind is never a backup.
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(options_.directory, error)) {
    if (absl::StartsWith(entry.path().filename().string(), kPartialPrefix)) {
      std::filesystem::remove_all(entry.path(), error);
    }
  }
  if (options_.interval > absl::ZeroDuration()) thread_ = std::thread([this] { Run(); });
}

StoreBackup::~StoreBackup() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void StoreBackup::Run() {
  while (!stop_.WaitForNotificationWithTimeout(options_.interval)) {
    absl::StatusOr<std::string> written = BackUpNow();
    if (!written.ok()) MECAI_LOG(Error) << "store backup failed: " << written.status();
  }
}

absl::StatusOr<std::string> StoreBackup::BackUpNow() {
  absl::MutexLock lock(&mutex_);
  absl::Status outcome = [&]() -> absl::Status {
    std::error_code error;
    std::filesystem::create_directories(options_.directory, error);
    if (error) return FromErrorCode(error, absl::StrCat("creating ", options_.directory));
    return absl::OkStatus();
  }();
  std::string final_path;
  if (outcome.ok()) {
    // The tree size read before the copy: the backup holds at least that many records.
    const uint64_t tree_size = store_.TreeSize();
    const std::string name = absl::StrCat(
        kBackupPrefix, absl::FormatTime("%Y%m%dT%H%M%S", clock_.Now(), absl::UTCTimeZone()), "Z-",
        tree_size);
    const std::string partial = absl::StrCat(options_.directory, "/", kPartialPrefix, name);
    final_path = absl::StrCat(options_.directory, "/", name);
    std::error_code error;
    std::filesystem::remove_all(partial, error);
    outcome = store_.CreateBackup(partial);
    if (outcome.ok() && std::filesystem::exists(final_path, error)) {
      outcome = absl::AlreadyExistsError(absl::StrCat(final_path, " exists already"));
    }
    if (outcome.ok()) {
      std::filesystem::rename(partial, final_path, error);
      if (error) outcome = FromErrorCode(error, absl::StrCat("renaming ", partial));
    }
    if (outcome.ok()) outcome = SyncDirectory(options_.directory);
    if (!outcome.ok()) std::filesystem::remove_all(partial, error);
  }
  if (outcome.ok()) {
    absl::StatusOr<std::vector<std::string>> backups = List();
    if (backups.ok() && backups->size() > options_.kept) {
      const size_t excess = backups->size() - options_.kept;
      for (size_t i = 0; i < excess; ++i) {
        std::error_code error;
        std::filesystem::remove_all((*backups)[i], error);
        if (error)
          MECAI_LOG(Warning) << "removing old backup " << (*backups)[i] << ": " << error.message();
      }
    }
    MECAI_LOG(Info) << "store backed up into " << final_path;
  }
  if (metrics_ != nullptr) metrics_->RecordBackup(outcome.ok());
  if (!outcome.ok()) return outcome;
  return final_path;
}

absl::StatusOr<std::vector<std::string>> StoreBackup::List() const {
  std::vector<std::string> backups;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(options_.directory, error)) {
    if (entry.is_directory() && absl::StartsWith(entry.path().filename().string(), kBackupPrefix)) {
      backups.push_back(entry.path().string());
    }
  }
  if (error) return FromErrorCode(error, absl::StrCat("listing ", options_.directory));
  // The UTC time in the name sorts them oldest first.
  std::sort(backups.begin(), backups.end());
  return backups;
}

}  // namespace mecai
