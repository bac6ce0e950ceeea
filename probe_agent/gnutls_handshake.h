// The probe's TLS client on GnuTLS (probe_agent/tls_handshake.h): one priority cache per offer and
// one empty certificate credential, made once; a session per handshake (gnutls_init with
// GNUTLS_CLIENT | GNUTLS_NONBLOCK) on the engine's socket, driven by gnutls_handshake and
// GNUTLS_E_AGAIN with gnutls_record_get_direction, freed the moment it completes. GnuTLS verifies
// nothing it is not asked to, keeps the server's certificates as received
// (gnutls_certificate_get_peers); it parses only the leaf's key in TLS 1.3, every certificate
// strictly in TLS 1.2 (docs/PERFORMANCE.md "Probe engine on GnuTLS", what still differs).
#ifndef MECAI_PROBE_AGENT_GNUTLS_HANDSHAKE_H_
#define MECAI_PROBE_AGENT_GNUTLS_HANDSHAKE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "probe_agent/tls_handshake.h"
#include "proto/mecai/v1/probe.pb.h"

namespace mecai {
namespace probe_agent {

// The client: the default offer and one per key type of kSelectableKeyTypes. INVALID_ARGUMENT for
// a group GnuTLS has no name for.
absl::StatusOr<std::unique_ptr<TlsClient>> CreateGnuTlsClient(const TlsClientOptions& options);

// The GnuTLS priority string of an offer (gnutls_priority_init): the versions and groups of
// `options` (the groups translated from OpenSSL's names), the AEAD and CBC ciphers of TLS 1.2 and
// TLS 1.3, AES-128-GCM first; for CERTIFICATE_KEY_TYPE_UNSPECIFIED the OpenSSL client's default
// signature algorithms in its order and the ECDHE_ECDSA, ECDHE_RSA, DHE_RSA and RSA key exchanges,
// otherwise exactly
// OfferSelecting(`key_type`) (common/crypto/certificate_key_type.h) in GnuTLS's names.
absl::StatusOr<std::string> GnuTlsPriority(const TlsClientOptions& options,
                                           v1::CertificateKeyType key_type);

}  // namespace probe_agent
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_GNUTLS_HANDSHAKE_H_
