// Server-authenticated TLS in front of a plaintext stream server, with OpenSSL (RFC 8446, and RFC
// 5246 as the lowest version): accepts TCP connections on a listening socket, closes those over
// the connection limits at once, completes each handshake within a deadline, and relays the
// plaintext in both directions over a socketpair whose other end it hands to the server (the
// bounded HTTP server gives it to libmicrohttpd, common/net/http_server.h). No client certificate
// is asked for: whoever connects is served, and authenticates, if at all, by what it sends (the
// public Vouch endpoint, docs/PROTOCOL.md "The public endpoint").
#ifndef MECAI_COMMON_NET_TLS_RELAY_H_
#define MECAI_COMMON_NET_TLS_RELAY_H_

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>  // NOLINT(build/c++11): the acceptor and one relay thread per connection.
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/crypto/openssl_types.h"

namespace mecai {

struct TlsRelayOptions {
  // PEM: the server's certificate chain, leaf first, and its private key.
  std::string certificate_chain_file;
  std::string private_key_file;
  // Open connections at most, handshaking or relaying; a further one is closed at once.
  unsigned max_connections = 64;
  // Open connections from one client address at most; a further one from that address is closed
  // at once. 0: no per-address limit.
  unsigned max_connections_per_address = 8;
  // A client that has not completed its TLS handshake by then is disconnected.
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
  // The TLS handshake failed or did not complete within handshake_timeout.
  kHandshakeFailed,
};

// Thread-safe. Destruction stops accepting, ends every connection and joins every thread.
class TlsRelay {
 public:
  // Receives the plaintext end of one connection (a connected AF_UNIX stream socket, which it now
  // owns) and the client's address, once the handshake completed. Called on the connection's relay
  // thread; must return promptly.
  using Deliver =
      std::function<void(int plaintext_fd, const sockaddr_storage& client, socklen_t length)>;
  // Called for each connection closed for a TlsRelayRefusal, on a relay thread.
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
  TlsRelay(const TlsRelayOptions& options, SslCtxPtr context, Deliver deliver,
           OnRefusal on_refusal);

  void AcceptLoop();
  // The whole life of one accepted connection: handshake, delivery, relay; then its bookkeeping.
  void ServeConnection(uint64_t id, int client_fd, sockaddr_storage address, socklen_t length,
                       std::string address_key);
  // Relays between the TLS connection and the server's end until either is done, the lifetime
  // deadline passes or the relay stops.
  void Relay(SSL* ssl, int client_fd, int server_fd, absl::Time deadline);
  // Waits until `fd` is ready for `events`; false at `deadline` or when the relay stops.
  bool WaitFor(int fd, short events, absl::Time deadline) const;
  // Joins the threads of connections that have ended.
  void JoinFinished() ABSL_LOCKS_EXCLUDED(mutex_);

  // A new SSL for one connection, from the newest good context; reloads the files first when
  // reload_interval has passed since the last check and they changed. Null when SSL_new fails.
  SslPtr NewConnectionSsl() ABSL_LOCKS_EXCLUDED(context_mutex_);

  const TlsRelayOptions options_;
  const Deliver deliver_;
  const OnRefusal on_refusal_;
  int listening_fd_ = -1;
  // Readable once the relay stops (an eventfd); every wait includes it.
  int stop_fd_ = -1;
  std::thread acceptor_;

  // The context new handshakes use, and what the files were when it was loaded. An SSL keeps a
  // reference to its context, so replacing it leaves open connections as they are.
  absl::Mutex context_mutex_;
  SslCtxPtr context_ ABSL_GUARDED_BY(context_mutex_);
  std::string files_stamp_ ABSL_GUARDED_BY(context_mutex_);
  absl::Time next_reload_check_ ABSL_GUARDED_BY(context_mutex_);

  absl::Mutex mutex_;
  uint64_t next_id_ ABSL_GUARDED_BY(mutex_) = 0;
  std::map<uint64_t, std::thread> threads_ ABSL_GUARDED_BY(mutex_);
  std::vector<uint64_t> finished_ ABSL_GUARDED_BY(mutex_);
  unsigned open_ ABSL_GUARDED_BY(mutex_) = 0;
  std::map<std::string, unsigned> open_per_address_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace mecai

#endif  // MECAI_COMMON_NET_TLS_RELAY_H_
