#include "coordinator/call_limit.h"

#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::ElementsAre;

// Calls beyond the limit wait, and start in order of arrival as calls end.
TEST(CallLimitTest, CallsBeyondTheLimitWaitAndStartInOrderAsCallsEnd) {
  CallLimit limit(2);
  std::vector<int> started;
  std::vector<std::function<void()>> ends;
  for (int i = 0; i < 5; ++i) {
    limit.Run([i, &started, &ends](std::function<void()> end) {
      started.push_back(i);
      ends.push_back(std::move(end));
    });
  }
  EXPECT_THAT(started, ElementsAre(0, 1));
  EXPECT_EQ(limit.InFlight(), 2u);
  EXPECT_EQ(limit.Waiting(), 3u);
  ends[1]();
  EXPECT_THAT(started, ElementsAre(0, 1, 2));
  ends[0]();
  EXPECT_THAT(started, ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(limit.InFlight(), 2u);
  ends[2]();
  ends[3]();
  EXPECT_THAT(started, ElementsAre(0, 1, 2, 3, 4));
  EXPECT_EQ(limit.Waiting(), 0u);
  ends[4]();
  EXPECT_EQ(limit.InFlight(), 0u);
}

// A call that ends inside itself (a call failing at once) frees its place for the next.
TEST(CallLimitTest, ACallEndingAtOnceFreesItsPlace) {
  CallLimit limit(1);
  int started = 0;
  for (int i = 0; i < 100; ++i) {
    limit.Run([&started](std::function<void()> end) {
      ++started;
      end();
    });
  }
  EXPECT_EQ(started, 100);
  EXPECT_EQ(limit.InFlight(), 0u);
}

// Calls started and ended on many threads: never more than the limit at once, and all run.
TEST(CallLimitTest, ManyThreadsNeverExceedTheLimit) {
  constexpr int kThreads = 8;
  constexpr int kCallsPerThread = 200;
  CallLimit limit(3);
  absl::Mutex mutex;
  int running = 0;
  int most = 0;
  int done = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        limit.Run([&](std::function<void()> end) {
          {
            absl::MutexLock lock(&mutex);
            ++running;
            most = std::max(most, running);
          }
          // Ended from another thread, as a gRPC callback ends a call.
          std::thread([&mutex, &running, &done, end = std::move(end)] {
            {
              absl::MutexLock lock(&mutex);
              --running;
              ++done;
            }
            end();
          }).join();
        });
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  absl::MutexLock lock(&mutex);
  EXPECT_EQ(done, kThreads * kCallsPerThread);
  EXPECT_LE(most, 3);
  EXPECT_EQ(limit.InFlight(), 0u);
}

}  // namespace
}  // namespace mecai
