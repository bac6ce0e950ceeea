#include "coordinator/periodic_checkpoint.h"

#include "common/base/logging.h"

namespace mecai {

PeriodicCheckpoint::PeriodicCheckpoint(CheckpointSigner& checkpoints, const RecordStore& store,
                                       absl::Duration interval, CoordinatorMetrics* metrics)
    : checkpoints_(checkpoints),
      store_(store),
      interval_(interval),
      metrics_(metrics),
      thread_([this] { Run(); }) {}

PeriodicCheckpoint::~PeriodicCheckpoint() {
  stop_.Notify();
  thread_.join();
}

void PeriodicCheckpoint::Run() {
  uint64_t signed_size = 0;
  while (!stop_.WaitForNotificationWithTimeout(interval_)) {
    const uint64_t tree_size = store_.TreeSize();
    if (tree_size == 0 || tree_size == signed_size) continue;
    absl::StatusOr<v1::SignedCheckpoint> checkpoint = checkpoints_.SignLatest();
    if (metrics_ != nullptr) metrics_->RecordCheckpoint(checkpoint.ok());
    if (!checkpoint.ok()) {
      MECAI_LOG(Error) << "no checkpoint of " << tree_size
                       << " records signed: " << checkpoint.status();
      continue;
    }
    signed_size = tree_size;
  }
}

}  // namespace mecai
