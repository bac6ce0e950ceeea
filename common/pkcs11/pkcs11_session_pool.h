// A fixed pool of logged-in PKCS#11 sessions, each lent to one signer at a time.
#ifndef MECAI_COMMON_PKCS11_PKCS11_SESSION_POOL_H_
#define MECAI_COMMON_PKCS11_PKCS11_SESSION_POOL_H_

#include <cstddef>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/pkcs11/pkcs11_module.h"

namespace mecai {

// Sessions kept by Pkcs11SigningKey when Pkcs11Config.session_pool_size is 0, and the most allowed.
inline constexpr size_t kDefaultSessionPoolSize = 4;
inline constexpr size_t kMaximumSessionPoolSize = 64;

// One session of a Pkcs11SessionPool and the handle of the pool's private key in it. A null
// session is one whose reopening failed; the next borrower that takes it tries again.
struct Pkcs11PooledSession {
  std::unique_ptr<Pkcs11Session> session;
  CK_OBJECT_HANDLE private_key = CK_INVALID_HANDLE;
};

// Lends its sessions one borrower at a time, so that several signatures run in the token at once
// (PKCS#11 v2.40 §5.11: one signing operation at a time per session). Acquire() takes a free
// session, waiting on a condition variable while all are busy; the Lease returns it when destroyed.
// Sessions are taken from the front and returned to the back, longest idle first, so that use
// spreads over every session and a lost one is found (and reopened by its borrower) soon.
//
// Thread-safe. No Lease may outlive the pool; destroying the pool closes its sessions.
class Pkcs11SessionPool {
 public:
  // Returns its session to the pool on destruction. Move-only. Not thread-safe: one borrower uses
  // it.
  class Lease {
   public:
    Lease(Lease&& other) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pooled_ != nullptr) pool_->Release(std::move(pooled_));
    }
    // The borrower may replace the session (after it was lost) and the key handle.
    Pkcs11PooledSession& operator*() const { return *pooled_; }
    Pkcs11PooledSession* operator->() const { return pooled_.get(); }

   private:
    friend class Pkcs11SessionPool;
    Lease(Pkcs11SessionPool* pool, std::unique_ptr<Pkcs11PooledSession> pooled)
        : pool_(pool), pooled_(std::move(pooled)) {}

    Pkcs11SessionPool* pool_;
    std::unique_ptr<Pkcs11PooledSession> pooled_;
  };

  // A pool of `sessions` (at least one).
  explicit Pkcs11SessionPool(std::vector<Pkcs11PooledSession> sessions);
  Pkcs11SessionPool(const Pkcs11SessionPool&) = delete;
  Pkcs11SessionPool& operator=(const Pkcs11SessionPool&) = delete;

  // A free session, waiting until one is.
  Lease Acquire() ABSL_LOCKS_EXCLUDED(mutex_);

  // The number of sessions in the pool.
  size_t size() const { return size_; }
  // Sessions lent right now, and the most that ever were at once (for tests and metrics).
  size_t InUse() const ABSL_LOCKS_EXCLUDED(mutex_);
  size_t InUseHighWater() const ABSL_LOCKS_EXCLUDED(mutex_);

 private:
  void Release(std::unique_ptr<Pkcs11PooledSession> pooled) ABSL_LOCKS_EXCLUDED(mutex_);

  const size_t size_;
  mutable absl::Mutex mutex_;
  // Signalled whenever a session returns to free_.
  absl::CondVar returned_;
  std::deque<std::unique_ptr<Pkcs11PooledSession>> free_ ABSL_GUARDED_BY(mutex_);
  size_t in_use_ ABSL_GUARDED_BY(mutex_) = 0;
  size_t in_use_high_water_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace mecai

#endif  // MECAI_COMMON_PKCS11_PKCS11_SESSION_POOL_H_
