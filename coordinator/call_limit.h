// At most a given number of calls to one service in flight; the others wait, in order of arrival,
// and start as calls end. The coordinator's calls to services with few threads of their own (the
// approval service, the sequencer that every front shares) are bounded by it, since no worker
// thread waits for them (ARCHITECTURE.md §13).
#ifndef MECAI_COORDINATOR_CALL_LIMIT_H_
#define MECAI_COORDINATOR_CALL_LIMIT_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace mecai {

// Thread-safe.
class CallLimit {
 public:
  // `limit` is at least 1; at most `max_waiting` calls wait (unbounded by default).
  explicit CallLimit(size_t limit, size_t max_waiting = SIZE_MAX);

  CallLimit(const CallLimit&) = delete;
  CallLimit& operator=(const CallLimit&) = delete;

  // Starts `call` now, on this thread, when fewer than `limit` are in flight; otherwise when one
  // ends, on the thread that ends it. `call` is given `end`, which it must call exactly once, from
  // any thread (inside `call` too), when its call has ended.
  using Call = std::function<void(std::function<void()> end)>;
  void Run(Call call);
  // Run, unless `max_waiting` calls already wait: then false, and `call` is dropped unstarted.
  bool TryRun(Call call);

  size_t InFlight() const;
  size_t Waiting() const;

 private:
  // One call ended: its place goes to the waiting calls. Iterative: a waiting call that ends
  // inside itself (one failing at once) does not nest another start in its stack, however many
  // wait.
  void End();
  // Starts waiting calls while places are free, on this thread; the one thread doing so at a time.
  void StartWaiting() ABSL_LOCKS_EXCLUDED(mutex_);

  const size_t limit_;
  const size_t max_waiting_;
  mutable absl::Mutex mutex_;
  size_t in_flight_ ABSL_GUARDED_BY(mutex_) = 0;
  std::deque<Call> waiting_ ABSL_GUARDED_BY(mutex_);
  // Whether a thread is in StartWaiting.
  bool starting_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_CALL_LIMIT_H_
