#include "common/net/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/base/logging.h"
#include "common/base/status.h"

namespace mecai {

namespace {

// The answer to a request that did not arrive in time (request_timeout, RFC 9110 §15.5.9).
const std::string& RequestTimeoutResponse() {
  static const std::string* const kResponse = [] {
    const std::string body = "the request did not arrive within its time limit\n";
    return new std::string(absl::StrCat(
        "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: text/plain; "
        "charset=utf-8\r\nContent-Length: ",
        body.size(), "\r\n\r\n", body));
  }();
  return *kResponse;
}

// How often the request-deadline watcher looks at the arriving requests.
constexpr absl::Duration kDeadlineWatchInterval = absl::Milliseconds(100);

struct ParsedAddress {
  sockaddr_storage address = {};
  socklen_t length = 0;
  int port = 0;
  bool ipv6 = false;
};

absl::StatusOr<ParsedAddress> ParseNumericAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("\"", address, "\" is not ip:port"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints = {};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* resolved = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &resolved) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", address, "\" does not start with a numeric IP address"));
  }
  ParsedAddress parsed;
  std::memcpy(&parsed.address, resolved->ai_addr, resolved->ai_addrlen);
  parsed.length = resolved->ai_addrlen;
  parsed.port = port;
  parsed.ipv6 = resolved->ai_family == AF_INET6;
  freeaddrinfo(resolved);
  return parsed;
}

// A listening TCP socket on `parsed` (HTTPS: the TLS relay accepts on it); its port in `*port`.
absl::StatusOr<int> Listen(const ParsedAddress& parsed, const std::string& address, int* port) {
  const int fd = socket(parsed.address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage bound = {};
  socklen_t length = sizeof(bound);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&parsed.address), parsed.length) != 0 ||
      listen(fd, SOMAXCONN) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
    const std::string error = std::strerror(errno);
    close(fd);
    return absl::UnavailableError(absl::StrCat("cannot serve HTTPS on ", address, ": ", error));
  }
  *port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return fd;
}

std::string NumericHost(const sockaddr_storage& address, socklen_t length) {
  char host[NI_MAXHOST] = {0};
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, host, sizeof(host), nullptr,
                  0, NI_NUMERICHOST) != 0) {
    return "";
  }
  return host;
}

HttpServerRefusal FromRelayRefusal(TlsRelayRefusal refusal) {
  switch (refusal) {
    case TlsRelayRefusal::kConnectionLimit:
      return HttpServerRefusal::kConnectionLimit;
    case TlsRelayRefusal::kAddressConnectionLimit:
      return HttpServerRefusal::kAddressConnectionLimit;
    case TlsRelayRefusal::kAddressHandshakeRate:
      return HttpServerRefusal::kAddressHandshakeRate;
    case TlsRelayRefusal::kHandshakeFailed:
      break;
  }
  return HttpServerRefusal::kTlsHandshakeFailed;
}

}  // namespace

// One request handed to the handler: what its connection and its `respond` share. Once
// `connection` is null (the request completed, or the server stops) nothing touches it.
struct HttpServer::Exchange {
  explicit Exchange(MHD_Connection* open) : connection(open) {}

  // The answer arrived, or none will.
  bool Settled() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    return answer.has_value() || connection == nullptr;
  }

  absl::Mutex mutex;
  MHD_Connection* connection ABSL_GUARDED_BY(mutex);
  // libmicrohttpd suspended the connection (MHD_suspend_connection) and it was not resumed yet.
  bool suspended ABSL_GUARDED_BY(mutex) = false;
  // `respond` was called.
  bool responded ABSL_GUARDED_BY(mutex) = false;
  // The answer, until it is queued.
  std::optional<HttpServerResponse> answer ABSL_GUARDED_BY(mutex);
};

void HttpServer::Respond(const std::shared_ptr<Exchange>& exchange, HttpServerResponse response) {
  absl::MutexLock lock(&exchange->mutex);
  if (exchange->responded) return;
  exchange->responded = true;
  // The request completed without an answer (the server stops): nothing to do.
  if (exchange->connection == nullptr) return;
  exchange->answer = std::move(response);
  // Resumed under the lock: the connection cannot complete, nor the daemon stop (EndExchanges
  // takes the same lock first), while the call runs. libmicrohttpd then calls the access callback
  // again on a pool thread, which queues the answer.
  if (exchange->suspended) {
    exchange->suspended = false;
    MHD_resume_connection(exchange->connection);
  }
}

void HttpServer::EndExchanges() {
  std::set<std::shared_ptr<Exchange>> open;
  {
    absl::MutexLock lock(&exchanges_mutex_);
    exchanges_ended_ = true;
    open = exchanges_;
  }
  // libmicrohttpd must not be stopped with a suspended connection: each is resumed, finds no
  // answer, and is closed; its `respond` finds a null connection from here on.
  for (const std::shared_ptr<Exchange>& exchange : open) {
    absl::MutexLock lock(&exchange->mutex);
    if (exchange->suspended) {
      exchange->suspended = false;
      MHD_resume_connection(exchange->connection);
    }
    exchange->connection = nullptr;
  }
}

struct HttpServerCallbacks {
  // One request in progress: the body read so far; once it is complete, its exchange.
  struct PendingRequest {
    std::string body;
    bool too_large = false;
    std::shared_ptr<HttpServer::Exchange> exchange;
  };

  static MHD_Result CollectValue(void* context, MHD_ValueKind /*kind*/, const char* key,
                                 const char* value) {
    auto* values = static_cast<std::map<std::string, std::string>*>(context);
    if (key != nullptr) values->emplace(key, value == nullptr ? "" : value);
    return MHD_YES;
  }

  static MHD_Result CollectHeader(void* context, MHD_ValueKind /*kind*/, const char* key,
                                  const char* value) {
    auto* values = static_cast<std::map<std::string, std::string>*>(context);
    if (key != nullptr) values->emplace(absl::AsciiStrToLower(key), value == nullptr ? "" : value);
    return MHD_YES;
  }

  static MHD_Result Send(HttpServer& server, MHD_Connection* connection,
                         const HttpServerResponse& response) {
    MHD_Response* reply = MHD_create_response_from_buffer(
        response.body.size(), const_cast<char*>(response.body.data()), MHD_RESPMEM_MUST_COPY);
    if (reply == nullptr) return MHD_NO;
    MHD_add_response_header(reply, "Content-Type", response.content_type.c_str());
    for (const auto& [name, value] : response.headers) {
      MHD_add_response_header(reply, name.c_str(), value.c_str());
    }
    if (server.options_.one_request_per_connection) {
      MHD_add_response_header(reply, "Connection", "close");
    }
    MHD_Result result = MHD_queue_response(connection, response.status, reply);
    MHD_destroy_response(reply);
    return result;
  }

  // The request on `connection` without its body.
  static HttpServerRequest Headers(HttpServer& server, MHD_Connection* connection, const char* url,
                                   const char* method) {
    HttpServerRequest request;
    request.method = method;
    request.path = url;
    MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &CollectValue, &request.query);
    MHD_get_connection_values(connection, MHD_HEADER_KIND, &CollectHeader, &request.headers);
    request.remote_address = server.ClientAddress(connection);
    return request;
  }

  static HttpServerResponse TooLarge(HttpServer& server, MHD_Connection* connection,
                                     const char* url, const char* method) {
    server.Refused(HttpServerRefusal::kBodyTooLarge);
    if (server.options_.body_too_large_handler) {
      HttpServerResponse response =
          server.options_.body_too_large_handler(Headers(server, connection, url, method));
      response.status = 413;
      return response;
    }
    HttpServerResponse response;
    response.status = 413;
    response.content_type = "text/plain; charset=utf-8";
    response.body = absl::StrCat("request body too large: at most ", server.options_.max_body_bytes,
                                 " bytes\n");
    return response;
  }

  // The request on `connection` has fully arrived: request_timeout no longer applies to it.
  static void Arrived(HttpServer& server, MHD_Connection* connection) {
    if (server.options_.request_timeout <= absl::ZeroDuration()) return;
    absl::MutexLock lock(&server.arriving_mutex_);
    server.arriving_.erase(connection);
  }

  static MHD_Result Access(void* context, MHD_Connection* connection, const char* url,
                           const char* method, const char* /*version*/, const char* upload_data,
                           size_t* upload_data_size, void** request_context) {
    auto* server = static_cast<HttpServer*>(context);
    auto* pending = static_cast<PendingRequest*>(*request_context);
    if (pending == nullptr) {
      *request_context = new PendingRequest();
      // A declared length over the limit is refused before any of the body is read (with
      // "Expect: 100-continue", before the client sends it).
      const char* declared =
          MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
      uint64_t length = 0;
      if (declared != nullptr && absl::SimpleAtoi(declared, &length) &&
          length > server->options_.max_body_bytes) {
        Arrived(*server, connection);
        return Send(*server, connection, TooLarge(*server, connection, url, method));
      }
      return MHD_YES;
    }
    if (*upload_data_size > 0) {
      if (pending->body.size() + *upload_data_size > server->options_.max_body_bytes) {
        pending->too_large = true;
        pending->body.clear();
      } else if (!pending->too_large) {
        pending->body.append(upload_data, *upload_data_size);
      }
      *upload_data_size = 0;
      return MHD_YES;
    }
    // Called again once a suspended connection was resumed: the answer, or none (the server stops).
    if (pending->exchange != nullptr) return SendAnswer(*server, connection, *pending->exchange);
    Arrived(*server, connection);
    if (pending->too_large)
      return Send(*server, connection, TooLarge(*server, connection, url, method));
    HttpServerRequest request = Headers(*server, connection, url, method);
    request.body = std::move(pending->body);
    auto exchange = std::make_shared<HttpServer::Exchange>(connection);
    {
      absl::MutexLock lock(&server->exchanges_mutex_);
      if (server->exchanges_ended_) return MHD_NO;
      server->exchanges_.insert(exchange);
    }
    pending->exchange = exchange;
    server->handler_(request, [exchange](HttpServerResponse response) {
      HttpServer::Respond(exchange, std::move(response));
    });
    {
      absl::MutexLock lock(&exchange->mutex);
      if (!exchange->Settled()) {
        if (!server->options_.thread_per_connection) {
          // The answer comes later: the connection waits without a thread and without the idle
          // timeout (libmicrohttpd neither polls nor times out a suspended connection). Suspended
          // under the lock, so that `respond` cannot resume it first.
          exchange->suspended = true;
          MHD_suspend_connection(connection);
          return MHD_YES;
        }
        // A thread per connection (which cannot be suspended): this connection's waits.
        exchange->mutex.Await(absl::Condition(exchange.get(), &HttpServer::Exchange::Settled));
      }
    }
    return SendAnswer(*server, connection, *exchange);
  }

  // Queues the answer of `exchange`; without one (the server stops) the connection is closed.
  static MHD_Result SendAnswer(HttpServer& server, MHD_Connection* connection,
                               HttpServer::Exchange& exchange) {
    std::optional<HttpServerResponse> answer;
    {
      absl::MutexLock lock(&exchange.mutex);
      answer.swap(exchange.answer);
    }
    if (!answer.has_value()) return MHD_NO;
    return Send(server, connection, *answer);
  }

  // The request ended (answered, or the connection closed): its exchange is let go, and its
  // `respond`, if still to come, finds a null connection.
  static void Completed(void* context, MHD_Connection* /*connection*/, void** request_context,
                        MHD_RequestTerminationCode /*code*/) {
    auto* server = static_cast<HttpServer*>(context);
    auto* pending = static_cast<PendingRequest*>(*request_context);
    *request_context = nullptr;
    if (pending == nullptr) return;
    if (pending->exchange != nullptr) {
      {
        absl::MutexLock lock(&pending->exchange->mutex);
        pending->exchange->connection = nullptr;
        pending->exchange->suspended = false;
      }
      absl::MutexLock lock(&server->exchanges_mutex_);
      server->exchanges_.erase(pending->exchange);
    }
    delete pending;
  }

  // libmicrohttpd's own messages, into the service's log. Over HTTPS every connection the daemon
  // sees is the relay's UNIX-domain socket, on which TCP_NODELAY and TCP_CORK do not exist: the
  // daemon's complaints about them (and its warning that data may wait for want of them, which a
  // UNIX-domain socket never does) say nothing and are dropped.
  static void Log(void* context, const char* format, va_list arguments) {
    auto* server = static_cast<HttpServer*>(context);
    char message[1024];
    vsnprintf(message, sizeof(message), format, arguments);
    const absl::string_view text = absl::StripTrailingAsciiWhitespace(message);
    if (server->options_.tls.has_value() && (absl::StartsWith(text, "Setting TCP_") ||
                                             absl::StartsWith(text, "Failed to push the data"))) {
      return;
    }
    MECAI_LOG(Warning) << "HTTP server: " << text;
  }

  // request_timeout: a connection is watched from its start until its request has arrived or it
  // closes. libmicrohttpd reports the close before it closes the socket, so the watcher never
  // touches a descriptor that was closed (and perhaps reused).
  static void Connection(void* context, MHD_Connection* connection, void** /*socket_context*/,
                         MHD_ConnectionNotificationCode code) {
    auto* server = static_cast<HttpServer*>(context);
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info == nullptr) return;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED && server->options_.tls.has_value()) {
      absl::MutexLock lock(&server->relayed_mutex_);
      server->relayed_clients_.erase(info->connect_fd);
    }
    if (server->options_.request_timeout <= absl::ZeroDuration()) return;
    absl::MutexLock lock(&server->arriving_mutex_);
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
      server->arriving_.erase(connection);
      return;
    }
    HttpServer::Arriving& arriving = server->arriving_[connection];
    arriving.started = absl::Now();
    arriving.fd = info->connect_fd;
  }
};

std::string HttpServer::ClientAddress(MHD_Connection* connection) {
  if (options_.tls.has_value()) {
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info == nullptr) return "";
    absl::MutexLock lock(&relayed_mutex_);
    auto it = relayed_clients_.find(info->connect_fd);
    return it != relayed_clients_.end() ? it->second : "";
  }
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info == nullptr || info->client_addr == nullptr) return "";
  char host[NI_MAXHOST] = {0};
  const socklen_t length =
      info->client_addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (getnameinfo(info->client_addr, length, host, sizeof(host), nullptr, 0, NI_NUMERICHOST) != 0) {
    return "";
  }
  return host;
}

void HttpServer::WatchRequestDeadlines() {
  absl::MutexLock lock(&arriving_mutex_);
  while (!stopping_) {
    arriving_mutex_.AwaitWithTimeout(absl::Condition(&stopping_), kDeadlineWatchInterval);
    const absl::Time overdue = absl::Now() - options_.request_timeout;
    int timed_out = 0;
    for (auto& [connection, arriving] : arriving_) {
      if (arriving.timed_out || arriving.started > overdue) continue;
      // Said before closing, so that a slow but honest client learns why (RFC 9110 §15.5.9).
      // Nothing else writes to the connection while its request is incomplete.
      const std::string& answer = RequestTimeoutResponse();
      send(arriving.fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      shutdown(arriving.fd, SHUT_RDWR);
      arriving.timed_out = true;
      ++timed_out;
    }
    if (timed_out > 0 && options_.on_refusal) {
      arriving_mutex_.Unlock();
      for (int i = 0; i < timed_out; ++i) Refused(HttpServerRefusal::kRequestTimeout);
      arriving_mutex_.Lock();
    }
  }
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& address,
                                                              HttpHandler handler,
                                                              HttpServerOptions options) {
  return StartAsync(
      address,
      [handler = std::move(handler)](const HttpServerRequest& request, HttpRespond respond) {
        respond(handler(request));
      },
      std::move(options));
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::StartAsync(const std::string& address,
                                                                   AsyncHttpHandler handler,
                                                                   HttpServerOptions options) {
  ASSIGN_OR_RETURN(ParsedAddress parsed, ParseNumericAddress(address));
  if (!options.thread_per_connection && options.threads == 0) {
    return absl::InvalidArgumentError("an HTTP server needs at least one thread");
  }
  // Over HTTPS every connection reaches libmicrohttpd from the relay's UNIX-domain socket, which
  // no per-address limit of its own applies to; the relay enforces both limits.
  if (!options.thread_per_connection && !options.tls.has_value() &&
      options.max_connections_per_address >=
          std::max(1u, options.max_connections / options.threads)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "at most ", options.max_connections_per_address, " connections per address with ",
        options.max_connections, " in all over ", options.threads,
        " threads: each thread's share must exceed the per-address limit"));
  }
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(handler), std::move(options)));
  const HttpServerOptions& chosen = server->options_;
  // MHD_USE_AUTO: epoll (poll with a thread per connection), so that no descriptor number is
  // bounded by select's FD_SETSIZE.
  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
  if (parsed.ipv6) flags |= MHD_USE_IPv6;
  // libmicrohttpd suspends connections on its pool only.
  flags |= chosen.thread_per_connection ? MHD_USE_THREAD_PER_CONNECTION : MHD_ALLOW_SUSPEND_RESUME;
  int listening_fd = -1;
  if (chosen.tls.has_value()) {
    // The TLS relay accepts the connections; libmicrohttpd gets each one's plaintext end.
    flags |= MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
    ASSIGN_OR_RETURN(listening_fd, Listen(parsed, address, &server->port_));
  }
  const unsigned timeout_seconds =
      static_cast<unsigned>(std::max<int64_t>(1, absl::ToInt64Seconds(chosen.idle_timeout)));
  std::vector<MHD_OptionItem> items = {
      {MHD_OPTION_EXTERNAL_LOGGER, reinterpret_cast<intptr_t>(&HttpServerCallbacks::Log),
       server.get()},
      {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&HttpServerCallbacks::Completed),
       server.get()},
      {MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(&HttpServerCallbacks::Connection),
       server.get()},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT,
       static_cast<intptr_t>(chosen.max_connection_memory_bytes), nullptr},
      // Behind the TLS relay the relay admits connections (both limits, over all connections);
      // libmicrohttpd splits its limit among its pool threads and hands a connection to a thread
      // by its descriptor, so each thread may take them all, and none the relay admitted is
      // closed unanswered.
      {MHD_OPTION_CONNECTION_LIMIT,
       static_cast<intptr_t>(chosen.tls.has_value() && !chosen.thread_per_connection
                                 ? chosen.max_connections * std::max(1u, chosen.threads)
                                 : chosen.max_connections),
       nullptr},
      {MHD_OPTION_PER_IP_CONNECTION_LIMIT,
       static_cast<intptr_t>(chosen.max_connections_per_address), nullptr},
      {MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(timeout_seconds), nullptr},
  };
  // HTTPS: the relay holds the listening socket, so the daemon binds none.
  if (!chosen.tls.has_value()) items.push_back({MHD_OPTION_SOCK_ADDR, 0, &parsed.address});
  if (!chosen.thread_per_connection) {
    items.push_back({MHD_OPTION_THREAD_POOL_SIZE, static_cast<intptr_t>(chosen.threads), nullptr});
  }
  items.push_back({MHD_OPTION_END, 0, nullptr});
  server->daemon_ = MHD_start_daemon(flags, static_cast<uint16_t>(parsed.port), nullptr, nullptr,
                                     &HttpServerCallbacks::Access, server.get(), MHD_OPTION_ARRAY,
                                     items.data(), MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    if (listening_fd >= 0) close(listening_fd);
    return absl::UnavailableError(absl::StrCat("cannot serve HTTP on ", address));
  }
  if (chosen.request_timeout > absl::ZeroDuration()) {
    server->deadline_watcher_ = std::thread([raw = server.get()] { raw->WatchRequestDeadlines(); });
  }
  if (chosen.tls.has_value()) {
    TlsRelayOptions relay;
    relay.certificate_chain_file = chosen.tls->certificate_chain_file;
    relay.private_key_file = chosen.tls->private_key_file;
    relay.max_connections = chosen.max_connections;
    relay.max_connections_per_address = chosen.max_connections_per_address;
    relay.handshake_timeout = chosen.tls->handshake_timeout;
    relay.max_connection_lifetime = chosen.tls->max_connection_lifetime;
    relay.reload_interval = chosen.tls->reload_interval;
    relay.handshake_rate = chosen.tls->handshake_rate;
    MHD_Daemon* daemon = server->daemon_;
    HttpServer* raw = server.get();
    // On failure the server's destructor stops the daemon and the watcher.
    ASSIGN_OR_RETURN(
        server->tls_relay_,
        TlsRelay::Start(
            listening_fd, relay,
            [daemon, raw](int fd, const sockaddr_storage& client, socklen_t length) {
              {
                absl::MutexLock lock(&raw->relayed_mutex_);
                raw->relayed_clients_[fd] = NumericHost(client, length);
              }
              // The daemon is told the truth, a UNIX-domain socket (no TCP options to set on
              // it); the client's address is kept aside for the handler. The relay enforced the
              // connection limits. libmicrohttpd owns (and closes) `fd` whatever it answers.
              sockaddr_un unix_address = {};
              unix_address.sun_family = AF_UNIX;
              if (MHD_add_connection(daemon, fd, reinterpret_cast<const sockaddr*>(&unix_address),
                                     sizeof(sa_family_t)) != MHD_YES) {
                MECAI_LOG(Warning)
                    << "HTTPS connection not taken by the HTTP server: " << std::strerror(errno);
                raw->Refused(HttpServerRefusal::kConnectionLimit);
              }
            },
            [raw](TlsRelayRefusal refusal) { raw->Refused(FromRelayRefusal(refusal)); }));
    return server;
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info != nullptr ? info->port : parsed.port;
  return server;
}

HttpServer::~HttpServer() {
  // The relay first: no new connection reaches the daemon while it stops.
  tls_relay_.reset();
  if (daemon_ != nullptr) {
    EndExchanges();
    MHD_stop_daemon(daemon_);
  }
  {
    absl::MutexLock lock(&arriving_mutex_);
    stopping_ = true;
  }
  if (deadline_watcher_.joinable()) deadline_watcher_.join();
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string DecodeFormComponent(absl::string_view text) {
  std::string decoded;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      decoded.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
               HexValue(text[i + 2]) >= 0) {
      decoded.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else {
      decoded.push_back(text[i]);
    }
  }
  return decoded;
}

}  // namespace

std::map<std::string, std::string> ParseFormUrlEncoded(const std::string& body) {
  std::map<std::string, std::string> fields;
  for (absl::string_view pair : absl::StrSplit(body, '&', absl::SkipEmpty())) {
    const size_t equals = pair.find('=');
    const std::string name = DecodeFormComponent(pair.substr(0, equals));
    const std::string value =
        equals == absl::string_view::npos ? "" : DecodeFormComponent(pair.substr(equals + 1));
    fields.emplace(name, value);
  }
  return fields;
}

}  // namespace mecai
