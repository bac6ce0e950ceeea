// Signing with an Ed25519 key held in memory (pure Ed25519, RFC 8032 §5.1.6) with libsodium.
// Ed25519 is deterministic: the signature is the very one OpenSSL makes with the same key and
// message (ed25519_sign_test), in about a third of the CPU of OpenSSL 3.0's EVP_DigestSign
// (docs/PERFORMANCE.md "Observation signatures with libsodium"). InMemorySigningKey
// (common/crypto/signature.h) signs every Ed25519 signature through here: an agent's
// Observations, among others.
#ifndef MECAI_COMMON_CRYPTO_ED25519_SIGN_H_
#define MECAI_COMMON_CRYPTO_ED25519_SIGN_H_

#include <openssl/evp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mecai {

class Ed25519SecretKey {
 public:
  // The libsodium form of `key`'s private key (its 32-byte seed, RFC 8032 §5.1.5). INVALID_ARGUMENT
  // when `key` is not an Ed25519 private key; INTERNAL when libsodium cannot initialize.
  static absl::StatusOr<std::unique_ptr<Ed25519SecretKey>> FromEvpKey(EVP_PKEY* key);
  // Wipes the key from memory.
  ~Ed25519SecretKey();
  Ed25519SecretKey(const Ed25519SecretKey&) = delete;
  Ed25519SecretKey& operator=(const Ed25519SecretKey&) = delete;

  // The 64-byte signature R || S of `message`. Thread-safe.
  std::string Sign(absl::string_view message) const;

 private:
  Ed25519SecretKey() = default;
  // libsodium's secret key: the seed, then the public key (crypto_sign_SECRETKEYBYTES).
  unsigned char secret_key_[64];
};

}  // namespace mecai

#endif  // MECAI_COMMON_CRYPTO_ED25519_SIGN_H_
