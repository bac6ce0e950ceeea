#include "probe_agent/event_loop.h"

#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/logging.h"

namespace mecai {
namespace probe_agent {
namespace {

constexpr int kMaxEventsPerWait = 256;
// The longest single wait, so that a clock oddity cannot park the loop for long.
constexpr int64_t kMaxWaitMilliseconds = 60000;
// epoll data of the wake eventfd; descriptors watched through Watch() have ids from 1.
constexpr uint64_t kWakeId = 0;

absl::Status ErrnoError(const char* call) {
  return absl::InternalError(absl::StrCat(call, ": ", std::strerror(errno)));
}

}  // namespace

EventLoop::~EventLoop() {
  Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

absl::Status EventLoop::Start(Task at_end) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return ErrnoError("epoll");
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return ErrnoError("eventfd");
  epoll_event event = {};
  event.events = EPOLLIN;
  event.data.u64 = kWakeId;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event) != 0) return ErrnoError("epoll_ctl");
  at_end_ = std::move(at_end);
  absl::MutexLock lock(&mutex_);
  thread_ = std::thread([this] { Run(); });
  loop_thread_id_ = thread_.get_id();
  return absl::OkStatus();
}

void EventLoop::Post(Task task) {
  {
    absl::MutexLock lock(&mutex_);
    if (stopping_) return;  // `task` is destroyed here, on the caller's thread.
    posted_.push_back(std::move(task));
  }
  Wake();
}

void EventLoop::Stop() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  if (thread_.joinable()) {
    Wake();
    thread_.join();
  }
}

bool EventLoop::InLoopThread() const {
  absl::MutexLock lock(&mutex_);
  return std::this_thread::get_id() == loop_thread_id_;
}

void EventLoop::Wake() {
  const uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof(one));
  (void)ignored;
}

absl::Status EventLoop::Watch(int fd, uint32_t events, ReadyHandler handler) {
  if (watched_by_fd_.count(fd) != 0) {
    return absl::AlreadyExistsError(absl::StrCat("descriptor ", fd, " is watched already"));
  }
  const uint64_t watch_id = next_watch_id_++;
  epoll_event event = {};
  event.events = events;
  event.data.u64 = watch_id;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    return absl::InternalError(std::strerror(errno));
  }
  watched_by_fd_.emplace(fd, Watched{watch_id, std::make_shared<ReadyHandler>(std::move(handler))});
  fd_by_watch_id_.emplace(watch_id, fd);
  return absl::OkStatus();
}

absl::Status EventLoop::ChangeEvents(int fd, uint32_t events) {
  auto found = watched_by_fd_.find(fd);
  if (found == watched_by_fd_.end()) {
    return absl::NotFoundError(absl::StrCat("descriptor ", fd, " is not watched"));
  }
  epoll_event event = {};
  event.events = events;
  event.data.u64 = found->second.watch_id;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event) != 0) {
    return absl::InternalError(std::strerror(errno));
  }
  return absl::OkStatus();
}

void EventLoop::Unwatch(int fd) {
  auto found = watched_by_fd_.find(fd);
  if (found == watched_by_fd_.end()) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  fd_by_watch_id_.erase(found->second.watch_id);
  watched_by_fd_.erase(found);
}

EventLoop::TimerId EventLoop::AddTimer(Clock::time_point when, Task task) {
  const TimerId id = next_timer_id_++;
  timers_.emplace(id, std::move(task));
  timer_heap_.push(TimerEntry{when, id});
  return id;
}

void EventLoop::CancelTimer(TimerId id) { timers_.erase(id); }

void EventLoop::FireTimers() {
  const Clock::time_point now = Clock::now();
  while (!timer_heap_.empty() && timer_heap_.top().when <= now) {
    const TimerId id = timer_heap_.top().id;
    timer_heap_.pop();
    auto found = timers_.find(id);
    if (found == timers_.end()) continue;  // Cancelled.
    Task task = std::move(found->second);
    timers_.erase(found);
    task();
  }
}

int EventLoop::MillisecondsToNextTimer() {
  while (!timer_heap_.empty() && timers_.count(timer_heap_.top().id) == 0) timer_heap_.pop();
  if (timer_heap_.empty()) return -1;
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(timer_heap_.top().when - Clock::now());
  // One millisecond more: epoll_wait's timeout rounds down, and a timer must not wake the loop
  // just before it is due.
  return static_cast<int>(std::clamp<int64_t>(left.count() + 1, 0, kMaxWaitMilliseconds));
}

void EventLoop::Dispatch(uint64_t watch_id, uint32_t events) {
  auto fd = fd_by_watch_id_.find(watch_id);
  if (fd == fd_by_watch_id_.end()) return;  // Unwatched earlier in this turn.
  const std::shared_ptr<ReadyHandler> handler = watched_by_fd_.at(fd->second).handler;
  (*handler)(events);
}

void EventLoop::Run() {
  sigset_t sigpipe;
  sigemptyset(&sigpipe);
  sigaddset(&sigpipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &sigpipe, nullptr);
  std::vector<epoll_event> events(kMaxEventsPerWait);
  while (true) {
    std::deque<Task> tasks;
    bool stopping = false;
    {
      absl::MutexLock lock(&mutex_);
      tasks.swap(posted_);
      stopping = stopping_;
    }
    for (Task& task : tasks) task();
    if (stopping) break;
    FireTimers();
    const int ready =
        epoll_wait(epoll_fd_, events.data(), kMaxEventsPerWait, MillisecondsToNextTimer());
    if (ready < 0) {
      if (errno == EINTR) continue;
      // Cannot happen with a valid epoll set; end as Stop() would rather than spin.
      MECAI_LOG(Error) << "event loop ends: epoll_wait: " << std::strerror(errno);
      absl::MutexLock lock(&mutex_);
      stopping_ = true;
      continue;
    }
    for (int i = 0; i < ready; ++i) {
      if (events[i].data.u64 == kWakeId) {
        uint64_t count;
        ssize_t ignored = read(wake_fd_, &count, sizeof(count));
        (void)ignored;
        continue;
      }
      Dispatch(events[i].data.u64, events[i].events);
    }
  }
  if (at_end_ != nullptr) {
    Task at_end = std::move(at_end_);
    at_end();
  }
  // Whatever the timers and handlers hold is released on this thread.
  timers_.clear();
  timer_heap_ = {};
  watched_by_fd_.clear();
  fd_by_watch_id_.clear();
}

}  // namespace probe_agent
}  // namespace mecai
