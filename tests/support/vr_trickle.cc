#include "tests/support/vr_trickle.h"

#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "common/rpc/grpc_channel.h"
#include "tests/support/coordinator_calls.h"

namespace mecai {

bool IsARestartsFault(const absl::Status& call, bool signer_restarting) {
  if (call.code() == absl::StatusCode::kUnavailable ||
      call.code() == absl::StatusCode::kCancelled) {
    return true;
  }
  return signer_restarting && call.code() == absl::StatusCode::kDeadlineExceeded &&
         absl::StrContains(call.message(), "signer");
}

VrTrickle::VrTrickle(std::function<std::string()> make_request, v1::PeerConfig coordinator,
                     absl::Duration pause)
    : make_request_(std::move(make_request)),
      pause_(pause),
      coordinator_(std::move(coordinator)),
      thread_([this] { Run(); }) {}

VrTrickle::~VrTrickle() { Stop(); }

void VrTrickle::SetCoordinator(const v1::PeerConfig& coordinator) {
  absl::MutexLock lock(&mutex_);
  coordinator_ = coordinator;
}

void VrTrickle::SetStep(const std::string& step) {
  absl::MutexLock lock(&mutex_);
  step_ = step;
}

bool VrTrickle::AwaitMore(int count, absl::Duration timeout) {
  absl::MutexLock lock(&mutex_);
  const size_t target = outcomes_.size() + static_cast<size_t>(count);
  auto done = [this, target]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return outcomes_.size() >= target || stopping_;
  };
  return mutex_.AwaitWithTimeout(absl::Condition(&done), timeout) && outcomes_.size() >= target;
}

std::vector<VrOutcome> VrTrickle::Stop() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mutex_);
  return outcomes_;
}

void VrTrickle::Run() {
  while (true) {
    VrOutcome outcome;
    v1::PeerConfig coordinator;
    {
      absl::MutexLock lock(&mutex_);
      if (stopping_) return;
      coordinator = coordinator_;
      outcome.step = step_;
    }
    // A channel per VR: a restarted coordinator is reached at once, without a backoff.
    auto channel = MakeChannel(coordinator);
    if (!channel.ok()) {
      outcome.call = channel.status();
    } else {
      absl::StatusOr<v1::VouchResponse> response = CallVouch(**channel, make_request_());
      outcome.call = response.status();
      if (response.ok()) outcome.response = *std::move(response);
    }
    absl::MutexLock lock(&mutex_);
    outcomes_.push_back(std::move(outcome));
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return stopping_; };
    mutex_.AwaitWithTimeout(absl::Condition(&stopping), pause_);
  }
}

}  // namespace mecai
