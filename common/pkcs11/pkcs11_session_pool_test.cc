// The session pool (common/pkcs11/pkcs11_session_pool.h) on its own: lending, waiting while every
// session is out, and the in-use counts. The pooled sessions are empty slots here; signing through
// real sessions is tested with the key in pkcs11_test.cc.
#include "common/pkcs11/pkcs11_session_pool.h"

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

// `size` slots, told apart by their private_key handles 1..size.
std::vector<Pkcs11PooledSession> Slots(size_t size) {
  std::vector<Pkcs11PooledSession> slots(size);
  for (size_t i = 0; i < size; ++i) slots[i].private_key = i + 1;
  return slots;
}

TEST(Pkcs11SessionPoolTest, LendsEverySessionInTurnAndCountsThem) {
  Pkcs11SessionPool pool(Slots(3));
  EXPECT_EQ(pool.size(), 3u);
  std::vector<CK_OBJECT_HANDLE> taken;
  for (int i = 0; i < 6; ++i) {
    Pkcs11SessionPool::Lease lease = pool.Acquire();
    EXPECT_EQ(pool.InUse(), 1u);
    taken.push_back(lease->private_key);
  }
  // Longest idle first: the sessions are taken in turn.
  EXPECT_EQ(taken, (std::vector<CK_OBJECT_HANDLE>{1, 2, 3, 1, 2, 3}));
  EXPECT_EQ(pool.InUse(), 0u);
  EXPECT_EQ(pool.InUseHighWater(), 1u);
}

TEST(Pkcs11SessionPoolTest, LeasesAreDistinctAndABorrowerWaitsForAReturn) {
  Pkcs11SessionPool pool(Slots(2));
  auto first = std::make_unique<Pkcs11SessionPool::Lease>(pool.Acquire());
  {
    Pkcs11SessionPool::Lease second = pool.Acquire();
    EXPECT_NE((*first)->private_key, second->private_key);
    EXPECT_EQ(pool.InUse(), 2u);
  }
  auto again = std::make_unique<Pkcs11SessionPool::Lease>(pool.Acquire());
  EXPECT_EQ(pool.InUseHighWater(), 2u);

  // Both sessions are out: a third borrower waits until one returns.
  std::atomic<bool> acquired{false};
  std::thread waiter([&] {
    Pkcs11SessionPool::Lease lease = pool.Acquire();
    acquired = true;
  });
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(acquired);
  first.reset();
  waiter.join();
  EXPECT_TRUE(acquired);
  again.reset();
  EXPECT_EQ(pool.InUse(), 0u);
  EXPECT_EQ(pool.InUseHighWater(), 2u);
}

TEST(Pkcs11SessionPoolTest, ABorrowerMayReplaceItsSession) {
  Pkcs11SessionPool pool(Slots(1));
  {
    Pkcs11SessionPool::Lease lease = pool.Acquire();
    lease->private_key = 42;  // As after reopening a lost session.
  }
  EXPECT_EQ(pool.Acquire()->private_key, 42u);
}

TEST(Pkcs11SessionPoolTest, ManyThreadsNeverHoldMoreThanThePool) {
  Pkcs11SessionPool pool(Slots(4));
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&pool] {
      for (int i = 0; i < 200; ++i) {
        Pkcs11SessionPool::Lease lease = pool.Acquire();
        EXPECT_LE(pool.InUse(), 4u);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(pool.InUse(), 0u);
  EXPECT_LE(pool.InUseHighWater(), 4u);
}

}  // namespace
}  // namespace mecai
