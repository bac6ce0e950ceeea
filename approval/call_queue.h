// A bounded pool of worker threads for the slow part of a submission — the RDAP lookup and the
// calls (docs/APPROVAL.md "The submit contract") — so that SubmitIssuanceRequest answers at once
// and a burst of submissions cannot start unbounded threads or queue unbounded work.
#ifndef MECAI_APPROVAL_CALL_QUEUE_H_
#define MECAI_APPROVAL_CALL_QUEUE_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace mecai {

// Thread-safe.
class CallQueue {
 public:
  // `workers` threads (at least 1) run tasks; at most `max_pending` tasks wait for one.
  CallQueue(size_t workers, size_t max_pending);
  // Stops: tasks not yet started are dropped (the store still shows their requests as CALLING,
  // which the next start resolves, Approvals::RecoverInterruptedCalls); running tasks finish.
  ~CallQueue();
  CallQueue(const CallQueue&) = delete;
  CallQueue& operator=(const CallQueue&) = delete;

  // Holds a place for one task; false when max_pending tasks wait already. Every true must be
  // followed by exactly one Run or Release.
  bool Reserve();
  void Release();
  // Runs `task` on a worker (in a place Reserve held).
  void Run(std::function<void()> task);

  // Blocks until no task waits or runs.
  void WaitUntilIdle();

 private:
  void Work();

  const size_t max_pending_;
  absl::Mutex mutex_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mutex_);
  // Places held by Reserve and not yet run or released, plus queued tasks.
  size_t reserved_ ABSL_GUARDED_BY(mutex_) = 0;
  size_t running_ ABSL_GUARDED_BY(mutex_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace mecai

#endif  // MECAI_APPROVAL_CALL_QUEUE_H_
