// The OpenSSL library context the probe agent's TLS client contexts are made in
// (probe_agent/tls_engine.h; docs/PERFORMANCE.md, "Probe engine: client CPU per full handshake").
//
// OpenSSL 3.0 decodes the public key of every certificate it parses through the decoder framework:
// each d2i_X509 of a server's chain builds an OSSL_DECODER_CTX, which enumerates and constructs
// every key manager and every decoder its library context offers (PEM, MSBLOB, PVK,
// PrivateKeyInfo, type-specific, ... 40 decoders in the default provider), then keeps the few that
// read a DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7). In the agent's profile that was over a third
// of the client CPU of a handshake. This context offers exactly the default provider's algorithms,
// the same implementations with the same provider context, except that its decoders are only those
// of a DER SubjectPublicKeyInfo: a server's certificate decodes to the same key, with a few
// decoders to enumerate instead of forty.
#ifndef MECAI_PROBE_AGENT_PROBE_LIBRARY_CONTEXT_H_
#define MECAI_PROBE_AGENT_PROBE_LIBRARY_CONTEXT_H_

#include <openssl/types.h>

#include "absl/status/statusor.h"

namespace mecai {
namespace probe_agent {

// The process's probe library context, made on the first call and kept until the process exits.
// Thread-safe. INTERNAL when OpenSSL cannot load the default provider or make the context.
absl::StatusOr<OSSL_LIB_CTX*> ProbeLibraryContext();

}  // namespace probe_agent
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_PROBE_LIBRARY_CONTEXT_H_
