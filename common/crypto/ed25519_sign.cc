#include "common/crypto/ed25519_sign.h"

#include <sodium.h>

#include "common/crypto/openssl_error.h"
#include "common/crypto/sodium_ready.h"

namespace mecai {

absl::StatusOr<std::unique_ptr<Ed25519SecretKey>> Ed25519SecretKey::FromEvpKey(EVP_PKEY* key) {
  static_assert(sizeof(Ed25519SecretKey::secret_key_) == crypto_sign_ed25519_SECRETKEYBYTES);
  unsigned char seed[crypto_sign_ed25519_SEEDBYTES];
  size_t length = sizeof(seed);
  if (key == nullptr || !EVP_PKEY_is_a(key, "ED25519") ||
      EVP_PKEY_get_raw_private_key(key, seed, &length) != 1 || length != sizeof(seed)) {
    ClearOpenSslErrors();
    sodium_memzero(seed, sizeof(seed));
    return absl::InvalidArgumentError("the key is not an Ed25519 private key");
  }
  if (!SodiumReady()) {
    sodium_memzero(seed, sizeof(seed));
    return absl::InternalError("libsodium cannot initialize (sodium_init)");
  }
  std::unique_ptr<Ed25519SecretKey> secret(new Ed25519SecretKey());
  unsigned char public_key[crypto_sign_ed25519_PUBLICKEYBYTES];
  // RFC 8032 §5.1.5: the key pair from the seed, as OpenSSL derives it.
  crypto_sign_ed25519_seed_keypair(public_key, secret->secret_key_, seed);
  sodium_memzero(seed, sizeof(seed));
  return secret;
}

Ed25519SecretKey::~Ed25519SecretKey() { sodium_memzero(secret_key_, sizeof(secret_key_)); }

std::string Ed25519SecretKey::Sign(absl::string_view message) const {
  std::string signature(crypto_sign_ed25519_BYTES, '\0');
  crypto_sign_ed25519_detached(reinterpret_cast<unsigned char*>(&signature[0]), nullptr,
                               reinterpret_cast<const unsigned char*>(message.data()),
                               message.size(), secret_key_);
  return signature;
}

}  // namespace mecai
