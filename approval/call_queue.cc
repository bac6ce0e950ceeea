#include "approval/call_queue.h"

#include <algorithm>
#include <utility>

namespace mecai {

CallQueue::CallQueue(size_t workers, size_t max_pending) : max_pending_(max_pending) {
  for (size_t i = 0; i < std::max<size_t>(workers, 1); ++i) {
    threads_.emplace_back([this] { Work(); });
  }
}

CallQueue::~CallQueue() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
    tasks_.clear();
  }
  for (std::thread& thread : threads_) thread.join();
}

bool CallQueue::Reserve() {
  absl::MutexLock lock(&mutex_);
  if (stopping_ || reserved_ >= max_pending_) return false;
  ++reserved_;
  return true;
}

void CallQueue::Release() {
  absl::MutexLock lock(&mutex_);
  --reserved_;
}

void CallQueue::Run(std::function<void()> task) {
  absl::MutexLock lock(&mutex_);
  tasks_.push_back(std::move(task));
}

void CallQueue::WaitUntilIdle() {
  absl::MutexLock lock(&mutex_);
  mutex_.Await(absl::Condition(
      +[](CallQueue* queue) ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue->mutex_) {
        return queue->reserved_ == 0 && queue->running_ == 0;
      },
      this));
}

void CallQueue::Work() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mutex_);
      mutex_.Await(absl::Condition(
          +[](CallQueue* queue) ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue->mutex_) {
            return queue->stopping_ || !queue->tasks_.empty();
          },
          this));
      if (stopping_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
      --reserved_;
      ++running_;
    }
    task();
    absl::MutexLock lock(&mutex_);
    --running_;
  }
}

}  // namespace mecai
