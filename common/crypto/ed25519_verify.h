// Verification of pure Ed25519 signatures (RFC 8032 §5.1.7: no context, no prehash) with
// libsodium, about twice as fast as OpenSSL 3.0 on the same machine (docs/PERFORMANCE.md,
// "What it means for the ≤ 1 ms goal"). Every Ed25519 signature this repository verifies goes
// through here: VerifySignature (common/crypto/signature.h) for v1::ED25519, and the signed notes
// of the public log (common/transparency/signed_note.h).
#ifndef MECAI_COMMON_CRYPTO_ED25519_VERIFY_H_
#define MECAI_COMMON_CRYPTO_ED25519_VERIFY_H_

#include <openssl/evp.h>

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mecai {

// An encoded Ed25519 public key (RFC 8032 §5.1.5) and signature R || S (§5.1.6).
inline constexpr size_t kEd25519VerifyPublicKeyBytes = 32;
inline constexpr size_t kEd25519VerifySignatureBytes = 64;

// OK iff `signature` is a valid Ed25519 signature of `message` under the encoded public key
// `public_key`. Stricter than RFC 8032 §5.1.7 requires, and than OpenSSL 3.0: besides S ≥ L, it
// refuses a public key or an R that is not canonical or is a point of small order
// (ed25519_verify_test). INVALID_ARGUMENT:
//   "an Ed25519 public key is 32 bytes, not <n>"
//   "an Ed25519 signature is 64 bytes, not <n>"
//   "signature does not verify"
// INTERNAL when libsodium cannot initialize. Thread-safe.
absl::Status VerifyEd25519(absl::string_view public_key, absl::string_view signature,
                           absl::string_view message);

// The same with the public key of `key`, which must be an Ed25519 key ("the key is not an Ed25519
// key" otherwise, INVALID_ARGUMENT).
absl::Status VerifyEd25519(EVP_PKEY* key, absl::string_view signature, absl::string_view message);

}  // namespace mecai

#endif  // MECAI_COMMON_CRYPTO_ED25519_VERIFY_H_
