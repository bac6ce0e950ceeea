#include "coordinator/periodic_checkpoint.h"

#include <algorithm>

#include "absl/time/clock.h"
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
  // A fixed rate, not a fixed pause: a round starts `interval_` after the previous one started,
  // so a checkpoint that takes time to sign does not stretch the batch (logged VDs wait for it).
  absl::Time next_round = absl::Now();
  auto wait = [&] {
    const absl::Duration period =
        unconfirmed() ? std::min(interval_, kConfirmRetryInterval) : interval_;
    const absl::Time now = absl::Now();
    next_round = std::max(next_round + period, now);
    return next_round - now;
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
