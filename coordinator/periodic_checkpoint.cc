#include "coordinator/periodic_checkpoint.h"

#include <algorithm>

#include "common/base/logging.h"

namespace mecai {

PeriodicCheckpoint::PeriodicCheckpoint(CheckpointSigner& checkpoints, const RecordStore& store,
                                       absl::Duration interval, CoordinatorMetrics* metrics,
                                       LogGuard* log_guard, std::function<void()> each_round)
    : checkpoints_(checkpoints),
      store_(store),
      interval_(interval),
      metrics_(metrics),
      log_guard_(log_guard),
      each_round_(std::move(each_round)),
      thread_([this] { Run(); }) {}

PeriodicCheckpoint::~PeriodicCheckpoint() {
  stop_.Notify();
  thread_.join();
}

void PeriodicCheckpoint::Run() {
  uint64_t signed_size = 0;
  auto unconfirmed = [this] {
    return log_guard_ != nullptr && log_guard_->state() == LogGuard::State::kUnconfirmed;
  };
  auto wait = [&] {
    return unconfirmed() ? std::min(interval_, kConfirmRetryInterval) : interval_;
  };
  while (!stop_.WaitForNotificationWithTimeout(wait())) {
    if (each_round_) each_round_();
    if (unconfirmed()) {
      log_guard_->Confirm();
      continue;
    }
    if (log_guard_ != nullptr && log_guard_->state() != LogGuard::State::kConfirmed) continue;
    const uint64_t tree_size = store_.TreeSize();
    if (tree_size == 0 || tree_size == signed_size) continue;
    absl::StatusOr<v1::SignedCheckpoint> checkpoint = checkpoints_.SignLatest();
    if (metrics_ != nullptr) metrics_->RecordCheckpoint(checkpoint.ok());
    if (!checkpoint.ok()) {
      MECAI_LOG(Error) << "no checkpoint of " << tree_size
                       << " records signed: " << checkpoint.status();
      if (log_guard_ != nullptr) log_guard_->ReportRefusedCheckpoint(checkpoint.status());
      continue;
    }
    signed_size = tree_size;
  }
}

}  // namespace mecai
