// Per-network limits on wrong approval codes, applied by the certapproval page before a request's
// own count (ApprovalConfig.max_attempts) sees an attempt (docs/APPROVAL.md "Limits"): a stranger
// who knows or guesses a transaction number must not be able to lock someone else's request, nor
// try codes on request after request. Sliding windows of attempt times, per client network (an
// IPv4 address, an IPv6 /64) and per network and transaction number.
#ifndef MECAI_APPROVAL_WRONG_CODE_LIMITER_H_
#define MECAI_APPROVAL_WRONG_CODE_LIMITER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/clock.h"

namespace mecai {

struct WrongCodeLimits {
  // From ApprovalConfig (after WithApprovalDefaults).
  uint32_t per_address = 20;
  uint32_t per_address_and_request = 3;
  absl::Duration window = absl::Hours(1);
};

// Thread-safe. `clock` must outlive the limiter.
class WrongCodeLimiter {
 public:
  WrongCodeLimiter(WrongCodeLimits limits, const Clock& clock) : limits_(limits), clock_(clock) {}

  // The network a client address belongs to: the address itself for IPv4, its /64 for IPv6.
  static std::string NetworkOf(const std::string& address);

  // Reserves one attempt for `address` on `transaction_number`: true when both limits leave room
  // (the attempt then counts as wrong until Release), false with `*retry_after` set to when the
  // oldest counted attempt leaves the window otherwise.
  bool TryAcquire(const std::string& address, const std::string& transaction_number,
                  absl::Duration* retry_after) ABSL_LOCKS_EXCLUDED(mutex_);
  // The reserved attempt was not a wrong code (the code was right, or the request was not
  // pending): it no longer counts.
  void Release(const std::string& address, const std::string& transaction_number)
      ABSL_LOCKS_EXCLUDED(mutex_);

 private:
  // Drops the times of `times` that left the window; true when none remain.
  bool Expire(std::deque<absl::Time>& times, absl::Time now) const;
  // Forgets every key whose attempts all left the window (bounds memory by the attempts of one
  // window).
  void Sweep(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const WrongCodeLimits limits_;
  const Clock& clock_;
  absl::Mutex mutex_;
  // Attempt times, oldest first, by network and by network '\0' transaction number.
  std::map<std::string, std::deque<absl::Time>> by_address_ ABSL_GUARDED_BY(mutex_);
  std::map<std::string, std::deque<absl::Time>> by_request_ ABSL_GUARDED_BY(mutex_);
  absl::Time last_sweep_ ABSL_GUARDED_BY(mutex_) = absl::InfinitePast();
};

}  // namespace mecai

#endif  // MECAI_APPROVAL_WRONG_CODE_LIMITER_H_
