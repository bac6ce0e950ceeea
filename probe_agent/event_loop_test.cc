// The agent's event loop (probe_agent/event_loop.h) on its own: timers in deadline order, tasks
// posted from other threads running on the loop thread, descriptors watched for readiness, and a
// clean stop.
#include "probe_agent/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>  // NOLINT(build/c++11): threads that post to the loop.
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace probe_agent {
namespace {

using ::testing::ElementsAre;
using Clock = EventLoop::Clock;

// Runs `task` on the loop thread and waits until it has run.
void RunOnLoop(EventLoop& loop, EventLoop::Task task) {
  absl::Notification done;
  loop.Post([&] {
    task();
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

TEST(EventLoopTest, TimersFireInDeadlineOrderAndNotBefore) {
  EventLoop loop;
  ASSERT_TRUE(loop.Start().ok());
  absl::Mutex mutex;
  std::vector<std::string> fired;
  std::vector<bool> on_time;
  absl::Notification last;
  RunOnLoop(loop, [&] {
    const Clock::time_point start = Clock::now();
    auto add = [&](int milliseconds, std::string name) {
      const Clock::time_point when = start + std::chrono::milliseconds(milliseconds);
      return loop.AddTimer(when, [&, when, name = std::move(name)] {
        absl::MutexLock lock(&mutex);
        fired.push_back(name);
        on_time.push_back(Clock::now() >= when);
        if (fired.size() == 5) last.Notify();
      });
    };
    // Added out of order; "b1" and "b2" share a deadline and fire in the order they were added.
    add(120, "d");
    add(60, "b1");
    add(20, "a");
    const EventLoop::TimerId cancelled = add(40, "cancelled");
    add(60, "b2");
    add(90, "c");
    loop.CancelTimer(cancelled);
  });
  ASSERT_TRUE(last.WaitForNotificationWithTimeout(absl::Seconds(10)));
  absl::MutexLock lock(&mutex);
  EXPECT_THAT(fired, ElementsAre("a", "b1", "b2", "c", "d"));
  EXPECT_THAT(on_time, ElementsAre(true, true, true, true, true));
}

TEST(EventLoopTest, TimerAddedByATimerFires) {
  EventLoop loop;
  ASSERT_TRUE(loop.Start().ok());
  absl::Notification second;
  RunOnLoop(loop, [&] {
    loop.AddTimer(Clock::now() + std::chrono::milliseconds(5), [&] {
      loop.AddTimer(Clock::now() + std::chrono::milliseconds(5), [&] { second.Notify(); });
    });
  });
  EXPECT_TRUE(second.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

TEST(EventLoopTest, TasksPostedFromOtherThreadsRunOnTheLoopThreadInOrder) {
  EventLoop loop;
  ASSERT_TRUE(loop.Start().ok());
  EXPECT_FALSE(loop.InLoopThread());
  constexpr int kThreads = 4;
  constexpr int kTasksPerThread = 100;
  // Only the loop thread touches these, so they need no lock; the final Notification publishes
  // them to this thread.
  std::vector<std::vector<int>> seen(kThreads);
  std::vector<std::thread::id> ran_on;
  bool all_in_loop_thread = true;
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&, t] {
      for (int i = 0; i < kTasksPerThread; ++i) {
        loop.Post([&, t, i] {
          seen[t].push_back(i);
          ran_on.push_back(std::this_thread::get_id());
          all_in_loop_thread = all_in_loop_thread && loop.InLoopThread();
        });
      }
    });
  }
  for (std::thread& poster : posters) poster.join();
  RunOnLoop(loop, [] {});
  ASSERT_EQ(ran_on.size(), static_cast<size_t>(kThreads * kTasksPerThread));
  EXPECT_TRUE(all_in_loop_thread);
  for (const std::thread::id& id : ran_on) {
    EXPECT_EQ(id, ran_on.front());
    EXPECT_NE(id, std::this_thread::get_id());
  }
  std::vector<int> expected;
  for (int i = 0; i < kTasksPerThread; ++i) expected.push_back(i);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(seen[t], expected) << "poster " << t;
}

TEST(EventLoopTest, WatchedDescriptorCallsItsHandlerUntilUnwatched) {
  EventLoop loop;
  ASSERT_TRUE(loop.Start().ok());
  const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::atomic<int> calls{0};
  absl::Notification readable;
  RunOnLoop(loop, [&] {
    // The handler unwatches its own descriptor: it must stay alive while it runs.
    ASSERT_TRUE(loop.Watch(fd, EPOLLIN,
                           [&](uint32_t events) {
                             EXPECT_TRUE(events & EPOLLIN);
                             ++calls;
                             loop.Unwatch(fd);
                             readable.Notify();
                           })
                    .ok());
    EXPECT_EQ(loop.Watch(fd, EPOLLIN, [](uint32_t) {}).code(), absl::StatusCode::kAlreadyExists);
  });
  const uint64_t one = 1;
  ASSERT_EQ(write(fd, &one, sizeof(one)), static_cast<ssize_t>(sizeof(one)));
  ASSERT_TRUE(readable.WaitForNotificationWithTimeout(absl::Seconds(10)));
  // Still readable (level-triggered), but no longer watched.
  RunOnLoop(loop,
            [&] { EXPECT_EQ(loop.ChangeEvents(fd, EPOLLIN).code(), absl::StatusCode::kNotFound); });
  EXPECT_EQ(calls.load(), 1);
  close(fd);
}

// Counts how many of its kind were destroyed: a posted task that owns one is gone once the count
// goes up.
struct Witness {
  explicit Witness(std::atomic<int>* destroyed) : destroyed(destroyed) {}
  ~Witness() { ++*destroyed; }
  std::atomic<int>* destroyed;
};

TEST(EventLoopTest, StopRunsWhatWasPostedThenTheEndHandlerAndDropsTheRest) {
  EventLoop loop;
  std::atomic<bool> ended_on_loop_thread{false};
  std::atomic<int> ended{0};
  std::atomic<int> ran{0};
  std::atomic<int> timer_fired{0};
  ASSERT_TRUE(loop.Start([&] {
                    ended_on_loop_thread = loop.InLoopThread();
                    // Tasks posted before Stop() ran first.
                    EXPECT_EQ(ran.load(), 3);
                    ++ended;
                  })
                  .ok());
  RunOnLoop(loop,
            [&] { loop.AddTimer(Clock::now() + std::chrono::hours(1), [&] { ++timer_fired; }); });
  // Holds the loop thread so that the tasks below are still queued when Stop() is called.
  absl::Notification release;
  loop.Post([&] { release.WaitForNotification(); });
  for (int i = 0; i < 3; ++i) loop.Post([&] { ++ran; });
  std::thread stopper([&] { loop.Stop(); });
  absl::SleepFor(absl::Milliseconds(50));
  release.Notify();
  stopper.join();
  EXPECT_EQ(ran.load(), 3);
  EXPECT_EQ(ended.load(), 1);
  EXPECT_TRUE(ended_on_loop_thread);
  EXPECT_EQ(timer_fired.load(), 0);

  // After Stop(), a posted task is destroyed without running.
  std::atomic<int> destroyed{0};
  loop.Post([&, witness = std::make_unique<Witness>(&destroyed)] { ++ran; });
  EXPECT_EQ(destroyed.load(), 1);
  EXPECT_EQ(ran.load(), 3);
  loop.Stop();  // Idempotent.
  EXPECT_EQ(ended.load(), 1);
}

TEST(EventLoopTest, DestroyingARunningLoopStopsIt) {
  std::atomic<int> ended{0};
  {
    EventLoop loop;
    ASSERT_TRUE(loop.Start([&] { ++ended; }).ok());
    loop.Post([] {});
  }
  EXPECT_EQ(ended.load(), 1);
  EventLoop never_started;  // Nothing to stop.
}

}  // namespace
}  // namespace probe_agent
}  // namespace mecai
