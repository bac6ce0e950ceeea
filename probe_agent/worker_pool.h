// A fixed set of threads running queued jobs, with a bounded queue: the agent resolves names
// (c-ares driven to completion on the calling thread, resolver.h) here, so no gRPC thread ever
// waits on DNS, and a burst beyond the queue's bound is refused at once rather than buffered
// without limit (trust rule 8).
#ifndef MECAI_PROBE_AGENT_WORKER_POOL_H_
#define MECAI_PROBE_AGENT_WORKER_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <thread>  // NOLINT(build/c++11): the pool's threads.
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace mecai {
namespace probe_agent {

// Thread-safe. Destruction runs every job already queued, then joins the threads.
class WorkerPool {
 public:
  // `threads` >= 1 threads named for `name` in messages; at most `max_queued` jobs wait at once.
  WorkerPool(std::string name, int threads, size_t max_queued);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job` for the next free thread. RESOURCE_EXHAUSTED "<name>: <max_queued> jobs already
  // wait for <threads> threads" when the queue is full; `job` is then dropped, not run.
  absl::Status Submit(std::function<void()> job) ABSL_LOCKS_EXCLUDED(mutex_);

  // Jobs waiting now (not those running).
  size_t queued() const ABSL_LOCKS_EXCLUDED(mutex_);

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mutex_);

  const std::string name_;
  const size_t max_queued_;
  mutable absl::Mutex mutex_;
  // Signalled when a job is queued, and to every thread when stopping.
  absl::CondVar job_queued_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace probe_agent
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_WORKER_POOL_H_
