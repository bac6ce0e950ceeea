#include "common/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/auth_metadata_processor.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config_loader.h"
#include "common/files.h"
#include "common/logging.h"
#include "common/status.h"

namespace mecai {
namespace {

constexpr uint32_t kDefaultMaxReceiveBytes = 1 << 20;
constexpr uint32_t kDefaultMaxThreads = 16;

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
    MECAI_LOG(Warning) << "refused call from unlisted client identity "
                       << absl::StrJoin(identities, ",");
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
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ASSIGN_OR_RETURN(options.pem_root_certs, ReadFile(tls.client_ca_file()));
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.private_key, ReadFile(tls.private_key_file()));
  ASSIGN_OR_RETURN(pair.cert_chain, ReadFile(tls.certificate_file()));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  auto credentials = grpc::SslServerCredentials(options);
  credentials->SetAuthMetadataProcessor(std::make_shared<ClientAllowlist>(std::vector<std::string>(
      tls.allowed_client_identities().begin(), tls.allowed_client_identities().end())));
  return credentials;
}

}  // namespace

void RunningServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

void ValidateListenConfig(const v1::ListenConfig& listen, bool plaintext_allowed,
                          const std::string& field, ConfigErrors* errors) {
  if (!listen.metrics_address().empty()) {
    errors->Require(IsValidHostPort(listen.metrics_address(), /*allow_port_zero=*/true),
                    field + ".metrics_address", "must be host:port (port 0 picks a free port)");
  }
  errors->Require(IsValidHostPort(listen.address(), /*allow_port_zero=*/true), field + ".address",
                  "must be host:port (port 0 picks a free port)");
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

absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(
    const v1::ListenConfig& listen, const std::vector<grpc::Service*>& services) {
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
  quota.SetMaxThreads(
      static_cast<int>(listen.max_threads() ? listen.max_threads() : kDefaultMaxThreads));
  builder.SetResourceQuota(quota);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // A port in use is an error.
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", listen.address(),
                                               " (is the port in use or the address not local?)"));
  }
  if (!listen.port_file().empty()) {
    absl::Status written = WriteFileAtomically(listen.port_file(), absl::StrCat(port, "\n"));
    if (!written.ok()) {
      server->Shutdown();
      return written;
    }
  }
  MECAI_LOG(Info) << "serving on " << listen.address() << " (port " << port << ")";
  return std::make_unique<RunningServer>(std::move(server), port);
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
