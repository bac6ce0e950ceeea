// gRPC server setup shared by every service: mutual TLS with a client-identity allowlist (trust
// rule 7), the standard health service, server reflection, message-size limits, and the bound port
// written to a file so that tests and the demo can use port 0.
#ifndef MECAI_COMMON_GRPC_SERVER_H_
#define MECAI_COMMON_GRPC_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

// A started server. Thread-safe.
class RunningServer {
 public:
  RunningServer(std::unique_ptr<grpc::Server> server, int port)
      : server_(std::move(server)), port_(port) {}
  ~RunningServer() { Shutdown(); }

  int port() const { return port_; }
  grpc::Server* server() { return server_.get(); }
  // Stops accepting calls and waits up to 5 s for running ones. Idempotent.
  void Shutdown();
  // Blocks until Shutdown() is called from another thread.
  void Wait() { server_->Wait(); }

 private:
  std::unique_ptr<grpc::Server> server_;
  const int port_;
  bool shut_down_ = false;
};

// Validates a ListenConfig; `field` prefixes error messages, `plaintext_allowed` is false for the
// signer (trust rule 7: never plaintext).
void ValidateListenConfig(const v1::ListenConfig& listen, bool plaintext_allowed,
                          const std::string& field, class ConfigErrors* errors);

// Builds and starts a server for `services` on `listen.address`. Errors: the address cannot be
// bound (port in use), TLS files unreadable. On success writes listen.port_file if set.
absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(
    const v1::ListenConfig& listen, const std::vector<grpc::Service*>& services);

// The identities the TLS peer of `context` presents: DNS/URI subjectAltNames, else the subject CN.
std::vector<std::string> PeerIdentities(const grpc::AuthContext& context);

}  // namespace mecai

#endif  // MECAI_COMMON_GRPC_SERVER_H_
