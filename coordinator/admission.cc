#include "coordinator/admission.h"

#include <algorithm>
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

void AdmissionControl::Release(const std::string& client_address) {
  absl::MutexLock lock(&mutex_);
  ForgetOneLocked(client_address);
  if (queue_.empty()) {
    --in_flight_;
    return;
  }
  Waiter* next = queue_.front();
  queue_.pop_front();
  next->admitted = true;
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
