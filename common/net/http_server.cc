#include "common/net/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/logging.h"

namespace mecai {

// One request in progress: the body read so far.
struct PendingRequest {
  std::string body;
  bool too_large = false;
};

struct HttpServerCallbacks {
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

  static MHD_Result Send(MHD_Connection* connection, const HttpServerResponse& response) {
    MHD_Response* reply = MHD_create_response_from_buffer(
        response.body.size(), const_cast<char*>(response.body.data()), MHD_RESPMEM_MUST_COPY);
    if (reply == nullptr) return MHD_NO;
    MHD_add_response_header(reply, "Content-Type", response.content_type.c_str());
    for (const auto& [name, value] : response.headers) {
      MHD_add_response_header(reply, name.c_str(), value.c_str());
    }
    MHD_Result result = MHD_queue_response(connection, response.status, reply);
    MHD_destroy_response(reply);
    return result;
  }

  static MHD_Result Access(void* context, MHD_Connection* connection, const char* url,
                           const char* method, const char* /*version*/, const char* upload_data,
                           size_t* upload_data_size, void** request_context) {
    auto* server = static_cast<HttpServer*>(context);
    auto* pending = static_cast<PendingRequest*>(*request_context);
    if (pending == nullptr) {
      *request_context = new PendingRequest();
      return MHD_YES;
    }
    if (*upload_data_size > 0) {
      if (pending->body.size() + *upload_data_size > server->options_.max_body_bytes) {
        pending->too_large = true;
      } else {
        pending->body.append(upload_data, *upload_data_size);
      }
      *upload_data_size = 0;
      return MHD_YES;
    }
    if (pending->too_large) {
      HttpServerResponse response;
      response.status = 413;
      response.content_type = "text/plain; charset=utf-8";
      response.body = "request body too large\n";
      return Send(connection, response);
    }
    HttpServerRequest request;
    request.method = method;
    request.path = url;
    request.body = std::move(pending->body);
    MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &CollectValue, &request.query);
    MHD_get_connection_values(connection, MHD_HEADER_KIND, &CollectHeader, &request.headers);
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info != nullptr && info->client_addr != nullptr) {
      char host[NI_MAXHOST] = {0};
      const socklen_t length =
          info->client_addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
      if (getnameinfo(info->client_addr, length, host, sizeof(host), nullptr, 0, NI_NUMERICHOST) ==
          0) {
        request.remote_address = host;
      }
    }
    return Send(connection, server->handler_(request));
  }

  static void Completed(void* /*context*/, MHD_Connection* /*connection*/, void** request_context,
                        MHD_RequestTerminationCode /*code*/) {
    delete static_cast<PendingRequest*>(*request_context);
    *request_context = nullptr;
  }
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& address,
                                                              HttpHandler handler,
                                                              HttpServerOptions options) {
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
  sockaddr_storage bind_address = {};
  std::memcpy(&bind_address, resolved->ai_addr, resolved->ai_addrlen);
  const bool ipv6 = resolved->ai_family == AF_INET6;
  freeaddrinfo(resolved);

  if (options.threads == 0 || options.max_connections_per_address >=
                                  std::max(1u, options.max_connections / options.threads)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "at most ", options.max_connections_per_address, " connections per address with ",
        options.max_connections, " in all over ", options.threads,
        " threads: each thread's share must exceed the per-address limit"));
  }
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(handler), options));
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
  if (ipv6) flags |= MHD_USE_IPv6;
  server->daemon_ = MHD_start_daemon(
      flags, static_cast<uint16_t>(port), nullptr, nullptr, &HttpServerCallbacks::Access,
      server.get(), MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&bind_address),
      MHD_OPTION_NOTIFY_COMPLETED, &HttpServerCallbacks::Completed, nullptr,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, options.max_connection_memory_bytes,
      MHD_OPTION_CONNECTION_LIMIT, options.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      options.max_connections_per_address, MHD_OPTION_CONNECTION_TIMEOUT,
      static_cast<unsigned>(std::max<int64_t>(1, absl::ToInt64Seconds(options.idle_timeout))),
      MHD_OPTION_THREAD_POOL_SIZE, options.threads, MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot serve HTTP on ", address));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info != nullptr ? info->port : port;
  return server;
}

HttpServer::~HttpServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
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
