// A small, bounded HTTP/1.1 server over libmicrohttpd for the certapproval page (ARCHITECTURE.md
// §7) and the coordinator's public HTTPS binding (docs/PROTOCOL.md "The public endpoint"): bodies
// and headers have size limits, idle connections time out, connections are capped.
// Handlers are plain functions from request to response, or asynchronous ones that answer later
// from any thread: then no server thread waits for the answer (libmicrohttpd suspends the
// connection until it comes).
#ifndef MECAI_COMMON_NET_HTTP_SERVER_H_
#define MECAI_COMMON_NET_HTTP_SERVER_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>  // NOLINT(build/c++11): the request-deadline watcher.
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/net/tls_relay.h"

struct MHD_Connection;
struct MHD_Daemon;

namespace mecai {

struct HttpServerRequest {
  std::string method;
  // The path without the query string, e.g. "/request".
  std::string path;
  // Decoded query arguments (first value of each name).
  std::map<std::string, std::string> query;
  // Header names in lower case.
  std::map<std::string, std::string> headers;
  std::string body;
  // The client's IP address.
  std::string remote_address;
};

struct HttpServerResponse {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Called on the server's threads; must be thread-safe and return promptly.
using HttpHandler = std::function<HttpServerResponse(const HttpServerRequest&)>;

// Answers one request. Callable from any thread, at any time, also inside the handler; the first
// call answers and any later one is ignored. A call after the client left, or after the server was
// destroyed, does nothing (the copy of the function stays safe to call).
using HttpRespond = std::function<void(HttpServerResponse)>;
// Called on the server's threads; must be thread-safe and return promptly, and see to it that
// `respond` is called eventually: the connection waits for it (suspended, holding no thread and
// exempt from the idle timeout), bounded only by the caller's own deadline and, over HTTPS, by
// HttpServerTls.max_connection_lifetime for the client's side.
using AsyncHttpHandler = std::function<void(const HttpServerRequest&, HttpRespond respond)>;

// HTTPS (common/net/tls_relay.h): server-authenticated TLS with OpenSSL in front of the server.
struct HttpServerTls {
  // PEM: the certificate chain, leaf first, and its private key.
  std::string certificate_chain_file;
  std::string private_key_file;
  // A client that has not completed its TLS handshake by then is disconnected.
  absl::Duration handshake_timeout = absl::Seconds(5);
  // No connection lives longer than this (the backstop behind request_timeout and idle_timeout).
  absl::Duration max_connection_lifetime = absl::Minutes(2);
  // How often the two files are checked for changes and a changed pair is presented to new
  // connections (TlsRelayOptions.reload_interval). Zero: read once, at start.
  absl::Duration reload_interval = absl::ZeroDuration();
  // New handshakes one client address (an IPv4 address, an IPv6 /64) may start, in a burst and
  // then per second (TlsRelayOptions.handshake_rate); beyond, a connection is closed at once.
  // Default: no rate limit.
  HandshakeRateLimit handshake_rate;
};

// Why the server closed a connection, or answered it, without calling the handler.
enum class HttpServerRefusal {
  // The body is larger than max_body_bytes: answered 413.
  kBodyTooLarge,
  // The request had not fully arrived within request_timeout: answered 408 and closed.
  kRequestTimeout,
  // HTTPS only: max_connections were open, or max_connections_per_address from that address
  // (an IPv4 address, an IPv6 /64).
  kConnectionLimit,
  kAddressConnectionLimit,
  // HTTPS only: that address had started HttpServerTls.handshake_rate's handshakes already.
  kAddressHandshakeRate,
  // HTTPS only: the TLS handshake failed or did not complete within its timeout.
  kTlsHandshakeFailed,
};

struct HttpServerOptions {
  // A body longer than this is answered 413 without calling the handler: at once when the
  // Content-Length says so (before any of the body is read), else once it has been exceeded.
  size_t max_body_bytes = 8 << 10;
  // Memory per connection for headers and buffers (libmicrohttpd answers 431/413 beyond it).
  size_t max_connection_memory_bytes = 32 << 10;
  // Open connections at most; a further connection is closed without being served.
  unsigned max_connections = 64;
  // Open connections from one client address at most; a further connection from that address is
  // closed at once. 0: no per-address limit (behind a proxy every client has the proxy's address).
  // Must be below max_connections / threads: each thread serves its own share of the connections,
  // and one address may hold its whole allowance on one thread, which must still take others.
  // HTTPS: the TLS relay enforces both limits over all connections, so this rule does not apply,
  // and counts an IPv6 client by its /64 (common/net/client_address_key.h); HTTP counts each
  // address.
  unsigned max_connections_per_address = 8;
  // A connection on which nothing arrives for this long is closed (whole seconds, at least 1).
  absl::Duration idle_timeout = absl::Seconds(10);
  unsigned threads = 4;
  // One thread per connection instead of a pool of `threads`, for handlers that block (for
  // seconds) without holding up other connections; max_connections bounds the threads, and the
  // per-address rule above does not apply. An AsyncHttpHandler needs no such thread: its
  // connections wait for their answers suspended, on the pool (with it, the thread of a connection
  // waits for the answer).
  bool thread_per_connection = false;
  // The whole request, headers and body, must have arrived within this time of the connection's
  // start (of its TLS handshake's end with `tls`); otherwise the server answers 408 and closes the
  // connection. The idle timeout alone does not stop a client that trickles a byte now and then.
  // It bounds a connection's first request: use it with one_request_per_connection. Zero: no limit
  // but the idle timeout.
  absl::Duration request_timeout = absl::ZeroDuration();
  // Every response says "Connection: close" and the connection is closed after it: one request per
  // connection, so request_timeout bounds a connection's whole input.
  bool one_request_per_connection = false;
  // Serve HTTPS instead of HTTP.
  std::optional<HttpServerTls> tls;
  // Called, on a server thread, for each refusal the server makes before any handler runs.
  std::function<void(HttpServerRefusal)> on_refusal;
  // When set, writes the 413 answer to a body larger than max_body_bytes (after on_refusal): it
  // gets the request without its body (method, path, query, headers, client address); the status
  // is 413 whatever it returns. Unset: a one-line text/plain answer.
  std::function<HttpServerResponse(const HttpServerRequest&)> body_too_large_handler;
};

// Thread-safe. Destruction stops the server (waiting for running handlers); a connection still
// waiting for an asynchronous answer is closed without one, and its `respond` does nothing.
class HttpServer {
 public:
  // Binds `address` ("ip:port", numeric IPv4 or "[ipv6]"; port 0 picks one). UNAVAILABLE when it
  // cannot be bound, INVALID_ARGUMENT for a malformed address, inconsistent limits or (HTTPS) a
  // certificate or key that cannot be loaded.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& address,
                                                           HttpHandler handler,
                                                           HttpServerOptions options = {});
  // The same with an asynchronous handler.
  static absl::StatusOr<std::unique_ptr<HttpServer>> StartAsync(const std::string& address,
                                                                AsyncHttpHandler handler,
                                                                HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }

 private:
  // A connection whose request has not fully arrived yet (request_timeout).
  struct Arriving {
    absl::Time started;
    int fd = -1;
    bool timed_out = false;
  };

  // One request handed to the handler, shared by its connection and its `respond`.
  struct Exchange;

  HttpServer(AsyncHttpHandler handler, HttpServerOptions options)
      : handler_(std::move(handler)), options_(std::move(options)) {}

  void Refused(HttpServerRefusal refusal) const {
    if (options_.on_refusal) options_.on_refusal(refusal);
  }
  // The client's numeric address (HTTPS: as the relay accepted it).
  std::string ClientAddress(MHD_Connection* connection) ABSL_LOCKS_EXCLUDED(relayed_mutex_);
  // request_timeout: answers 408 on, and closes, each connection whose request is overdue.
  void WatchRequestDeadlines() ABSL_LOCKS_EXCLUDED(arriving_mutex_);

  // Answers `exchange` (HttpRespond).
  static void Respond(const std::shared_ptr<Exchange>& exchange, HttpServerResponse response);
  // Hands every waiting exchange its end (no answer), before the daemon stops.
  void EndExchanges() ABSL_LOCKS_EXCLUDED(exchanges_mutex_);

  friend struct HttpServerCallbacks;
  // Constant after Start.
  const AsyncHttpHandler handler_;
  const HttpServerOptions options_;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
  std::unique_ptr<TlsRelay> tls_relay_;
  std::thread deadline_watcher_;

  absl::Mutex arriving_mutex_;
  // Keyed by libmicrohttpd's connection; from its start until its request is complete.
  std::map<const void*, Arriving> arriving_ ABSL_GUARDED_BY(arriving_mutex_);
  bool stopping_ ABSL_GUARDED_BY(arriving_mutex_) = false;

  absl::Mutex exchanges_mutex_;
  // The exchanges handed to the handler whose connection has not completed.
  std::set<std::shared_ptr<Exchange>> exchanges_ ABSL_GUARDED_BY(exchanges_mutex_);
  // Set when the server stops: no exchange begins after it.
  bool exchanges_ended_ ABSL_GUARDED_BY(exchanges_mutex_) = false;

  absl::Mutex relayed_mutex_;
  // HTTPS: the client address of each relayed connection, by the descriptor the daemon reads.
  std::map<int, std::string> relayed_clients_ ABSL_GUARDED_BY(relayed_mutex_);
};

// Decodes application/x-www-form-urlencoded text (WHATWG URL §5.1): '+' is a space, %XX a byte.
// The first value of each name wins; malformed escapes are kept literally.
std::map<std::string, std::string> ParseFormUrlEncoded(const std::string& body);

}  // namespace mecai

#endif  // MECAI_COMMON_NET_HTTP_SERVER_H_
