#include "common/base/single_flight.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

TEST(SingleFlightTest, CallersOfOneKeyShareOneWork) {
  SingleFlight<std::string> flight;
  std::vector<SingleFlight<std::string>::Done> started;
  std::vector<std::string> answers;
  for (int i = 0; i < 3; ++i) {
    flight.Run(
        "crl-a", [&](std::string result) { answers.push_back(result); },
        [&](SingleFlight<std::string>::Done finished) { started.push_back(std::move(finished)); });
  }
  flight.Run(
      "crl-b", [&](std::string result) { answers.push_back(result); },
      [&](SingleFlight<std::string>::Done finished) { started.push_back(std::move(finished)); });
  ASSERT_EQ(started.size(), 2u);
  EXPECT_EQ(flight.InFlight(), 2u);
  started[0]("bytes of a");
  EXPECT_THAT(answers, ::testing::ElementsAre("bytes of a", "bytes of a", "bytes of a"));
  started[1]("bytes of b");
  EXPECT_EQ(answers.back(), "bytes of b");
  EXPECT_EQ(flight.InFlight(), 0u);
}

TEST(SingleFlightTest, AKeyAskedAfterItsWorkEndedStartsAnother) {
  SingleFlight<int> flight;
  int works = 0;
  int answers = 0;
  for (int i = 0; i < 2; ++i) {
    flight.Run(
        "k", [&](int result) { answers += result; },
        [&](SingleFlight<int>::Done finished) {
          ++works;
          finished(1);  // At once, on this thread.
        });
  }
  EXPECT_EQ(works, 2);
  EXPECT_EQ(answers, 2);
  EXPECT_EQ(flight.InFlight(), 0u);
}

TEST(SingleFlightTest, ConcurrentCallersEachGetExactlyOneAnswer) {
  SingleFlight<int> flight;
  std::atomic<int> answers{0};
  std::atomic<int> works{0};
  absl::Mutex finishers_mutex;
  std::vector<std::thread> finishers;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        flight.Run(
            std::to_string(i % 5), [&](int) { ++answers; },
            [&](SingleFlight<int>::Done finished) {
              ++works;
              absl::MutexLock lock(&finishers_mutex);
              finishers.emplace_back([finished] { finished(7); });
            });
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (std::thread& thread : finishers) thread.join();
  EXPECT_EQ(answers.load(), 1600);
  EXPECT_EQ(flight.InFlight(), 0u);
}

TEST(SingleFlightTest, AWorkFinishedTwiceAnswersOnce) {
  SingleFlight<int> flight;
  int answers = 0;
  SingleFlight<int>::Done finish;
  flight.Run(
      "k", [&](int) { ++answers; },
      [&](SingleFlight<int>::Done finished) { finish = std::move(finished); });
  finish(1);
  finish(2);
  EXPECT_EQ(answers, 1);
  EXPECT_EQ(flight.InFlight(), 0u);
}

}  // namespace
}  // namespace mecai
