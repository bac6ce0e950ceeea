#include "coordinator/admission.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/time/clock.h"

namespace mecai {

AdmissionControl::Ticket::Ticket(Ticket&& other) noexcept
    : control_(other.control_), address_(std::move(other.address_)) {
  other.control_ = nullptr;
}

AdmissionControl::Ticket::~Ticket() {
  if (control_ != nullptr) control_->Release(address_);
}

AdmissionControl::Admission AdmissionControl::Admit(const std::string& client_address) {
  Admission admission;
  const absl::Time arrived = absl::Now();
  absl::MutexLock lock(&mutex_);
  uint32_t& mine = per_address_[client_address];
  if (mine >= limits_.max_per_address) {
    if (mine == 0) per_address_.erase(client_address);
    admission.refusal = AdmissionRefusal::kOverAddressLimit;
    return admission;
  }
  // A free slot goes to whoever waits longest: a newcomer takes one only when nobody waits.
  if (in_flight_ < limits_.max_in_flight && queue_.empty()) {
    ++in_flight_;
    ++mine;
    admission.ticket.emplace(Ticket(this, client_address));
    return admission;
  }
  if (queue_.size() >= limits_.max_queued) {
    if (mine == 0) per_address_.erase(client_address);
    admission.refusal = AdmissionRefusal::kOverGlobalLimit;
    return admission;
  }
  Waiter waiter;
  queue_.push_back(&waiter);
  ++mine;
  mutex_.AwaitWithDeadline(absl::Condition(&waiter.admitted), arrived + limits_.queue_timeout);
  admission.waited = absl::Now() - arrived;
  if (!waiter.admitted) {
    queue_.erase(std::find(queue_.begin(), queue_.end(), &waiter));
    ForgetOneLocked(client_address);
    admission.refusal = AdmissionRefusal::kQueueTimeout;
    return admission;
  }
  // Release handed over its slot: in_flight_ already counts this VR.
  admission.ticket.emplace(Ticket(this, client_address));
  return admission;
}

AdmissionControl::~AdmissionControl() {
  std::thread expiry;
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
    expiry = std::move(expiry_thread_);
  }
  if (expiry.joinable()) expiry.join();
}

void AdmissionControl::AdmitAsync(const std::string& client_address, AdmitDone then) {
  Admission admission;
  {
    absl::MutexLock lock(&mutex_);
    uint32_t& mine = per_address_[client_address];
    if (mine >= limits_.max_per_address) {
      if (mine == 0) per_address_.erase(client_address);
      admission.refusal = AdmissionRefusal::kOverAddressLimit;
    } else if (in_flight_ < limits_.max_in_flight && queue_.empty()) {
      ++in_flight_;
      ++mine;
      admission.ticket.emplace(Ticket(this, client_address));
    } else if (queue_.size() >= limits_.max_queued || stopping_) {
      if (mine == 0) per_address_.erase(client_address);
      admission.refusal = AdmissionRefusal::kOverGlobalLimit;
    } else {
      auto* waiter = new Waiter;
      waiter->then = std::move(then);
      waiter->client_address = client_address;
      waiter->arrived = absl::Now();
      queue_.push_back(waiter);
      ++async_waiters_added_;
      ++mine;
      if (!expiry_thread_.joinable()) expiry_thread_ = std::thread([this] { ExpireWaiters(); });
      return;
    }
  }
  then(std::move(admission));
}

void AdmissionControl::ExpireWaiters() {
  while (true) {
    std::vector<Waiter*> expired;
    {
      absl::MutexLock lock(&mutex_);
      // The earliest deadline of an AdmitAsync waiter; queue order is arrival order.
      absl::Time next = absl::InfiniteFuture();
      for (const Waiter* waiter : queue_) {
        if (waiter->then) {
          next = waiter->arrived + limits_.queue_timeout;
          break;
        }
      }
      // A waiter added since may have the earliest deadline (the first one); removals only
      // make it later.
      const uint64_t added = async_waiters_added_;
      auto changed = [this, added]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
        return stopping_ || async_waiters_added_ != added;
      };
      mutex_.AwaitWithDeadline(absl::Condition(&changed), next);
      const absl::Time now = absl::Now();
      for (auto it = queue_.begin(); it != queue_.end();) {
        Waiter* waiter = *it;
        if (waiter->then && (stopping_ || waiter->arrived + limits_.queue_timeout <= now)) {
          it = queue_.erase(it);
          ForgetOneLocked(waiter->client_address);
          expired.push_back(waiter);
        } else {
          ++it;
        }
      }
      if (stopping_ && expired.empty()) return;
    }
    for (Waiter* waiter : expired) {
      Admission admission;
      admission.refusal = AdmissionRefusal::kQueueTimeout;
      admission.waited = absl::Now() - waiter->arrived;
      std::unique_ptr<Waiter> owned(waiter);
      owned->then(std::move(admission));
    }
  }
}

void AdmissionControl::Release(const std::string& client_address) {
  Waiter* handed = nullptr;
  {
    absl::MutexLock lock(&mutex_);
    ForgetOneLocked(client_address);
    if (queue_.empty()) {
      --in_flight_;
      return;
    }
    Waiter* next = queue_.front();
    queue_.pop_front();
    next->admitted = true;
    if (!next->then) return;  // A blocking Admit wakes and takes its ticket.
    handed = next;
  }
  // An AdmitAsync waiter: in_flight_ already counts it.
  std::unique_ptr<Waiter> owned(handed);
  Admission admission;
  admission.waited = absl::Now() - owned->arrived;
  admission.ticket.emplace(Ticket(this, owned->client_address));
  owned->then(std::move(admission));
}

void AdmissionControl::ForgetOneLocked(const std::string& client_address) {
  auto it = per_address_.find(client_address);
  if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
}

size_t AdmissionControl::InFlight() const {
  absl::MutexLock lock(&mutex_);
  return in_flight_;
}

size_t AdmissionControl::Queued() const {
  absl::MutexLock lock(&mutex_);
  return queue_.size();
}

}  // namespace mecai
