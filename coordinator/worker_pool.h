// A fixed set of threads running the coordinator's CPU work and local waits (ARCHITECTURE.md §13):
// the checks before probing (a RocksDB read, the VR's signatures and chain, judging the CRLs and
// OCSP responses fetched), and the record's synced append with the signer's VD. Waits on other
// servers (revocation fetches, the approval service, the sequencer) hold none of them; gRPC's
// callback threads and the HTTP client's loop only hand work over.
#ifndef MECAI_COORDINATOR_WORKER_POOL_H_
#define MECAI_COORDINATOR_WORKER_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace mecai {

// Thread-safe.
class WorkerPool {
 public:
  // `threads` ≥ 1 threads; at most `max_queued` tasks wait for one.
  WorkerPool(int threads, size_t max_queued);
  // Runs every task already queued, then joins the threads.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`; false (and `task` dropped) when max_queued tasks already wait.
  bool TrySchedule(std::function<void()> task) ABSL_LOCKS_EXCLUDED(mutex_);

  // Tasks waiting now, and the most that ever waited at once.
  size_t Queued() const ABSL_LOCKS_EXCLUDED(mutex_);
  size_t PeakQueued() const ABSL_LOCKS_EXCLUDED(mutex_);

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mutex_);

  const size_t max_queued_;
  mutable absl::Mutex mutex_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mutex_);
  size_t peak_queued_ ABSL_GUARDED_BY(mutex_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_WORKER_POOL_H_
