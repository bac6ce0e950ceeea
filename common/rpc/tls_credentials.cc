#include "common/rpc/tls_credentials.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/crypto/pem.h"

namespace mecai {
namespace {

constexpr absl::Duration kDefaultReloadInterval = absl::Seconds(60);

// What the file watcher would load, checked now so that a bad file stops the process at start
// (docs/ARCHITECTURE.md §10) instead of failing every handshake later.
absl::Status CheckIdentityFiles(const std::string& certificate_file,
                                const std::string& private_key_file) {
  auto chain = LoadPemCertificates(certificate_file);
  if (!chain.ok()) return Annotate(chain.status(), "tls.certificate_file");
  if (chain->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls.certificate_file ", certificate_file, " holds no certificate"));
  }
  auto key = LoadPemPrivateKey(private_key_file);
  if (!key.ok()) return Annotate(key.status(), "tls.private_key_file");
  if (X509_check_private_key(chain->front().get(), key->get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("tls.private_key_file ", private_key_file,
                                                   " is not the key of tls.certificate_file ",
                                                   certificate_file));
  }
  return absl::OkStatus();
}

absl::Status CheckCaFile(const std::string& ca_file, const std::string& field) {
  auto bundle = LoadPemCertificates(ca_file);
  if (!bundle.ok()) return Annotate(bundle.status(), field);
  if (bundle->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " ", ca_file, " holds no certificate"));
  }
  return absl::OkStatus();
}

unsigned int RefreshSeconds(uint32_t reload_interval_seconds) {
  return static_cast<unsigned int>(
      absl::ToInt64Seconds(TlsReloadInterval(reload_interval_seconds)));
}

}  // namespace

absl::Duration TlsReloadInterval(uint32_t reload_interval_seconds) {
  return reload_interval_seconds == 0 ? kDefaultReloadInterval
                                      : absl::Seconds(reload_interval_seconds);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ReloadingServerCredentials(
    const v1::ServerTls& tls) {
  RETURN_IF_ERROR(CheckIdentityFiles(tls.certificate_file(), tls.private_key_file()));
  RETURN_IF_ERROR(CheckCaFile(tls.client_ca_file(), "tls.client_ca_file"));
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls.private_key_file(), tls.certificate_file(), tls.client_ca_file(),
      RefreshSeconds(tls.reload_interval_seconds()));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ReloadingServerAuthenticatedCredentials(
    const std::string& certificate_file, const std::string& private_key_file,
    absl::Duration reload_interval) {
  RETURN_IF_ERROR(CheckIdentityFiles(certificate_file, private_key_file));
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      private_key_file, certificate_file,
      static_cast<unsigned int>(std::max<int64_t>(1, absl::ToInt64Seconds(reload_interval))));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  return grpc::experimental::TlsServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ReloadingChannelCredentials(
    const v1::ClientTls& tls) {
  RETURN_IF_ERROR(CheckCaFile(tls.server_ca_file(), "tls.server_ca_file"));
  // Without a certificate and key the client presents none: server-authenticated TLS, what the
  // coordinator's public endpoint serves (docs/PROTOCOL.md "The public endpoint").
  const bool presents_identity = !tls.certificate_file().empty() || !tls.private_key_file().empty();
  if (presents_identity) {
    RETURN_IF_ERROR(CheckIdentityFiles(tls.certificate_file(), tls.private_key_file()));
  }
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      presents_identity ? tls.private_key_file() : "",
      presents_identity ? tls.certificate_file() : "", tls.server_ca_file(),
      RefreshSeconds(tls.reload_interval_seconds()));
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  if (presents_identity) options.watch_identity_key_cert_pairs();
  // The chain is verified against the bundle, and, with no verifier set, gRPC checks the
  // certificate's name against the target name (RFC 6125).
  options.set_verify_server_certs(true);
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace mecai
