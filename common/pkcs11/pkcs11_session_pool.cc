#include "common/pkcs11/pkcs11_session_pool.h"

#include <algorithm>
#include <utility>

namespace mecai {

Pkcs11SessionPool::Pkcs11SessionPool(std::vector<Pkcs11PooledSession> sessions)
    : size_(sessions.size()) {
  absl::MutexLock lock(&mutex_);
  for (Pkcs11PooledSession& session : sessions) {
    free_.push_back(std::make_unique<Pkcs11PooledSession>(std::move(session)));
  }
}

Pkcs11SessionPool::Lease Pkcs11SessionPool::Acquire() {
  absl::MutexLock lock(&mutex_);
  while (free_.empty()) returned_.Wait(&mutex_);
  std::unique_ptr<Pkcs11PooledSession> pooled = std::move(free_.front());
  free_.pop_front();
  ++in_use_;
  in_use_high_water_ = std::max(in_use_high_water_, in_use_);
  return Lease(this, std::move(pooled));
}

void Pkcs11SessionPool::Release(std::unique_ptr<Pkcs11PooledSession> pooled) {
  absl::MutexLock lock(&mutex_);
  free_.push_back(std::move(pooled));
  --in_use_;
  returned_.Signal();
}

size_t Pkcs11SessionPool::InUse() const {
  absl::MutexLock lock(&mutex_);
  return in_use_;
}

size_t Pkcs11SessionPool::InUseHighWater() const {
  absl::MutexLock lock(&mutex_);
  return in_use_high_water_;
}

}  // namespace mecai
