// Time behind an interface (after envoy/common/time.h TimeSource): services take a Clock& so tests
// inject a FakeClock; only main.cc picks SystemClock.
#ifndef MECAI_COMMON_BASE_CLOCK_H_
#define MECAI_COMMON_BASE_CLOCK_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mecai {

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  int64_t NowUnixSeconds() const { return absl::ToUnixSeconds(Now()); }
  int64_t NowUnixMilliseconds() const { return absl::ToUnixMillis(Now()); }
};

// Wall-clock time. Thread-safe.
class SystemClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  // A process-wide instance.
  static SystemClock& Get();
};

// A clock tests set and advance by hand. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mutex_);
    return now_;
  }
  void Advance(absl::Duration by) {
    absl::MutexLock lock(&mutex_);
    now_ += by;
  }
  void Set(absl::Time to) {
    absl::MutexLock lock(&mutex_);
    now_ = to;
  }

 private:
  mutable absl::Mutex mutex_;
  absl::Time now_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace mecai

#endif  // MECAI_COMMON_BASE_CLOCK_H_
