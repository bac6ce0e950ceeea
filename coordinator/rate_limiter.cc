#include "coordinator/rate_limiter.h"

#include <algorithm>

namespace mecai {

HostnameRateLimiter::HostnameRateLimiter(const Clock& clock, uint32_t max_rounds,
                                         absl::Duration window, size_t max_hostnames)
    : clock_(clock),
      max_rounds_(max_rounds),
      window_(window),
      max_hostnames_(std::max<size_t>(max_hostnames, 1)) {}

bool HostnameRateLimiter::TryAcquire(const std::string& hostname, absl::Duration* retry_after) {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mutex_);
  auto it = rounds_.find(hostname);
  if (it == rounds_.end()) {
    if (rounds_.size() >= max_hostnames_) EvictLocked(now);
    it = rounds_.emplace(hostname, std::deque<absl::Time>()).first;
  }
  std::deque<absl::Time>& rounds = it->second;
  while (!rounds.empty() && rounds.front() <= now - window_) rounds.pop_front();
  if (rounds.size() >= max_rounds_) {
    *retry_after = rounds.front() + window_ - now;
    return false;
  }
  rounds.push_back(now);
  return true;
}

size_t HostnameRateLimiter::TrackedHostnames() const {
  absl::MutexLock lock(&mutex_);
  return rounds_.size();
}

void HostnameRateLimiter::EvictLocked(absl::Time now) {
  // First every hostname whose rounds have all left the window.
  for (auto it = rounds_.begin(); it != rounds_.end();) {
    if (it->second.empty() || it->second.back() <= now - window_) {
      it = rounds_.erase(it);
    } else {
      ++it;
    }
  }
  if (rounds_.size() < max_hostnames_) return;
  // Then the hostname whose latest round is oldest.
  auto oldest = std::min_element(rounds_.begin(), rounds_.end(), [](const auto& a, const auto& b) {
    return a.second.back() < b.second.back();
  });
  rounds_.erase(oldest);
}

}  // namespace mecai
