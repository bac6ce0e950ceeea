// The serving fields the public HTTP services' configurations share (LogServerConfig,
// WitnessConfig in proto/mecai/v1/config.proto): listen address and port file, connection limits,
// threads, timeouts and optional HTTPS. One place turns them into a running HttpServer, so that
// the services read them alike.
#ifndef MECAI_COMMON_NET_HTTP_SERVER_CONFIG_H_
#define MECAI_COMMON_NET_HTTP_SERVER_CONFIG_H_

#include <cstdint>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/net/http_server.h"

namespace mecai {

// The serving defaults of such a config, in place: `max_connections` and
// `max_connections_per_address` when unset (the service's own), 4 threads, 10 s idle and request
// timeouts.
template <typename Config>
void FillServingDefaults(Config* config, uint32_t max_connections,
                         uint32_t max_connections_per_address) {
  if (config->max_connections() == 0) config->set_max_connections(max_connections);
  if (!config->has_max_connections_per_address()) {
    config->set_max_connections_per_address(max_connections_per_address);
  }
  if (config->threads() == 0) config->set_threads(4);
  if (config->idle_timeout_seconds() == 0) config->set_idle_timeout_seconds(10);
  if (config->request_timeout_seconds() == 0) config->set_request_timeout_seconds(10);
}

// Starts `handler` on config.listen_address() with `options` (the service's own body and memory
// bounds) completed from the config's limits, timeouts and TLS files, and writes the bound port
// to config.port_file() when set. `Config` is a validated configuration message with those fields.
template <typename Config>
absl::StatusOr<std::unique_ptr<HttpServer>> StartConfiguredHttpServer(const Config& config,
                                                                      HttpHandler handler,
                                                                      HttpServerOptions options) {
  options.max_connections = config.max_connections();
  options.max_connections_per_address = config.max_connections_per_address();
  options.threads = config.threads();
  options.idle_timeout = absl::Seconds(config.idle_timeout_seconds());
  options.request_timeout = absl::Seconds(config.request_timeout_seconds());
  if (!config.tls_certificate_chain_file().empty()) {
    HttpServerTls tls;
    tls.certificate_chain_file = config.tls_certificate_chain_file();
    tls.private_key_file = config.tls_private_key_file();
    options.tls = tls;
  }
  ASSIGN_OR_RETURN(std::unique_ptr<HttpServer> server,
                   HttpServer::Start(config.listen_address(), std::move(handler), options));
  if (!config.port_file().empty()) {
    RETURN_IF_ERROR(WriteFileAtomically(config.port_file(), absl::StrCat(server->port(), "\n")));
  }
  return server;
}

}  // namespace mecai

#endif  // MECAI_COMMON_NET_HTTP_SERVER_CONFIG_H_
