// Periodic backups of the coordinator's record store (docs/OPERATIONS.md "Backup and restore"):
// every interval a consistent copy (RecordStore::CreateBackup) is written beside the others as
// `<directory>/store-<UTC time>-<tree size>`, first under a `.partial-` name and renamed once
// complete, so a directory named store-… is always a whole backup; the newest `kept` are kept.
// Shipping them off the host (rsync, object storage) is the operator's; restoring one is guarded
// by coordinator/log_guard.h.
#ifndef MECAI_COORDINATOR_STORE_BACKUP_H_
#define MECAI_COORDINATOR_STORE_BACKUP_H_

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "coordinator/coordinator_metrics.h"
#include "coordinator/record_store.h"

namespace mecai {

struct StoreBackupOptions {
  // Where backups go; created if missing. Not inside the store's own directory.
  std::string directory;
  // Between two backups; zero runs none periodically (BackUpNow still works).
  absl::Duration interval = absl::ZeroDuration();
  // How many backups to keep (≥ 1); older ones are deleted after a new one is written.
  uint32_t kept = 24;
};

// Thread-safe. Stops (and joins its thread) on destruction.
class StoreBackup {
 public:
  // `store`, `clock` and `metrics` (may be null) must outlive it.
  StoreBackup(const RecordStore& store, StoreBackupOptions options, const Clock& clock,
              CoordinatorMetrics* metrics = nullptr);
  ~StoreBackup();
  StoreBackup(const StoreBackup&) = delete;
  StoreBackup& operator=(const StoreBackup&) = delete;

  // Writes one backup now and prunes old ones; returns its path.
  absl::StatusOr<std::string> BackUpNow();
  // The complete backups in the directory, oldest first.
  absl::StatusOr<std::vector<std::string>> List() const;

 private:
  void Run();

  const RecordStore& store_;
  const StoreBackupOptions options_;
  const Clock& clock_;
  CoordinatorMetrics* const metrics_;
  absl::Mutex mutex_;  // One backup at a time.
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_STORE_BACKUP_H_
