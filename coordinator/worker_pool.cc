#include "coordinator/worker_pool.h"

#include <algorithm>
#include <utility>

namespace mecai {

WorkerPool::WorkerPool(int threads, size_t max_queued) : max_queued_(max_queued) {
  for (int i = 0; i < std::max(threads, 1); ++i) threads_.emplace_back([this] { Run(); });
}

WorkerPool::~WorkerPool() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

bool WorkerPool::TrySchedule(std::function<void()> task) {
  absl::MutexLock lock(&mutex_);
  if (tasks_.size() >= max_queued_) return false;
  tasks_.push_back(std::move(task));
  peak_queued_ = std::max(peak_queued_, tasks_.size());
  return true;
}

size_t WorkerPool::Queued() const {
  absl::MutexLock lock(&mutex_);
  return tasks_.size();
}

size_t WorkerPool::PeakQueued() const {
  absl::MutexLock lock(&mutex_);
  return peak_queued_;
}

void WorkerPool::Run() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mutex_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
        return stopping_ || !tasks_.empty();
      };
      mutex_.Await(absl::Condition(&ready));
      if (tasks_.empty()) return;  // Stopping, and nothing left to run.
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

}  // namespace mecai
