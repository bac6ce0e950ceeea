#include "coordinator/call_limit.h"

#include <algorithm>
#include <utility>

namespace mecai {

CallLimit::CallLimit(size_t limit, size_t max_waiting)
    : limit_(std::max<size_t>(1, limit)), max_waiting_(max_waiting) {}

void CallLimit::Run(Call call) {
  {
    absl::MutexLock lock(&mutex_);
    // Calls already waiting go first.
    if (in_flight_ >= limit_ || !waiting_.empty()) {
      waiting_.push_back(std::move(call));
      return;
    }
    ++in_flight_;
  }
  call([this] { End(); });
}

bool CallLimit::TryRun(Call call) {
  {
    absl::MutexLock lock(&mutex_);
    if (in_flight_ >= limit_ || !waiting_.empty()) {
      if (waiting_.size() >= max_waiting_) return false;
      waiting_.push_back(std::move(call));
      return true;
    }
    ++in_flight_;
  }
  call([this] { End(); });
  return true;
}

void CallLimit::End() {
  {
    absl::MutexLock lock(&mutex_);
    --in_flight_;
    // The thread starting waiting calls (perhaps this one, further up its stack) takes the place.
    if (waiting_.empty() || starting_) return;
    starting_ = true;
  }
  StartWaiting();
}

void CallLimit::StartWaiting() {
  absl::MutexLock lock(&mutex_);
  while (in_flight_ < limit_ && !waiting_.empty()) {
    Call next = std::move(waiting_.front());
    waiting_.pop_front();
    ++in_flight_;
    mutex_.Unlock();
    next([this] { End(); });
    mutex_.Lock();
  }
  starting_ = false;
}

size_t CallLimit::InFlight() const {
  absl::MutexLock lock(&mutex_);
  return in_flight_;
}

size_t CallLimit::Waiting() const {
  absl::MutexLock lock(&mutex_);
  return waiting_.size();
}

}  // namespace mecai
