// The guard that keeps a restored or copied store from serving a log that rolls back or forks
// what was published (docs/OPERATIONS.md "Backup and restore", docs/SECURITY.md T7).
//
// What was published is what the signer signed: it keeps the last checkpoint of every shard in its
// own state, apart from the coordinator's store, and signs a new one only for a tree proven to
// extend it (RFC 9162 §2.1.4). So the store is confirmed when the signer signs a checkpoint of its
// whole current tree — asked even when the store already holds one of that size, since a store
// copied back from a backup holds the checkpoints it held then. Until that happens no VR is
// decided (nothing is appended to a log that may be behind); once the signer refuses (its last
// checkpoint is larger than this tree, or this tree does not extend it) nothing is appended or
// served again until an operator acts.
#ifndef MECAI_COORDINATOR_LOG_GUARD_H_
#define MECAI_COORDINATOR_LOG_GUARD_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/checkpoint_signer.h"
#include "coordinator/coordinator_metrics.h"

namespace mecai {

// Thread-safe.
class LogGuard {
 public:
  enum class State {
    // Not yet confirmed by the signer (it was not reachable).
    kUnconfirmed,
    // The signer signed a checkpoint of the store's whole tree: the log extends what was published.
    kConfirmed,
    // The signer refused: the store is behind or beside what was published. Final for this process.
    kRolledBackOrForked,
  };

  // `metrics` may be null; both must outlive the guard.
  LogGuard(CheckpointSigner& checkpoints, CoordinatorMetrics* metrics);

  // Asks the signer to sign a checkpoint of the whole current tree, unless the guard already
  // decided; returns the state after the attempt. A signer that cannot be reached leaves the
  // state unconfirmed.
  State Confirm();
  // Reports a checkpoint the signer refused later (FAILED_PRECONDITION from
  // CheckpointSigner::SignLatest): another copy of the store has published a different history.
  void ReportRefusedCheckpoint(const absl::Status& refusal);

  State state() const;
  // OK once confirmed; UNAVAILABLE while unconfirmed; FAILED_PRECONDITION, naming the signer's
  // refusal and the runbook, once rolled back or forked.
  absl::Status AllowsAppends() const;
  // OK unless rolled back or forked (auditors check consistency themselves, so an unconfirmed log
  // is served).
  absl::Status AllowsReads() const;

 private:
  void SetLocked(State state, const std::string& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  CheckpointSigner& checkpoints_;
  CoordinatorMetrics* const metrics_;
  absl::Mutex confirm_mutex_;  // One Confirm at a time.
  mutable absl::Mutex mutex_;
  State state_ ABSL_GUARDED_BY(mutex_) = State::kUnconfirmed;
  // The signer's refusal, once rolled back or forked.
  std::string refusal_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_LOG_GUARD_H_
