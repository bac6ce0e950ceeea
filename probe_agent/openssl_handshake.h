// The probe's TLS client on OpenSSL 3 (probe_agent/tls_handshake.h): one SSL_CTX per offer, made
// once in ProbeLibraryContext() (probe_agent/probe_library_context.h), an SSL object per handshake
// driven by SSL_do_handshake and SSL_ERROR_WANT_READ/WANT_WRITE, freed the moment it completes.
#ifndef MECAI_PROBE_AGENT_OPENSSL_HANDSHAKE_H_
#define MECAI_PROBE_AGENT_OPENSSL_HANDSHAKE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/crypto/openssl_types.h"
#include "probe_agent/tls_handshake.h"
#include "proto/mecai/v1/probe.pb.h"

namespace mecai {
namespace probe_agent {

// The client: the default offer and one per key type of kSelectableKeyTypes.
absl::StatusOr<std::unique_ptr<TlsClient>> CreateOpenSslClient(const TlsClientOptions& options);

// A TLS client context for probing, in ProbeLibraryContext(): no certificate verification, never
// a resumed session, the versions and groups of `options`, and, unless `key_type` is
// CERTIFICATE_KEY_TYPE_UNSPECIFIED, only the offer that selects a certificate of `key_type`
// (RestrictOfferToKeyType). INVALID_ARGUMENT for versions or groups OpenSSL refuses, or a key type
// no offer exists for.
absl::StatusOr<SslCtxPtr> CreateProbeSslContext(
    const TlsClientOptions& options,
    v1::CertificateKeyType key_type = v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED);

// The same context made in `library` (nullptr: OpenSSL's default library context) instead of
// ProbeLibraryContext(): for comparing what the probe offers with what OpenSSL's default context
// would.
absl::StatusOr<SslCtxPtr> CreateProbeSslContextIn(
    OSSL_LIB_CTX* library, const TlsClientOptions& options,
    v1::CertificateKeyType key_type = v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED);

}  // namespace probe_agent
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_OPENSSL_HANDSHAKE_H_
