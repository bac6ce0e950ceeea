// At most a given number of calls to one service in flight; the others wait, in order of arrival,
// and start as calls end. The coordinator's calls to services with few threads of their own (the
// approval service, the sequencer that every front shares) are bounded by it, since no worker
// thread waits for them (ARCHITECTURE.md §13).
#ifndef MECAI_COORDINATOR_CALL_LIMIT_H_
#define MECAI_COORDINATOR_CALL_LIMIT_H_

#include <cstddef>
#include <deque>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace mecai {

// Thread-safe.
class CallLimit {
 public:
  // `limit` is at least 1.
  explicit CallLimit(size_t limit);

  CallLimit(const CallLimit&) = delete;
  CallLimit& operator=(const CallLimit&) = delete;

  // Starts `call` now, on this thread, when fewer than `limit` are in flight; otherwise when one
  // ends, on the thread that ends it. `call` is given `end`, which it must call exactly once, from
  // any thread (inside `call` too), when its call has ended.
  using Call = std::function<void(std::function<void()> end)>;
  void Run(Call call);

  size_t InFlight() const;
  size_t Waiting() const;

 private:
  // One call ended: the next waiting one starts, or the count goes down.
  void End();

  const size_t limit_;
  mutable absl::Mutex mutex_;
  size_t in_flight_ ABSL_GUARDED_BY(mutex_) = 0;
  std::deque<Call> waiting_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_CALL_LIMIT_H_
