// The public endpoint's admission limits (docs/PROTOCOL.md "The public endpoint"): VRs decided at
// once, waiting, and per client address are bounded; a VR over a limit is refused at once, naming
// the limit; a waiting VR gets the next free slot in arrival order or is refused after the queue
// timeout.
#include "coordinator/admission.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

AdmissionLimits Limits(uint32_t in_flight, uint32_t queued, absl::Duration timeout,
                       uint32_t per_address) {
  AdmissionLimits limits;
  limits.max_in_flight = in_flight;
  limits.max_queued = queued;
  limits.queue_timeout = timeout;
  limits.max_per_address = per_address;
  return limits;
}

// Waits (bounded) until `control` has `queued` VRs waiting.
bool AwaitQueued(const AdmissionControl& control, size_t queued) {
  for (int i = 0; i < 1000; ++i) {
    if (control.Queued() == queued) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

TEST(AdmissionControlTest, AdmitsUpToTheLimitAndGivesSlotsBack) {
  AdmissionControl control(Limits(2, 0, absl::Seconds(60), 2));
  auto first = control.Admit("192.0.2.1");
  auto second = control.Admit("192.0.2.2");
  ASSERT_TRUE(first.ticket.has_value());
  ASSERT_TRUE(second.ticket.has_value());
  EXPECT_EQ(control.InFlight(), 2u);
  // No queue: the third is refused at once (a wait would take the 60 s queue timeout).
  const absl::Time before = absl::Now();
  auto third = control.Admit("192.0.2.3");
  EXPECT_FALSE(third.ticket.has_value());
  ASSERT_TRUE(third.refusal.has_value());
  EXPECT_EQ(*third.refusal, AdmissionRefusal::kOverGlobalLimit);
  EXPECT_LT(absl::Now() - before, absl::Seconds(30));
  first.ticket.reset();
  EXPECT_EQ(control.InFlight(), 1u);
  EXPECT_TRUE(control.Admit("192.0.2.3").ticket.has_value());
}

TEST(AdmissionControlTest, OneAddressCannotHoldMoreThanItsShare) {
  AdmissionControl control(Limits(8, 8, absl::Seconds(60), 2));
  auto first = control.Admit("192.0.2.1");
  auto second = control.Admit("192.0.2.1");
  ASSERT_TRUE(first.ticket.has_value());
  ASSERT_TRUE(second.ticket.has_value());
  auto third = control.Admit("192.0.2.1");
  ASSERT_TRUE(third.refusal.has_value());
  EXPECT_EQ(*third.refusal, AdmissionRefusal::kOverAddressLimit);
  // Other addresses are not affected; the address gets its share back as its VRs end.
  EXPECT_TRUE(control.Admit("192.0.2.2").ticket.has_value());
  second.ticket.reset();
  EXPECT_TRUE(control.Admit("192.0.2.1").ticket.has_value());
}

TEST(AdmissionControlTest, AWaitingVrGetsTheNextFreeSlotInArrivalOrder) {
  AdmissionControl control(Limits(1, 2, absl::Seconds(60), 4));
  auto holder = control.Admit("192.0.2.1");
  ASSERT_TRUE(holder.ticket.has_value());
  std::vector<std::string> order;
  absl::Mutex order_mutex;
  std::vector<std::thread> waiters;
  for (const std::string address : {"192.0.2.2", "192.0.2.3"}) {
    waiters.emplace_back([&, address] {
      auto admitted = control.Admit(address);
      ASSERT_TRUE(admitted.ticket.has_value());
      {
        absl::MutexLock lock(&order_mutex);
        order.push_back(address);
      }
      // Holds its slot a moment, then hands it on.
      absl::SleepFor(absl::Milliseconds(20));
    });
    ASSERT_TRUE(AwaitQueued(control, waiters.size()));
  }
  // The queue (2) is full: a newcomer is refused at once.
  auto newcomer = control.Admit("192.0.2.4");
  ASSERT_TRUE(newcomer.refusal.has_value());
  EXPECT_EQ(*newcomer.refusal, AdmissionRefusal::kOverGlobalLimit);
  holder.ticket.reset();
  for (std::thread& waiter : waiters) waiter.join();
  EXPECT_EQ(order, (std::vector<std::string>{"192.0.2.2", "192.0.2.3"}));
  EXPECT_EQ(control.InFlight(), 0u);
  EXPECT_EQ(control.Queued(), 0u);
}

TEST(AdmissionControlTest, AVrThatWaitsTooLongIsRefusedAndLeavesTheQueue) {
  AdmissionControl control(Limits(1, 4, absl::Milliseconds(200), 4));
  auto holder = control.Admit("192.0.2.1");
  ASSERT_TRUE(holder.ticket.has_value());
  auto late = control.Admit("192.0.2.2");
  ASSERT_TRUE(late.refusal.has_value());
  EXPECT_EQ(*late.refusal, AdmissionRefusal::kQueueTimeout);
  EXPECT_GE(late.waited, absl::Milliseconds(200));
  EXPECT_EQ(control.Queued(), 0u);
  // Its address counts nothing any more, and the slot still goes back to the pool.
  holder.ticket.reset();
  EXPECT_EQ(control.InFlight(), 0u);
  EXPECT_TRUE(control.Admit("192.0.2.2").ticket.has_value());
}

// Waiting VRs count towards their address's share: one address cannot fill the queue.
TEST(AdmissionControlTest, WaitingVrsCountTowardsTheAddressShare) {
  AdmissionControl control(Limits(1, 8, absl::Seconds(60), 2));
  auto holder = control.Admit("192.0.2.9");
  ASSERT_TRUE(holder.ticket.has_value());
  std::atomic<int> admitted{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 2; ++i) {
    waiters.emplace_back([&] {
      if (control.Admit("192.0.2.1").ticket.has_value()) ++admitted;
    });
    ASSERT_TRUE(AwaitQueued(control, waiters.size()));
  }
  auto third = control.Admit("192.0.2.1");
  ASSERT_TRUE(third.refusal.has_value());
  EXPECT_EQ(*third.refusal, AdmissionRefusal::kOverAddressLimit);
  holder.ticket.reset();
  for (std::thread& waiter : waiters) waiter.join();
  EXPECT_EQ(admitted.load(), 2);
}

}  // namespace
}  // namespace mecai
