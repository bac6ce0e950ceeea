// The public endpoint's admission limits (docs/PROTOCOL.md "The public endpoint"): VRs decided at
// once, waiting, and per client address are bounded; a VR over a limit is refused at once, naming
// the limit; a waiting VR gets the next free slot in arrival order or is refused after the queue
// timeout.
#include "coordinator/admission.h"

#include <atomic>
#include <memory>
#include <optional>
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

// AdmitAsync: the answer of one caller, delivered once.
struct AsyncAnswer {
  absl::Notification answered;
  std::optional<AdmissionControl::Ticket> ticket;
  std::optional<AdmissionRefusal> refusal;
  absl::Duration waited;
  AdmissionControl::AdmitDone Callback() {
    return [this](AdmissionControl::Admission result) {
      if (result.ticket.has_value()) ticket.emplace(std::move(*result.ticket));
      refusal = result.refusal;
      waited = result.waited;
      answered.Notify();
    };
  }
};

// Without a waiting thread: a free slot is given at once, a full one queues the VR until a slot is
// released (handed over in arrival order, blocking and callback callers alike), and a full queue
// refuses at once.
TEST(AdmissionControlTest, AsyncCallersAreAdmittedQueuedAndHandedSlotsInArrivalOrder) {
  AdmissionControl control(Limits(1, 2, absl::Seconds(30), 4));
  AsyncAnswer first, second, third, fourth;
  control.AdmitAsync("192.0.2.1", first.Callback());
  ASSERT_TRUE(first.answered.HasBeenNotified());
  ASSERT_TRUE(first.ticket.has_value());
  control.AdmitAsync("192.0.2.2", second.Callback());
  control.AdmitAsync("192.0.2.3", third.Callback());
  EXPECT_FALSE(second.answered.HasBeenNotified());
  EXPECT_EQ(control.Queued(), 2u);
  control.AdmitAsync("192.0.2.4", fourth.Callback());
  ASSERT_TRUE(fourth.answered.HasBeenNotified());
  EXPECT_EQ(fourth.refusal, AdmissionRefusal::kOverGlobalLimit);
  first.ticket.reset();  // Its slot goes to the longest waiter.
  ASSERT_TRUE(second.answered.HasBeenNotified());
  EXPECT_TRUE(second.ticket.has_value());
  EXPECT_FALSE(third.answered.HasBeenNotified());
  EXPECT_EQ(control.InFlight(), 1u);
  second.ticket.reset();
  ASSERT_TRUE(third.answered.HasBeenNotified());
  third.ticket.reset();
  EXPECT_EQ(control.InFlight(), 0u);
  EXPECT_EQ(control.Queued(), 0u);
}

// A callback caller that waits past queue_timeout is refused by the timer thread, leaves the queue
// and its address's share, and nobody else is disturbed.
TEST(AdmissionControlTest, AnAsyncCallerThatWaitsTooLongIsRefusedAndLeavesTheQueue) {
  AdmissionControl control(Limits(1, 4, absl::Milliseconds(200), 1));
  AsyncAnswer held, waiting;
  control.AdmitAsync("192.0.2.1", held.Callback());
  ASSERT_TRUE(held.ticket.has_value());
  const absl::Time start = absl::Now();
  control.AdmitAsync("192.0.2.2", waiting.Callback());
  ASSERT_TRUE(waiting.answered.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(waiting.refusal, AdmissionRefusal::kQueueTimeout);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
  EXPECT_GE(waiting.waited, absl::Milliseconds(200));
  EXPECT_EQ(control.Queued(), 0u);
  // 192.0.2.2 holds nothing any more: it is admitted once the slot is free.
  held.ticket.reset();
  AsyncAnswer again;
  control.AdmitAsync("192.0.2.2", again.Callback());
  ASSERT_TRUE(again.answered.HasBeenNotified());
  EXPECT_TRUE(again.ticket.has_value());
}

// A blocking caller and a callback caller share one queue, first come first served.
TEST(AdmissionControlTest, BlockingAndAsyncCallersShareOneQueueInArrivalOrder) {
  AdmissionControl control(Limits(1, 4, absl::Seconds(30), 4));
  AsyncAnswer held, async_waiter;
  control.AdmitAsync("192.0.2.1", held.Callback());
  ASSERT_TRUE(held.ticket.has_value());
  std::optional<AdmissionControl::Ticket> blocking_ticket;
  std::thread blocking([&] {
    AdmissionControl::Admission admission = control.Admit("192.0.2.2");
    if (admission.ticket.has_value()) blocking_ticket.emplace(std::move(*admission.ticket));
  });
  ASSERT_TRUE(AwaitQueued(control, 1));
  control.AdmitAsync("192.0.2.3", async_waiter.Callback());
  EXPECT_EQ(control.Queued(), 2u);
  held.ticket.reset();  // To the blocking caller, who came first.
  blocking.join();
  ASSERT_TRUE(blocking_ticket.has_value());
  EXPECT_FALSE(async_waiter.answered.HasBeenNotified());
  blocking_ticket.reset();
  ASSERT_TRUE(async_waiter.answered.HasBeenNotified());
  EXPECT_TRUE(async_waiter.ticket.has_value());
  async_waiter.ticket.reset();
  EXPECT_EQ(control.InFlight(), 0u);
}

}  // namespace
}  // namespace mecai
