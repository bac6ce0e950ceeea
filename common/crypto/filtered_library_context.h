// OpenSSL library contexts that offer fewer of the default provider's algorithms, to make OpenSSL
// 3.0's certificate parsing cheaper (docs/PERFORMANCE.md, "Probe engine: client CPU per full
// handshake" and "Where the coordinator's CPU per VR goes").
//
// OpenSSL 3.0 decodes the public key of every certificate it parses through the decoder framework:
// each d2i_X509 builds an OSSL_DECODER_CTX, which enumerates every key manager and every decoder
// its library context offers (PEM, MSBLOB, PVK, PrivateKeyInfo, type-specific, ... 40 decoders in
// the default provider) and keeps the few that read a DER SubjectPublicKeyInfo (RFC 5280
// §4.1.2.7); each such enumeration also copies the context's whole method store (every cipher,
// digest, MAC, ... fetched so far).
//
// A filtered context's one provider offers the default provider's own implementations, with the
// default provider's provider context, minus those its filter rejects, for four operations:
// decoders, key managers, ciphers and digests. Every other operation (signatures, key exchanges,
// KDFs, MACs, random generators, the TLS-GROUP capability) is the default provider's unchanged.
#ifndef MECAI_COMMON_CRYPTO_FILTERED_LIBRARY_CONTEXT_H_
#define MECAI_COMMON_CRYPTO_FILTERED_LIBRARY_CONTEXT_H_

#include <openssl/core.h>
#include <openssl/types.h>

#include "absl/status/statusor.h"

namespace mecai {

// Whether a filtered context keeps `algorithm` of operation `operation_id` (OSSL_OP_DECODER,
// OSSL_OP_KEYMGMT, OSSL_OP_CIPHER or OSSL_OP_DIGEST; asked of no other operation).
using AlgorithmFilter = bool (*)(int operation_id, const OSSL_ALGORITHM& algorithm);

// The filtered contexts this process may make, one of each, each with its own provider.
enum class FilteredContext {
  // The probe agent's TLS client contexts (probe_agent/probe_library_context.h).
  kProbe = 0,
  // Certificates parsed to be checked (CertificateLibraryContext below).
  kCertificates = 1,
};

// Makes the library context `which`, whose provider (named `provider_name`) keeps what `keep`
// keeps. Call once per `which`, for the process's lifetime; a second call for the same `which`
// is FAILED_PRECONDITION. INTERNAL when OpenSSL cannot load the default provider or make the
// context.
absl::StatusOr<OSSL_LIB_CTX*> MakeFilteredLibraryContext(FilteredContext which,
                                                         const char* provider_name,
                                                         AlgorithmFilter keep);

// Whether a decoder reads a DER SubjectPublicKeyInfo, the one structure a certificate's key is in.
bool IsSubjectPublicKeyInfoDecoder(const OSSL_ALGORITHM& algorithm);

// The context in which ParseDerCertificate (common/crypto/pem.h) parses certificates: every
// algorithm of the default provider but the decoders that do not read a DER
// SubjectPublicKeyInfo. A certificate parsed in it has the same key, verifies with the same
// signature and digest algorithms and validates as in the default context
// (certificate_library_context_test). Made on the first call and kept until the process exits.
// Thread-safe. INTERNAL when it cannot be made.
absl::StatusOr<OSSL_LIB_CTX*> CertificateLibraryContext();

}  // namespace mecai

#endif  // MECAI_COMMON_CRYPTO_FILTERED_LIBRARY_CONTEXT_H_
