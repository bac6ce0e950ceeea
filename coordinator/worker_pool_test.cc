#include "coordinator/worker_pool.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

TEST(WorkerPoolTest, RunsEveryQueuedTaskAndRefusesBeyondTheQueue) {
  std::atomic<int> ran{0};
  absl::Notification release;
  absl::Notification running;
  {
    WorkerPool pool(/*threads=*/1, /*max_queued=*/2);
    // The one thread is held; two tasks wait; the third finds the queue full.
    ASSERT_TRUE(pool.TrySchedule([&] {
      running.Notify();
      release.WaitForNotificationWithTimeout(absl::Seconds(30));
      ran.fetch_add(1);
    }));
    ASSERT_TRUE(running.WaitForNotificationWithTimeout(absl::Seconds(30)));
    EXPECT_TRUE(pool.TrySchedule([&] { ran.fetch_add(1); }));
    EXPECT_TRUE(pool.TrySchedule([&] { ran.fetch_add(1); }));
    EXPECT_FALSE(pool.TrySchedule([&] { ran.fetch_add(100); }));
    EXPECT_EQ(pool.Queued(), 2u);
    EXPECT_EQ(pool.PeakQueued(), 2u);
    release.Notify();
  }  // The destructor runs what was queued, then joins.
  EXPECT_EQ(ran.load(), 3);
}

TEST(WorkerPoolTest, TasksRunOnSeveralThreadsAtOnce) {
  WorkerPool pool(/*threads=*/4, /*max_queued=*/8);
  std::atomic<int> inside{0};
  absl::Notification all_inside;
  absl::Notification release;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(pool.TrySchedule([&] {
      if (inside.fetch_add(1) + 1 == 4) all_inside.Notify();
      release.WaitForNotificationWithTimeout(absl::Seconds(30));
    }));
  }
  EXPECT_TRUE(all_inside.WaitForNotificationWithTimeout(absl::Seconds(30)));
  release.Notify();
}

}  // namespace
}  // namespace mecai
