// An epoll event loop on a thread of its own: watched descriptors, timers, cross-thread tasks.
#ifndef MECAI_PROBE_AGENT_EVENT_LOOP_H_
#define MECAI_PROBE_AGENT_EVENT_LOOP_H_

#include <chrono>  // NOLINT(build/c++11): steady time for timers.
#include <cstdint>
#include <deque>
#include <memory>
#include <queue>
#include <thread>  // NOLINT(build/c++11): the loop's thread.
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace mecai {
namespace probe_agent {

// One epoll set, one eventfd (it wakes the loop when a task is posted), one thread, and timers on
// the steady clock. Each turn of the loop runs the tasks posted since the previous turn, in the
// order they were posted; fires the timers that are due, earliest first (equal deadlines in the
// order they were added); then waits in epoll_wait until a watched descriptor is ready, the next
// timer is due or a task is posted, and calls the handlers of the ready descriptors
// (level-triggered).
//
// Thread-safety:
//   * Post() and Stop() may be called from any thread — Stop() not from the loop's own thread, as
//     it waits for that thread to end. InLoopThread() may be called from any thread.
//   * Watch(), ChangeEvents(), Unwatch(), AddTimer() and CancelTimer() only on the loop thread:
//     from a posted task, a timer, a ready handler or the end handler.
//   * Start() once, before any other method.
// Tasks, timers and handlers run on the loop thread one at a time and must not block.
//
// The loop thread keeps SIGPIPE blocked: a write to a socket the peer closed fails with EPIPE
// instead of killing the process (OpenSSL writes with write(2), which cannot pass MSG_NOSIGNAL).
class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;
  using Task = absl::AnyInvocable<void()>;
  // Receives the ready events of a watched descriptor (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, ...).
  using ReadyHandler = absl::AnyInvocable<void(uint32_t events)>;
  // Names a timer for CancelTimer; never kNoTimer.
  using TimerId = uint64_t;
  static constexpr TimerId kNoTimer = 0;

  EventLoop() = default;
  // Stop().
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Creates the epoll set and the eventfd and starts the loop's thread. `at_end`, when given, runs
  // on the loop thread after the loop's last turn; it may still call Unwatch() and CancelTimer().
  // INTERNAL naming the failed call ("epoll: …", "eventfd: …", "epoll_ctl: …"). Should epoll_wait
  // ever fail (other than EINTR), the loop logs it and ends as if Stop() had been called.
  absl::Status Start(Task at_end = nullptr) ABSL_LOCKS_EXCLUDED(mutex_);

  // Runs `task` on the loop thread at the loop's next turn. Once Stop() was called (or the loop
  // ended), `task` is destroyed without running.
  void Post(Task task) ABSL_LOCKS_EXCLUDED(mutex_);

  // Ends the loop: it finishes what it is running, runs the tasks posted before Stop() was called,
  // then `at_end`, and its thread exits; Stop() returns then. Timers not yet due never fire;
  // watched descriptors are forgotten, not closed. Idempotent; nothing to do before Start().
  void Stop() ABSL_LOCKS_EXCLUDED(mutex_);

  // True on the loop's thread.
  bool InLoopThread() const ABSL_LOCKS_EXCLUDED(mutex_);

  // Loop thread only. Calls `handler` whenever `fd` is ready for `events` (EPOLLIN, EPOLLOUT, ...;
  // EPOLLERR and EPOLLHUP always count), until Unwatch(fd). Errors are INTERNAL whose message is
  // epoll_ctl's strerror(errno) text alone; ALREADY_EXISTS when `fd` is watched already.
  absl::Status Watch(int fd, uint32_t events, ReadyHandler handler);
  // Loop thread only. The events a watched `fd` waits for from now on. Errors as Watch();
  // NOT_FOUND when `fd` is not watched.
  absl::Status ChangeEvents(int fd, uint32_t events);
  // Loop thread only. Stops watching `fd`: call it before closing `fd`. Events of `fd` already
  // collected in this turn are dropped. No effect when `fd` is not watched.
  void Unwatch(int fd);

  // Loop thread only. Runs `task` on the loop thread once `when` has come, unless cancelled.
  TimerId AddTimer(Clock::time_point when, Task task);
  // Loop thread only. The timer will not run; no effect when it ran or was cancelled already.
  void CancelTimer(TimerId id);

 private:
  struct TimerEntry {
    Clock::time_point when;
    TimerId id;
    // Earlier deadline first; equal deadlines in the order the timers were added.
    bool operator>(const TimerEntry& other) const {
      return when != other.when ? when > other.when : id > other.id;
    }
  };
  struct Watched {
    uint64_t watch_id;
    // Shared so that a handler that unwatches its own descriptor is not destroyed while it runs.
    std::shared_ptr<ReadyHandler> handler;
  };

  void Run() ABSL_LOCKS_EXCLUDED(mutex_);
  void Wake();
  // Runs every timer that is due.
  void FireTimers();
  // Milliseconds until the next live timer (at most a minute), or -1 for none.
  int MillisecondsToNextTimer();
  void Dispatch(uint64_t watch_id, uint32_t events);

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;

  mutable absl::Mutex mutex_;
  std::thread::id loop_thread_id_ ABSL_GUARDED_BY(mutex_);
  std::deque<Task> posted_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;

  // Loop thread only.
  Task at_end_;
  TimerId next_timer_id_ = kNoTimer + 1;
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<TimerEntry>> timer_heap_;
  // Timers not yet run nor cancelled; the heap's other entries are skipped when they come up.
  std::unordered_map<TimerId, Task> timers_;
  // Watch ids start at 1; 0 in an epoll event is the wake eventfd.
  uint64_t next_watch_id_ = 1;
  std::unordered_map<int, Watched> watched_by_fd_;
  std::unordered_map<uint64_t, int> fd_by_watch_id_;
};

}  // namespace probe_agent
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_EVENT_LOOP_H_
