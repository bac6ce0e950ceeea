// A TLS handshake between a client and a server SSL joined by a BIO pair, driven in one thread: for
// tests and benchmarks of TLS code without sockets.
#ifndef MECAI_COMMON_TESTING_IN_MEMORY_HANDSHAKE_H_
#define MECAI_COMMON_TESTING_IN_MEMORY_HANDSHAKE_H_

#include <openssl/ssl.h>

#include "absl/status/status.h"

namespace mecai {

// Runs the handshake of `client` against `server` over a BIO pair (each SSL takes its end). OK when
// both finished; otherwise UNAVAILABLE with the drained OpenSSL errors of whichever side failed,
// or DEADLINE_EXCEEDED when neither finishes within 64 rounds.
absl::Status HandshakeInMemory(SSL* client, SSL* server);

}  // namespace mecai

#endif  // MECAI_COMMON_TESTING_IN_MEMORY_HANDSHAKE_H_
