// Waiting behind an interface (CONTRIBUTING.md "Inject nondeterminism"): the voice gateway's
// backoff between retries sleeps through a Sleeper, so tests advance a FakeClock instead of
// waiting, and a stopping service ends every wait at once.
#ifndef MECAI_APPROVAL_SLEEPER_H_
#define MECAI_APPROVAL_SLEEPER_H_

#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/base/clock.h"

namespace mecai {

// Thread-safe.
class Sleeper {
 public:
  virtual ~Sleeper() = default;
  // Waits `duration`; false when the wait was cut short because the service is stopping.
  virtual bool Sleep(absl::Duration duration) = 0;
};

// Real waiting, ended for every sleeper by Stop(). Thread-safe.
class InterruptibleSleeper : public Sleeper {
 public:
  bool Sleep(absl::Duration duration) override {
    return !stopped_.WaitForNotificationWithTimeout(duration);
  }
  // Ends every wait, now and later.
  void Stop() {
    if (!stopped_.HasBeenNotified()) stopped_.Notify();
  }

 private:
  absl::Notification stopped_;
};

// Advances a FakeClock by each duration instead of waiting, and remembers the durations.
// Thread-safe.
class FakeSleeper : public Sleeper {
 public:
  explicit FakeSleeper(FakeClock& clock) : clock_(clock) {}
  bool Sleep(absl::Duration duration) override {
    clock_.Advance(duration);
    absl::MutexLock lock(&mutex_);
    slept_.push_back(duration);
    return true;
  }
  std::vector<absl::Duration> slept() const {
    absl::MutexLock lock(&mutex_);
    return slept_;
  }

 private:
  FakeClock& clock_;
  mutable absl::Mutex mutex_;
  std::vector<absl::Duration> slept_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace mecai

#endif  // MECAI_APPROVAL_SLEEPER_H_
