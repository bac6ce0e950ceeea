#include "probe_agent/worker_pool.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace probe_agent {
namespace {

TEST(WorkerPoolTest, RunsEveryJobAndRefusesBeyondTheQueueBound) {
  std::atomic<int> ran{0};
  absl::Notification release;
  {
    WorkerPool pool("the test queue", /*threads=*/2, /*max_queued=*/3);
    // Two jobs occupy both threads until released.
    absl::Notification started_a, started_b;
    ASSERT_TRUE(pool.Submit([&] {
                      started_a.Notify();
                      release.WaitForNotification();
                      ++ran;
                    })
                    .ok());
    ASSERT_TRUE(pool.Submit([&] {
                      started_b.Notify();
                      release.WaitForNotification();
                      ++ran;
                    })
                    .ok());
    started_a.WaitForNotification();
    started_b.WaitForNotification();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(pool.Submit([&] { ++ran; }).ok());
    EXPECT_EQ(pool.queued(), 3u);
    absl::Status refused = pool.Submit([&] { ran += 100; });
    EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(refused.message(), "the test queue: 3 jobs already wait for 2 threads");
    release.Notify();
  }  // The destructor runs what is queued, then joins.
  EXPECT_EQ(ran.load(), 5);
}

}  // namespace
}  // namespace probe_agent
}  // namespace mecai
