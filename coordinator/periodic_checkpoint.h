// Signs a checkpoint of the shard's log at a fixed interval when the log has grown
// (docs/SECURITY.md T7): the signer keeps every VD it signed since its last checkpoint until a
// checkpoint proves its record is in the log, and signs no more than
// SignerLogState::kMaxUncheckpointedVouchingData of them; auditors also find a fresh checkpoint
// without asking for one to be signed.
#ifndef MECAI_COORDINATOR_PERIODIC_CHECKPOINT_H_
#define MECAI_COORDINATOR_PERIODIC_CHECKPOINT_H_

#include <cstdint>
#include <functional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "coordinator/checkpoint_signer.h"
#include "coordinator/coordinator_metrics.h"
#include "coordinator/log_guard.h"
#include "coordinator/record_store.h"

namespace mecai {

// Thread-safe. Stops (and joins its thread) on destruction.
class PeriodicCheckpoint {
 public:
  // `metrics` and `log_guard` may be null. While the log guard is unconfirmed it is asked to
  // confirm every kConfirmRetryInterval (or `interval`, when shorter) instead of signing; a
  // checkpoint the signer refuses later is reported to it.
  // `each_round`, when set, runs on the thread at every interval before the checkpoint (logged
  // VDs expire their overdue waiters there, coordinator/logged_vd_proofs.h).
  PeriodicCheckpoint(CheckpointSigner& checkpoints, const RecordStore& store,
                     absl::Duration interval, CoordinatorMetrics* metrics,
                     LogGuard* log_guard = nullptr, std::function<void()> each_round = nullptr);

  static constexpr absl::Duration kConfirmRetryInterval = absl::Seconds(2);
  ~PeriodicCheckpoint();

 private:
  void Run();
  CheckpointSigner& checkpoints_;
  const RecordStore& store_;
  const absl::Duration interval_;
  CoordinatorMetrics* const metrics_;
  LogGuard* const log_guard_;
  const std::function<void()> each_round_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_PERIODIC_CHECKPOINT_H_
