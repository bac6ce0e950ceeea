// Server-authenticated TLS in front of a plaintext stream server, with OpenSSL (RFC 8446, and RFC
// 5246 as the lowest version): accepts TCP connections on a listening socket, closes those over
// the connection limits and the handshake rate limit at once, completes each handshake within a
// deadline, and relays the plaintext in both directions over a socketpair whose other end it hands
// to the server (the bounded HTTP server gives it to libmicrohttpd, common/net/http_server.h). No
// client certificate is asked for: whoever connects is served, and authenticates, if at all, by
// what it sends (the public Vouch endpoint, docs/PROTOCOL.md "The public endpoint").
//
// One event-loop thread (epoll, non-blocking sockets) serves every connection: handshakes,
// relaying and closing never wait on a thread of their own, so the relay's threads do not grow
// with its connections. Each direction holds at most one buffer of plaintext: nothing more is read
// from a side until what was read from it was written to the other (back-pressure both ways).
#ifndef MECAI_COMMON_NET_TLS_RELAY_H_
#define MECAI_COMMON_NET_TLS_RELAY_H_

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>  // NOLINT(build/c++11): the event-loop thread.
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/crypto/openssl_types.h"
#include "common/net/handshake_rate_limiter.h"

namespace mecai {

struct TlsRelayOptions {
  // PEM: the server's certificate chain, leaf first, and its private key.
  std::string certificate_chain_file;
  std::string private_key_file;
  // Open connections at most, handshaking or relaying; a further one is closed at once.
  unsigned max_connections = 64;
  // Open connections from one client address at most; a further one from that address is closed
  // at once. 0: no per-address limit. Here and below a client address is an IPv4 address or an
  // IPv6 /64 (common/net/client_address_key.h).
  unsigned max_connections_per_address = 8;
  // New handshakes one client address may start, in a burst and then per second; a connection
  // beyond is closed at once, before any TLS work (its private-key operation above all).
  // Connections closed for the limits above take no token. Default: no rate limit.
  HandshakeRateLimit handshake_rate;
  // A client that has not completed its TLS handshake by then is disconnected. This and the
  // lifetime below are measured on a monotonic clock: a step of the wall clock changes neither.
  absl::Duration handshake_timeout = absl::Seconds(5);
  // No connection lives longer than this, whatever it does: the backstop behind the server's own
  // request and idle timeouts.
  absl::Duration max_connection_lifetime = absl::Minutes(2);
  // How often the two files are checked for changes (their inode, size or modification time);
  // once changed, the pair is loaded again and, when it loads and matches, presented in every new
  // handshake without a restart; open connections keep theirs. A pair that does not load is logged
  // and the last good one kept (a rotation replaces the key first, then the certificate, each with
  // a rename). Zero: read once, at start.
  absl::Duration reload_interval = absl::ZeroDuration();
};

// Why the relay closed a connection without handing it to the server.
enum class TlsRelayRefusal {
  // max_connections were open.
  kConnectionLimit,
  // max_connections_per_address were open from the client's address.
  kAddressConnectionLimit,
  // The client's address had started handshake_rate's handshakes already (its bucket was empty).
  kAddressHandshakeRate,
  // The TLS handshake failed or did not complete within handshake_timeout.
  kHandshakeFailed,
};

// Thread-safe (nothing but construction and destruction is public). Destruction stops accepting,
// ends every connection and joins the event-loop thread.
class TlsRelay {
 public:
  // Receives the plaintext end of one connection (a connected AF_UNIX stream socket, which it now
  // owns) and the client's address, once the handshake completed. Called on the event-loop thread;
  // must return promptly (every connection waits meanwhile).
  using Deliver =
      std::function<void(int plaintext_fd, const sockaddr_storage& client, socklen_t length)>;
  // Called for each connection closed for a TlsRelayRefusal, on the event-loop thread.
  using OnRefusal = std::function<void(TlsRelayRefusal)>;

  // Takes ownership of `listening_fd` (bound and listening). INVALID_ARGUMENT when the
  // certificate or key cannot be loaded or do not match, naming the file.
  static absl::StatusOr<std::unique_ptr<TlsRelay>> Start(int listening_fd,
                                                         const TlsRelayOptions& options,
                                                         Deliver deliver, OnRefusal on_refusal);
  ~TlsRelay();
  TlsRelay(const TlsRelay&) = delete;
  TlsRelay& operator=(const TlsRelay&) = delete;

 private:
  // One accepted connection, from its handshake to its close.
  struct Connection;

  TlsRelay(const TlsRelayOptions& options, SslCtxPtr context, Deliver deliver,
           OnRefusal on_refusal);

  // The event-loop thread: until the relay stops.
  void Loop();
  // Accepts what the listening socket holds (a bounded number per turn).
  void Accept();
  // Moves `connection` on as far as it goes without waiting, then watches what it waits for.
  void Drive(Connection& connection);
  // The three stages of a connection; each returns false once it is finished.
  bool Handshake(Connection& connection);
  bool Relay(Connection& connection);
  bool Linger(Connection& connection);
  // Watches `fd` (a side of `connection`) for `events` only (none: not at all).
  void Watch(Connection& connection, bool server_side, uint32_t events);
  void SetDeadline(Connection& connection, absl::Time deadline);
  // Closes `connection` and forgets it.
  void Finish(uint64_t id);

  // A new SSL for one connection, from the newest good context; reloads the files first when
  // reload_interval has passed since the last check and they changed. Null when SSL_new fails.
  SslPtr NewConnectionSsl() ABSL_LOCKS_EXCLUDED(context_mutex_);

  const TlsRelayOptions options_;
  const Deliver deliver_;
  const OnRefusal on_refusal_;
  int listening_fd_ = -1;
  // Readable once the relay stops (an eventfd).
  int stop_fd_ = -1;
  int epoll_fd_ = -1;
  std::thread loop_;

  // The context new handshakes use, and what the files were when it was loaded. An SSL keeps a
  // reference to its context, so replacing it leaves open connections as they are.
  absl::Mutex context_mutex_;
  SslCtxPtr context_ ABSL_GUARDED_BY(context_mutex_);
  std::string files_stamp_ ABSL_GUARDED_BY(context_mutex_);
  absl::Time next_reload_check_ ABSL_GUARDED_BY(context_mutex_);

  // Owned by the event-loop thread.
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::unique_ptr<Connection>> connections_;
  // Each connection's next deadline (of its handshake, its lifetime or its lingering close).
  std::set<std::pair<absl::Time, uint64_t>> deadlines_;
  // Connections that stopped moving only to let others move: driven again at the next turn.
  std::vector<uint64_t> again_;
  std::map<std::string, unsigned> open_per_address_;
  HandshakeRateLimiter handshake_rate_;
  // Out of descriptors: the listening socket is not watched until then.
  absl::Time accept_paused_until_ = absl::InfinitePast();
  bool listening_watched_ = false;
};

}  // namespace mecai

#endif  // MECAI_COMMON_NET_TLS_RELAY_H_
