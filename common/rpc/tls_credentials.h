// Mutual TLS credentials that follow their files (trust rule 7; docs/ARCHITECTURE.md "Certificate
// rotation"): the identity (certificate chain and private key) and the CA bundle are checked for
// changes every reload interval and, once changed, used for every new handshake without a restart
// (gRPC's FileWatcherCertificateProvider). Connections already open keep the handshake they made.
// A CA is rotated by overlap: the bundle holds the old and the new CA while identities move over.
#ifndef MECAI_COMMON_RPC_TLS_CREDENTIALS_H_
#define MECAI_COMMON_RPC_TLS_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

// ServerTls/ClientTls.reload_interval_seconds, with its default (60 s) when 0.
absl::Duration TlsReloadInterval(uint32_t reload_interval_seconds);

// Server credentials that ask for and verify a client certificate chaining to tls.client_ca_file,
// presenting tls.certificate_file. The files are read and checked now (NOT_FOUND or
// PERMISSION_DENIED naming an unreadable file, INVALID_ARGUMENT for one that does not parse or a
// key that does not match its certificate), then followed. The client identity allowlist is the
// caller's (grpc::ServerCredentials::SetAuthMetadataProcessor).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ReloadingServerCredentials(
    const v1::ServerTls& tls);

// Server credentials that present certificate_file and ask for no client certificate
// (server-authenticated TLS, the public Vouch endpoint: docs/PROTOCOL.md "The public endpoint"),
// the pair checked now as ReloadingServerCredentials's and then followed every `reload_interval`.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ReloadingServerAuthenticatedCredentials(
    const std::string& certificate_file, const std::string& private_key_file,
    absl::Duration reload_interval);

// Channel credentials that verify the server's certificate against tls.server_ca_file and its
// name against the channel's target name (the caller sets tls.server_identity as the SSL target
// name override), presenting tls.certificate_file when it and tls.private_key_file are set; files
// checked now and followed, errors as ReloadingServerCredentials's.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ReloadingChannelCredentials(
    const v1::ClientTls& tls);

}  // namespace mecai

#endif  // MECAI_COMMON_RPC_TLS_CREDENTIALS_H_
