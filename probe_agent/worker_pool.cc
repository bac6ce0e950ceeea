#include "probe_agent/worker_pool.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace mecai {
namespace probe_agent {

WorkerPool::WorkerPool(std::string name, int threads, size_t max_queued)
    : name_(std::move(name)), max_queued_(max_queued) {
  for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Run(); });
}

WorkerPool::~WorkerPool() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
    job_queued_.SignalAll();
  }
  for (std::thread& thread : threads_) thread.join();
}

absl::Status WorkerPool::Submit(std::function<void()> job) {
  absl::MutexLock lock(&mutex_);
  if (stopping_) return absl::UnavailableError(absl::StrCat(name_, ": shutting down"));
  if (jobs_.size() >= max_queued_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        name_, ": ", max_queued_, " jobs already wait for ", threads_.size(), " threads"));
  }
  jobs_.push_back(std::move(job));
  job_queued_.Signal();
  return absl::OkStatus();
}

size_t WorkerPool::queued() const {
  absl::MutexLock lock(&mutex_);
  return jobs_.size();
}

void WorkerPool::Run() {
  while (true) {
    std::function<void()> job;
    {
      absl::MutexLock lock(&mutex_);
      while (!stopping_ && jobs_.empty()) job_queued_.Wait(&mutex_);
      if (jobs_.empty()) return;  // Stopping, and every queued job has run.
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace probe_agent
}  // namespace mecai
