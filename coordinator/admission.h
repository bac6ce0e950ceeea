// Admission of VRs on the public endpoint (docs/PROTOCOL.md "The public endpoint", trust rule 8):
// at most `max_in_flight` VRs are decided at once; beyond that a VR waits, first come first
// served, in a queue of at most `max_queued` for at most `queue_timeout`; one client address has
// at most `max_per_address` VRs decided or waiting. A VR over a limit is refused at once, saying
// which limit; none waits longer than the queue timeout.
#ifndef MECAI_COORDINATOR_ADMISSION_H_
#define MECAI_COORDINATOR_ADMISSION_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mecai {

struct AdmissionLimits {
  uint32_t max_in_flight = 16;
  uint32_t max_queued = 64;
  absl::Duration queue_timeout = absl::Seconds(5);
  uint32_t max_per_address = 4;
};

// Why a VR was not admitted.
enum class AdmissionRefusal {
  // Its client address already had max_per_address VRs decided or waiting.
  kOverAddressLimit,
  // max_in_flight VRs were being decided and the queue was full.
  kOverGlobalLimit,
  // It waited queue_timeout in the queue without a slot coming free.
  kQueueTimeout,
};

// Thread-safe.
class AdmissionControl {
 public:
  // A slot to decide one VR in; given back when destroyed. Must not outlive its AdmissionControl.
  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept;
    Ticket& operator=(Ticket&&) = delete;
    Ticket(const Ticket&) = delete;
    ~Ticket();

   private:
    friend class AdmissionControl;
    Ticket(AdmissionControl* control, std::string address)
        : control_(control), address_(std::move(address)) {}
    AdmissionControl* control_;
    std::string address_;
  };

  // A ticket, or the refusal; `waited` is the time spent in the queue.
  struct Admission {
    std::optional<Ticket> ticket;
    std::optional<AdmissionRefusal> refusal;
    absl::Duration waited;
  };

  explicit AdmissionControl(AdmissionLimits limits) : limits_(limits) {}
  // Refuses (kQueueTimeout) every AdmitAsync caller still waiting. REQUIRES: no Admit is waiting.
  ~AdmissionControl();
  AdmissionControl(const AdmissionControl&) = delete;
  AdmissionControl& operator=(const AdmissionControl&) = delete;

  // Admits a VR from `client_address` (its numeric IP address), waiting in the queue when every
  // slot is taken, at most queue_timeout.
  Admission Admit(const std::string& client_address) ABSL_LOCKS_EXCLUDED(mutex_);

  // Admit without a thread that waits: `then` is called exactly once, at once when the VR is
  // admitted or refused without waiting, else from the thread that releases the slot it gets, or
  // from this object's one timer thread when queue_timeout passes first. Both kinds of caller share
  // one queue, first come first served.
  using AdmitDone = std::function<void(Admission)>;
  void AdmitAsync(const std::string& client_address, AdmitDone then) ABSL_LOCKS_EXCLUDED(mutex_);

  const AdmissionLimits& limits() const { return limits_; }
  // VRs being decided, and waiting, now.
  size_t InFlight() const ABSL_LOCKS_EXCLUDED(mutex_);
  size_t Queued() const ABSL_LOCKS_EXCLUDED(mutex_);

 private:
  // One VR in the queue; `admitted` is set, under the mutex, when a slot is handed to it. An
  // AdmitAsync waiter has `then`, its address and its deadline, and is owned by the queue.
  struct Waiter {
    bool admitted = false;
    AdmitDone then;
    std::string client_address;
    absl::Time arrived;
  };
  // Refuses the AdmitAsync waiters whose queue_timeout has passed, until the object is destroyed.
  void ExpireWaiters() ABSL_LOCKS_EXCLUDED(mutex_);

  // Gives a slot back: to the longest waiter, else to the pool.
  void Release(const std::string& client_address) ABSL_LOCKS_EXCLUDED(mutex_);
  void ForgetOneLocked(const std::string& client_address) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const AdmissionLimits limits_;
  mutable absl::Mutex mutex_;
  size_t in_flight_ ABSL_GUARDED_BY(mutex_) = 0;
  std::deque<Waiter*> queue_ ABSL_GUARDED_BY(mutex_);
  // VRs decided or waiting, per client address; addresses with none are not kept.
  std::map<std::string, uint32_t> per_address_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  uint64_t async_waiters_added_ ABSL_GUARDED_BY(mutex_) = 0;
  // Started by the first AdmitAsync that waits.
  std::thread expiry_thread_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_ADMISSION_H_
