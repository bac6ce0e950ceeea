#include "common/rpc/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>
#include <grpcpp/security/auth_metadata_processor.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/rpc/grpc_channel.h"
#include "common/rpc/tls_credentials.h"

namespace mecai {
namespace {

constexpr uint32_t kDefaultMaxReceiveBytes = 1 << 20;
constexpr uint32_t kDefaultMaxThreads = 16;
// The health-only server: a HealthCheckRequest is a service name, so small limits suffice.
constexpr int kHealthMaxReceiveBytes = 4096;
constexpr int kHealthMaxThreads = 4;
constexpr auto kShutdownGracePeriod = std::chrono::seconds(5);
// The connection age of grpc_channel.h; its grace is more than any configured probe or signer
// deadline, and than a probe stream's life (coordinator/probe_stream_client.h).
constexpr absl::Duration kMaxConnectionAge = absl::Seconds(kMaxConnectionAgeSeconds);
constexpr absl::Duration kMaxConnectionAgeGrace = absl::Seconds(kMaxConnectionAgeGraceSeconds);
// The shortest interval between the client PINGs an internal server accepts on a connection
// without calls; below the clients' keepalive time (kKeepaliveTimeMilliseconds).
constexpr int kMinPingIntervalMilliseconds = 30 * 1000;
static_assert(kMinPingIntervalMilliseconds < kKeepaliveTimeMilliseconds,
              "the server would refuse the clients' keepalive PINGs");

// Removes every ServerBuilderPlugin (server reflection among them) from one builder, so that the
// health-only server registers nothing but the default grpc.health.v1.Health service.
class WithoutBuilderPlugins : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments* /*arguments*/) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->clear();
  }
};

// The text after the last ':' of a "host:port" that IsValidHostPort accepted.
std::string PortOf(const std::string& host_port) {
  return host_port.substr(host_port.rfind(':') + 1);
}

// A started plaintext server on `address` with no service but the default health service (which
// StartServer enables for every server).
absl::StatusOr<HealthOnlyServer> BuildHealthOnlyServer(const std::string& address) {
  HealthOnlyServer health;
  // Registered for its side effect too: a server with nothing but the health service, which gRPC
  // adds only after checking that some service polls the completion queues, would not start.
  health.other_methods = std::make_unique<grpc::CallbackGenericService>();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &health.port);
  builder.SetOption(std::make_unique<WithoutBuilderPlugins>());
  builder.RegisterCallbackGenericService(health.other_methods.get());
  builder.SetMaxReceiveMessageSize(kHealthMaxReceiveBytes);
  grpc::ResourceQuota quota("mecai-health");
  quota.SetMaxThreads(kHealthMaxThreads);
  builder.SetResourceQuota(quota);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // A port in use is an error.
  health.server = builder.BuildAndStart();
  if (health.server == nullptr || health.port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on health_address ", address,
                                               " (is the port in use or the address not local?)"));
  }
  if (health.server->GetHealthCheckService() == nullptr) {
    health.server->Shutdown();
    return absl::InternalError("the health-only server has no health check service");
  }
  return health;
}

// Rejects every call whose TLS peer is not on the allowlist (UNAUTHENTICATED / PERMISSION_DENIED).
// Runs for each call before any handler. Thread-safe: the allowlist is constant.
class ClientAllowlist : public grpc::AuthMetadataProcessor {
 public:
  explicit ClientAllowlist(std::vector<std::string> allowed) : allowed_(std::move(allowed)) {}

  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& /*auth_metadata*/, grpc::AuthContext* context,
                       OutputMetadata* /*consumed*/, OutputMetadata* /*response*/) override {
    std::vector<std::string> identities = PeerIdentities(*context);
    if (identities.empty()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no client certificate identity");
    }
    for (const std::string& identity : identities) {
      if (std::find(allowed_.begin(), allowed_.end(), identity) != allowed_.end()) {
        return grpc::Status::OK;
      }
    }
    MECAI_LOG_EVENT(Warning, "client_identity_refused")
        << "refused call from unlisted client identity " << absl::StrJoin(identities, ",");
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "client identity is not on this server's allowlist");
  }

 private:
  const std::vector<std::string> allowed_;
};

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const v1::ListenConfig& listen) {
  if (listen.insecure_plaintext_for_local_development()) {
    MECAI_LOG(Warning) << "serving " << listen.address()
                       << " WITHOUT TLS (insecure_plaintext_for_local_development)";
    return grpc::InsecureServerCredentials();
  }
  const v1::ServerTls& tls = listen.tls();
  // The identity and the client CA bundle follow their files (common/rpc/tls_credentials.h).
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   ReloadingServerCredentials(tls));
  credentials->SetAuthMetadataProcessor(std::make_shared<ClientAllowlist>(std::vector<std::string>(
      tls.allowed_client_identities().begin(), tls.allowed_client_identities().end())));
  return credentials;
}

}  // namespace

void RunningServer::SetServingStatus(bool serving) {
  absl::MutexLock lock(&mutex_);
  if (shut_down_) return;
  for (grpc::Server* server : {server_.get(), health_.server.get()}) {
    if (server == nullptr || server->GetHealthCheckService() == nullptr) continue;
    server->GetHealthCheckService()->SetServingStatus(serving);
  }
}

void RunningServer::Shutdown() {
  {
    absl::MutexLock lock(&mutex_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  // Probes see NOT_SERVING while running calls finish; HealthCheckServiceInterface::Shutdown also
  // freezes the status.
  for (grpc::Server* server : {server_.get(), health_.server.get()}) {
    if (server == nullptr || server->GetHealthCheckService() == nullptr) continue;
    server->GetHealthCheckService()->Shutdown();
  }
  server_->Shutdown(std::chrono::system_clock::now() + kShutdownGracePeriod);
  if (health_.server != nullptr) health_.server->Shutdown(std::chrono::system_clock::now());
}

void ValidateListenConfig(const v1::ListenConfig& listen, bool plaintext_allowed,
                          const std::string& field, ConfigErrors* errors) {
  if (!listen.metrics_address().empty()) {
    errors->Require(IsValidHostPort(listen.metrics_address(), /*allow_port_zero=*/true),
                    field + ".metrics_address", "must be host:port (port 0 picks a free port)");
  }
  errors->Require(IsValidHostPort(listen.address(), /*allow_port_zero=*/true), field + ".address",
                  "must be host:port (port 0 picks a free port)");
  if (!listen.health_address().empty()) {
    const std::string& health = listen.health_address();
    if (!IsValidHostPort(health, /*allow_port_zero=*/true)) {
      errors->Add(field + ".health_address", "must be host:port (port 0 picks a free port)");
    } else if (PortOf(health) != "0") {
      // The health port is plaintext and serves nothing else: it can share no port.
      errors->Require(health != listen.address(), field + ".health_address",
                      "must differ from " + field + ".address");
      errors->Require(health != listen.metrics_address(), field + ".health_address",
                      "must differ from " + field + ".metrics_address");
    }
  }
  if (listen.insecure_plaintext_for_local_development()) {
    errors->Require(plaintext_allowed, field + ".insecure_plaintext_for_local_development",
                    "plaintext is never allowed for this service (trust rule 7)");
    return;
  }
  const v1::ServerTls& tls = listen.tls();
  errors->Require(!tls.certificate_file().empty(), field + ".tls.certificate_file",
                  "required (or set insecure_plaintext_for_local_development)");
  errors->Require(!tls.private_key_file().empty(), field + ".tls.private_key_file", "required");
  errors->Require(!tls.client_ca_file().empty(), field + ".tls.client_ca_file", "required");
  errors->Require(tls.allowed_client_identities_size() > 0,
                  field + ".tls.allowed_client_identities", "at least one identity is required");
}

int MaxServerThreads(const v1::ListenConfig& listen) {
  return static_cast<int>(listen.max_threads() ? listen.max_threads() : kDefaultMaxThreads);
}

absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(
    const v1::ListenConfig& listen, const std::vector<grpc::Service*>& services,
    GrpcServerMetrics* metrics) {
  ASSIGN_OR_RETURN(auto credentials, ServerCredentials(listen));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen.address(), credentials, &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(listen.max_receive_message_bytes()
                                                        ? listen.max_receive_message_bytes()
                                                        : kDefaultMaxReceiveBytes));
  grpc::ResourceQuota quota("mecai-server");
  quota.SetMaxThreads(MaxServerThreads(listen));
  builder.SetResourceQuota(quota);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // A port in use is an error.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(kMaxConnectionAge)));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(kMaxConnectionAgeGrace)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             kMinPingIntervalMilliseconds);
  for (grpc::Service* service : services) builder.RegisterService(service);
  if (metrics != nullptr)
    builder.experimental().SetInterceptorCreators(metrics->InterceptorFactories());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", listen.address(),
                                               " (is the port in use or the address not local?)"));
  }
  HealthOnlyServer health;
  if (!listen.health_address().empty()) {
    absl::StatusOr<HealthOnlyServer> started = BuildHealthOnlyServer(listen.health_address());
    if (!started.ok()) {
      server->Shutdown();
      return started.status();
    }
    health = std::move(*started);
  }
  if (!listen.port_file().empty()) {
    absl::Status written = WriteFileAtomically(listen.port_file(), absl::StrCat(port, "\n"));
    if (!written.ok()) {
      if (health.server != nullptr) health.server->Shutdown();
      server->Shutdown();
      return written;
    }
  }
  MECAI_LOG(Info) << "serving on " << listen.address() << " (port " << port << ")";
  if (health.server != nullptr) {
    MECAI_LOG(Info) << "serving grpc.health.v1.Health only, plaintext, on "
                    << listen.health_address() << " (port " << health.port << ")";
  }
  auto running = std::make_unique<RunningServer>(std::move(server), port, std::move(health));
  // Both servers start SERVING; from here on RunningServer keeps them equal.
  running->SetServingStatus(true);
  return running;
}

absl::StatusOr<HealthOnlyServer> StartHealthOnlyServer(const std::string& address) {
  grpc::EnableDefaultHealthCheckService(true);
  return BuildHealthOnlyServer(address);
}

absl::StatusOr<std::unique_ptr<RunningServer>> StartServerAuthenticatedServer(
    const ServerAuthenticatedOptions& options, const std::vector<grpc::Service*>& services,
    GrpcServerMetrics* metrics) {
  ASSIGN_OR_RETURN(
      std::shared_ptr<grpc::ServerCredentials> credentials,
      ReloadingServerAuthenticatedCredentials(options.certificate_file, options.private_key_file,
                                              options.reload_interval));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.address, credentials, &port);
  builder.SetOption(std::make_unique<WithoutBuilderPlugins>());  // No reflection.
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  grpc::ResourceQuota quota("mecai-server-authenticated");
  quota.SetMaxThreads(options.max_threads);
  builder.SetResourceQuota(quota);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // A port in use is an error.
  builder.AddChannelArgument(
      GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options.handshake_timeout)));
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_IDLE_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options.max_connection_idle)));
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_AGE_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options.max_connection_age)));
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options.max_connection_age_grace)));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams);
  for (grpc::Service* service : services) builder.RegisterService(service);
  if (metrics != nullptr)
    builder.experimental().SetInterceptorCreators(metrics->InterceptorFactories());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.address,
                                               " (is the port in use or the address not local?)"));
  }
  if (!options.port_file.empty()) {
    absl::Status written = WriteFileAtomically(options.port_file, absl::StrCat(port, "\n"));
    if (!written.ok()) {
      server->Shutdown();
      return written;
    }
  }
  MECAI_LOG(Info) << "serving on " << options.address << " (port " << port
                  << "), server-authenticated TLS: no client certificate is asked for";
  auto running = std::make_unique<RunningServer>(std::move(server), port);
  running->SetServingStatus(true);
  return running;
}

std::vector<std::string> PeerIdentities(const grpc::AuthContext& context) {
  std::vector<std::string> identities;
  for (const char* property : {"x509_subject_alternative_name", "x509_common_name"}) {
    for (const auto& value : context.FindPropertyValues(property)) {
      identities.emplace_back(value.data(), value.size());
    }
    if (!identities.empty()) break;
  }
  return identities;
}

}  // namespace mecai
