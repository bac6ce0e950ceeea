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

// Many waiting calls that each end inside themselves start one after another without nesting:
// 200,000 of them would overflow the stack if each start ran inside the previous call's end.
TEST(CallLimitTest, WaitingCallsEndingAtOnceDoNotNest) {
  CallLimit limit(1);
  std::function<void()> first_end;
  limit.Run([&](std::function<void()> end) { first_end = std::move(end); });
  constexpr int kWaiting = 200000;
  int started = 0;
  for (int i = 0; i < kWaiting; ++i) {
    limit.Run([&started](std::function<void()> end) {
      ++started;
      end();
    });
  }
  EXPECT_EQ(limit.Waiting(), static_cast<size_t>(kWaiting));
  first_end();
  EXPECT_EQ(started, kWaiting);
  EXPECT_EQ(limit.InFlight(), 0u);
  EXPECT_EQ(limit.Waiting(), 0u);
}

// TryRun refuses a call once max_waiting wait, and takes one again when one has started.
TEST(CallLimitTest, TryRunRefusesBeyondTheWaitingBound) {
  CallLimit limit(1, 2);
  std::vector<std::function<void()>> ends;
  ends.reserve(8);  // A call started by an end adds itself while that end runs.
  auto hold = [&ends](std::function<void()> end) { ends.push_back(std::move(end)); };
  EXPECT_TRUE(limit.TryRun(hold));
  EXPECT_TRUE(limit.TryRun(hold));
  EXPECT_TRUE(limit.TryRun(hold));
  bool refused_started = false;
  EXPECT_FALSE(limit.TryRun([&](std::function<void()> end) {
    refused_started = true;
    end();
  }));
  EXPECT_FALSE(refused_started);
  EXPECT_EQ(limit.Waiting(), 2u);
  ends[0]();
  EXPECT_EQ(limit.Waiting(), 1u);
  EXPECT_TRUE(limit.TryRun(hold));
  EXPECT_EQ(limit.Waiting(), 2u);
  for (size_t i = 1; i < ends.size(); ++i) ends[i]();
  EXPECT_EQ(ends.size(), 4u);
  EXPECT_EQ(limit.InFlight(), 0u);
}

}  // namespace
}  // namespace mecai
