// How often each client may start a TLS handshake with the relay (common/net/tls_relay.h): a token
// bucket per client address key (common/net/client_address_key.h), filled at a steady rate up to
// a burst, one token per new connection. Each handshake costs the server a private-key operation
// (RFC 8446 §4.4.3), and a client that opens, handshakes and closes in a loop is otherwise bounded
// only by the connections it may hold open at once (docs/SECURITY.md, the handshake flood).
//
// Memory is bounded: a bucket that has filled up again is the same as none and is dropped (the
// least recently used are looked at first, on every new client), and beyond max_tracked_addresses
// buckets the least recently used one is dropped even so: its client starts again with a full
// bucket. So a flood from ever new addresses costs a bounded map, and loosens the limit only for
// clients seen less recently than that many others.
#ifndef MECAI_COMMON_NET_HANDSHAKE_RATE_LIMITER_H_
#define MECAI_COMMON_NET_HANDSHAKE_RATE_LIMITER_H_

#include <cstddef>
#include <list>
#include <string>
#include <unordered_map>

#include "absl/time/time.h"

namespace mecai {

struct HandshakeRateLimit {
  // New handshakes one client address may start per second, on average; 0: no limit (behind a
  // proxy every client has the proxy's address).
  double per_second = 0;
  // New handshakes one client address may start at once, after a rest (at least 1).
  unsigned burst = 20;
  // Client addresses remembered at most (about 200 bytes each).
  size_t max_tracked_addresses = 16384;
};

// Not thread-safe (the relay's event-loop thread owns it).
class HandshakeRateLimiter {
 public:
  explicit HandshakeRateLimiter(const HandshakeRateLimit& limit);

  // True, taking a token from `key`'s bucket, when the client may start a handshake at `now`;
  // false, taking none, when its bucket is empty. `now` is read from a monotonic clock (a time
  // earlier than the bucket's last one counts as no time passed).
  bool Admit(const std::string& key, absl::Time now);

  // Buckets held now (at most max_tracked_addresses).
  size_t TrackedAddresses() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::string key;
    double tokens = 0;
    absl::Time updated;
  };

  // `bucket`'s tokens at `now` (at most burst), and `now` its time.
  void Refill(Bucket& bucket, absl::Time now) const;

  const double per_second_;
  const double burst_;
  const size_t max_tracked_;
  // Most recently used first.
  std::list<Bucket> buckets_;
  std::unordered_map<std::string, std::list<Bucket>::iterator> by_key_;
};

}  // namespace mecai

#endif  // MECAI_COMMON_NET_HANDSHAKE_RATE_LIMITER_H_
