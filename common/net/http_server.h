// A small, bounded HTTP/1.1 server over libmicrohttpd for the certapproval page (ARCHITECTURE.md
// §7) and the coordinator's public HTTPS binding (docs/PROTOCOL.md "The public endpoint"): bodies
// and headers have size limits, idle connections time out, connections are capped.
// Handlers are plain functions from request to response.
#ifndef MECAI_COMMON_NET_HTTP_SERVER_H_
#define MECAI_COMMON_NET_HTTP_SERVER_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

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

struct HttpServerOptions {
  // A body longer than this is answered 413 without calling the handler.
  size_t max_body_bytes = 8 << 10;
  // Memory per connection for headers and buffers (libmicrohttpd answers 431/413 beyond it).
  size_t max_connection_memory_bytes = 32 << 10;
  // Open connections at most; a further connection is closed without being served.
  unsigned max_connections = 64;
  // Open connections from one client address at most; a further connection from that address is
  // closed at once. 0: no per-address limit (behind a proxy every client has the proxy's address).
  // Must be below max_connections / threads: each thread serves its own share of the connections,
  // and one address may hold its whole allowance on one thread, which must still take others.
  unsigned max_connections_per_address = 8;
  // A connection on which nothing arrives for this long is closed (whole seconds, at least 1).
  absl::Duration idle_timeout = absl::Seconds(10);
  unsigned threads = 4;
};

// Thread-safe. Destruction stops the server (waiting for running handlers).
class HttpServer {
 public:
  // Binds `address` ("ip:port", numeric IPv4 or "[ipv6]"; port 0 picks one). UNAVAILABLE when it
  // cannot be bound, INVALID_ARGUMENT for a malformed address or inconsistent limits.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& address,
                                                           HttpHandler handler,
                                                           HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }

 private:
  HttpServer(HttpHandler handler, HttpServerOptions options)
      : handler_(std::move(handler)), options_(options) {}

  friend struct HttpServerCallbacks;
  // Constant after Start.
  const HttpHandler handler_;
  const HttpServerOptions options_;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
};

// Decodes application/x-www-form-urlencoded text (WHATWG URL §5.1): '+' is a space, %XX a byte.
// The first value of each name wins; malformed escapes are kept literally.
std::map<std::string, std::string> ParseFormUrlEncoded(const std::string& body);

}  // namespace mecai

#endif  // MECAI_COMMON_NET_HTTP_SERVER_H_
