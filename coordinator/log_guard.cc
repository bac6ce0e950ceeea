#include "coordinator/log_guard.h"

#include "absl/strings/str_cat.h"
#include "common/base/logging.h"

namespace mecai {
namespace {

constexpr char kRunbook[] =
    "the store must not serve this shard (docs/OPERATIONS.md \"Restoring a coordinator's "
    "store\")";

}  // namespace

LogGuard::LogGuard(CheckpointSigner& checkpoints, CoordinatorMetrics* metrics)
    : checkpoints_(checkpoints), metrics_(metrics) {
  if (metrics_ != nullptr) metrics_->SetLogGuardState("unconfirmed");
}

LogGuard::State LogGuard::Confirm() {
  absl::MutexLock confirm_lock(&confirm_mutex_);
  {
    absl::MutexLock lock(&mutex_);
    if (state_ != State::kUnconfirmed) return state_;
  }
  absl::StatusOr<v1::SignedCheckpoint> checkpoint =
      checkpoints_.SignLatest(CheckpointSigner::kAskTheSignerAgain);
  absl::MutexLock lock(&mutex_);
  if (checkpoint.ok()) {
    SetLocked(State::kConfirmed, "");
    MECAI_LOG(Info) << "the signer confirmed that the log extends its last checkpoint";
  } else if (absl::IsFailedPrecondition(checkpoint.status())) {
    SetLocked(State::kRolledBackOrForked, std::string(checkpoint.status().message()));
  } else {
    MECAI_LOG(Warning) << "the log is not yet confirmed by the signer; no VR is decided until it "
                          "is: "
                       << checkpoint.status();
  }
  return state_;
}

void LogGuard::ReportRefusedCheckpoint(const absl::Status& refusal) {
  if (!absl::IsFailedPrecondition(refusal)) return;
  absl::MutexLock lock(&mutex_);
  if (state_ == State::kRolledBackOrForked) return;
  SetLocked(State::kRolledBackOrForked, std::string(refusal.message()));
}

void LogGuard::SetLocked(State state, const std::string& why) {
  state_ = state;
  if (state == State::kRolledBackOrForked) {
    refusal_ = why;
    MECAI_LOG(Error) << "the log rolls back or forks what the signer signed (" << why
                     << "): no VR is decided and no record is served; " << kRunbook;
  }
  if (metrics_ != nullptr) {
    metrics_->SetLogGuardState(state == State::kConfirmed     ? "confirmed"
                               : state == State::kUnconfirmed ? "unconfirmed"
                                                              : "rolled_back_or_forked");
  }
}

LogGuard::State LogGuard::state() const {
  absl::MutexLock lock(&mutex_);
  return state_;
}

absl::Status LogGuard::AllowsAppends() const {
  absl::MutexLock lock(&mutex_);
  switch (state_) {
    case State::kConfirmed:
      return absl::OkStatus();
    case State::kUnconfirmed:
      return absl::UnavailableError(
          "the log is not yet confirmed by the signer (it has not signed a checkpoint of this "
          "store's tree since the coordinator started); send the VR again later");
    case State::kRolledBackOrForked:
      break;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("this coordinator's log rolls back or forks what its signer signed: ", refusal_,
                   "; ", kRunbook));
}

absl::Status LogGuard::AllowsReads() const {
  absl::MutexLock lock(&mutex_);
  if (state_ != State::kRolledBackOrForked) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("this coordinator's log rolls back or forks what its signer signed: ", refusal_,
                   "; ", kRunbook));
}

}  // namespace mecai
