#include "common/net/handshake_rate_limiter.h"

#include <algorithm>

namespace mecai {

HandshakeRateLimiter::HandshakeRateLimiter(const HandshakeRateLimit& limit)
    : per_second_(std::max(0.0, limit.per_second)),
      burst_(static_cast<double>(std::max(1u, limit.burst))),
      max_tracked_(std::max<size_t>(1, limit.max_tracked_addresses)) {}

void HandshakeRateLimiter::Refill(Bucket& bucket, absl::Time now) const {
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - bucket.updated));
  bucket.tokens = std::min(burst_, bucket.tokens + elapsed * per_second_);
  bucket.updated = std::max(bucket.updated, now);
}

bool HandshakeRateLimiter::Admit(const std::string& key, absl::Time now) {
  if (per_second_ <= 0) return true;
  // Buckets full again are forgotten, the least recently used first (a full bucket admits as a
  // new one would).
  while (!buckets_.empty()) {
    Bucket& oldest = buckets_.back();
    Refill(oldest, now);
    if (oldest.tokens < burst_) break;
    by_key_.erase(oldest.key);
    buckets_.pop_back();
  }
  auto found = by_key_.find(key);
  if (found != by_key_.end()) {
    // Refused or not, the client was seen now: a client kept busy being refused stays tracked.
    buckets_.splice(buckets_.begin(), buckets_, found->second);
    Bucket& bucket = buckets_.front();
    Refill(bucket, now);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
  while (buckets_.size() >= max_tracked_) {
    by_key_.erase(buckets_.back().key);
    buckets_.pop_back();
  }
  buckets_.push_front(Bucket{key, burst_ - 1, now});
  by_key_.emplace(key, buckets_.begin());
  return true;
}

}  // namespace mecai
