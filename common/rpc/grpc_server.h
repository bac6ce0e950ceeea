// gRPC server setup shared by every service: mutual TLS with a client-identity allowlist (trust
// rule 7), the standard health service (also on an optional plaintext health-only port for
// Kubernetes probes), server reflection, message-size limits, and the bound port written to a file
// so that tests and the demo can use port 0.
#ifndef MECAI_COMMON_RPC_GRPC_SERVER_H_
#define MECAI_COMMON_RPC_GRPC_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/rpc/grpc_metrics.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/grpcpp.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

// The plaintext server beside a RunningServer that serves only grpc.health.v1.Health (see
// StartServer).
struct HealthOnlyServer {
  // Answers UNIMPLEMENTED to every other method; destroyed after `server`.
  std::unique_ptr<grpc::CallbackGenericService> other_methods;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

// A started server, and the plaintext health-only server beside it when listen.health_address is
// set. Thread-safe.
class RunningServer {
 public:
  // `health` (when its server is set) serves only grpc.health.v1.Health; its overall serving
  // status mirrors `server`'s.
  RunningServer(std::unique_ptr<grpc::Server> server, int port, HealthOnlyServer health = {})
      : server_(std::move(server)), port_(port), health_(std::move(health)) {}
  ~RunningServer() { Shutdown(); }

  int port() const { return port_; }
  // The bound port of the health-only server; 0 when there is none.
  int health_port() const { return health_.port; }
  grpc::Server* server() { return server_.get(); }
  // Sets the overall ("") serving status of grpc.health.v1.Health on both servers. Ignored after
  // Shutdown().
  void SetServingStatus(bool serving);
  // Reports NOT_SERVING on both servers, stops accepting calls and waits up to 5 s for running
  // ones, then stops the health-only server. Idempotent.
  void Shutdown();
  // Blocks until Shutdown() is called from another thread.
  void Wait() { server_->Wait(); }

 private:
  // Constant after construction.
  const std::unique_ptr<grpc::Server> server_;
  const int port_;
  const HealthOnlyServer health_;

  absl::Mutex mutex_;
  bool shut_down_ ABSL_GUARDED_BY(mutex_) = false;
};

// Validates a ListenConfig; `field` prefixes error messages, `plaintext_allowed` is false for the
// signer (trust rule 7: never plaintext).
void ValidateListenConfig(const v1::ListenConfig& listen, bool plaintext_allowed,
                          const std::string& field, class ConfigErrors* errors);

// How many calls a server started from `listen` runs at once: its max_threads, or the default.
int MaxServerThreads(const v1::ListenConfig& listen);

// Builds and starts a server for `services` on `listen.address`, and, when listen.health_address
// is set, a second, plaintext server there that serves only grpc.health.v1.Health (Kubernetes
// gRPC probes cannot present a client certificate; gRPC C++ registers every service on every port
// of one server, hence a server of its own). The TLS identity and client CA bundle reload when
// their files change (common/rpc/tls_credentials.h); connections are told to go away after 5
// minutes, so that clients spread over new replicas, and idle clients' keepalive PINGs are
// accepted (docs/ARCHITECTURE.md "Peers and load"). Errors: an address cannot be bound (port in
// use: UNAVAILABLE), TLS files unreadable or invalid (as ReloadingServerCredentials's). On success
// writes listen.port_file if set.
// `metrics`, when given, counts and times every call through an interceptor; it must outlive the
// server.
absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(
    const v1::ListenConfig& listen, const std::vector<grpc::Service*>& services,
    GrpcServerMetrics* metrics = nullptr);

// A server that authenticates itself and asks for no client certificate: server-authenticated TLS
// (RFC 8446), for callers who authenticate by what they send, as the public Vouch endpoint's do
// (a VR signed by its certificate's key, docs/PROTOCOL.md "The public endpoint"). Everything else
// stays behind StartServer's mutual TLS (trust rule 7).
struct ServerAuthenticatedOptions {
  // host:port to bind; port 0 picks a free one, written to port_file when that is set.
  std::string address;
  std::string port_file;
  // PEM: the server's certificate chain and private key, checked for changes every
  // `reload_interval` and, once changed, presented to new connections without a restart
  // (common/rpc/tls_credentials.h).
  std::string certificate_file;
  std::string private_key_file;
  absl::Duration reload_interval = absl::Seconds(60);
  // Larger messages are refused RESOURCE_EXHAUSTED by gRPC, before they are parsed.
  int max_receive_message_bytes = 1 << 20;
  // Calls handled at once; beyond them gRPC refuses new calls RESOURCE_EXHAUSTED at once.
  int max_threads = 16;
  // A connection that has not completed its TLS handshake by then is closed.
  absl::Duration handshake_timeout = absl::Seconds(5);
  // A connection with no call for this long is closed (HTTP/2 GOAWAY).
  absl::Duration max_connection_idle = absl::Seconds(30);
  // A connection is told to go away after this long, and closed `max_connection_age_grace` later
  // whatever its calls are doing: a client that trickles a request in is cut off.
  absl::Duration max_connection_age = absl::Seconds(30);
  absl::Duration max_connection_age_grace = absl::Seconds(30);
  // Calls open at once on one connection.
  int max_concurrent_streams = 4;
};

// Builds and starts a server for `services` (and grpc.health.v1.Health; no reflection) with
// server-authenticated TLS. Errors as StartServer's. `metrics` as StartServer's.
absl::StatusOr<std::unique_ptr<RunningServer>> StartServerAuthenticatedServer(
    const ServerAuthenticatedOptions& options, const std::vector<grpc::Service*>& services,
    GrpcServerMetrics* metrics = nullptr);

// A plaintext server on `address` (port 0 picks a free one) that serves only grpc.health.v1.Health,
// the health-only server StartServer runs beside a service, for a process that serves no other
// gRPC (the stapler). Its overall status starts SERVING; set it with
// server->GetHealthCheckService()->SetServingStatus. Errors: the address cannot be bound
// (UNAVAILABLE).
absl::StatusOr<HealthOnlyServer> StartHealthOnlyServer(const std::string& address);

// The identities the TLS peer of `context` presents: DNS/URI subjectAltNames, else the subject CN.
std::vector<std::string> PeerIdentities(const grpc::AuthContext& context);

}  // namespace mecai

#endif  // MECAI_COMMON_RPC_GRPC_SERVER_H_
