// The OpenSSL library context the probe agent's TLS client contexts are made in
// (probe_agent/tls_engine.h; docs/PERFORMANCE.md, "Probe engine: client CPU per full handshake").
//
// OpenSSL 3.0 decodes the public key of every certificate it parses through the decoder framework:
// each d2i_X509 of a server's chain builds an OSSL_DECODER_CTX, which enumerates every key manager
// and every decoder its library context offers (PEM, MSBLOB, PVK, PrivateKeyInfo, type-specific,
// ... 40 decoders in the default provider) and keeps the few that read a DER
// SubjectPublicKeyInfo (RFC 5280 §4.1.2.7); each such enumeration also copies the context's whole
// method store (every cipher, digest, MAC, ... fetched so far). In the agent's profile that was
// over a third of the client CPU of a handshake.
//
// This context (common/crypto/filtered_library_context.h) offers the default provider's own
// implementations, with the default provider's provider context, but fewer of them: the decoders of
// a DER SubjectPublicKeyInfo only, the key managers but six no TLS handshake uses (TLS1-PRF, HKDF,
// SCRYPT, SIPHASH, POLY1305, CMAC), the ciphers of TLS cipher suites only and the digests of TLS
// only (MD5, SHA-1, SHA-2, MD5-SHA1). Everything else (signatures, key exchanges, KDFs, MACs,
// random generators, the TLS-GROUP capability) is the default provider's unchanged. A certificate
// decodes to the same key and the ClientHello is byte for byte the default context's but its random
// parts (probe_library_context_test), with a few algorithms to enumerate instead of hundreds.
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
