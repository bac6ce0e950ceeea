// Per-hostname limit on probe rounds (trust rule 8: "probe rounds per hostname"), a sliding window:
// at most `max_rounds` rounds for one hostname in any `window`. Protects targets and agents from a
// server (or an attacker holding a valid certificate) asking for probes in a loop.
#ifndef MECAI_COORDINATOR_RATE_LIMITER_H_
#define MECAI_COORDINATOR_RATE_LIMITER_H_

#include <deque>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/clock.h"

namespace mecai {

// Thread-safe.
class HostnameRateLimiter {
 public:
  // `max_hostnames` bounds memory: beyond it, hostnames with no round inside the window are
  // forgotten first, then the least recently used.
  HostnameRateLimiter(const Clock& clock, uint32_t max_rounds, absl::Duration window,
                      size_t max_hostnames = 100000);

  // Records a round for `hostname` and returns true, or returns false (recording nothing) when the
  // hostname already had `max_rounds` rounds in the window; then `*retry_after` says when the next
  // round will be allowed.
  bool TryAcquire(const std::string& hostname, absl::Duration* retry_after);

  // Hostnames currently tracked (for tests and metrics).
  size_t TrackedHostnames() const;

 private:
  void EvictLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const Clock& clock_;
  const uint32_t max_rounds_;
  const absl::Duration window_;
  const size_t max_hostnames_;
  mutable absl::Mutex mutex_;
  // Round start times per hostname, oldest first, only those inside the window.
  std::unordered_map<std::string, std::deque<absl::Time>> rounds_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_RATE_LIMITER_H_
