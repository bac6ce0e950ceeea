#include "coordinator/call_limit.h"

#include <algorithm>
#include <utility>

namespace mecai {

CallLimit::CallLimit(size_t limit) : limit_(std::max<size_t>(1, limit)) {}

void CallLimit::Run(Call call) {
  {
    absl::MutexLock lock(&mutex_);
    if (in_flight_ >= limit_) {
      waiting_.push_back(std::move(call));
      return;
    }
    ++in_flight_;
  }
  call([this] { End(); });
}

void CallLimit::End() {
  Call next;
  {
    absl::MutexLock lock(&mutex_);
    if (waiting_.empty()) {
      --in_flight_;
      return;
    }
    // The ended call's place goes to the next one.
    next = std::move(waiting_.front());
    waiting_.pop_front();
  }
  next([this] { End(); });
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
