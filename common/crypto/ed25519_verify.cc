#include "common/crypto/ed25519_verify.h"

#include <sodium.h>

#include "absl/strings/str_cat.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/sodium_ready.h"

namespace mecai {

absl::Status VerifyEd25519(absl::string_view public_key, absl::string_view signature,
                           absl::string_view message) {
  static_assert(crypto_sign_ed25519_PUBLICKEYBYTES == kEd25519VerifyPublicKeyBytes);
  static_assert(crypto_sign_ed25519_BYTES == kEd25519VerifySignatureBytes);
  if (public_key.size() != kEd25519VerifyPublicKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("an Ed25519 public key is ",
                                                   kEd25519VerifyPublicKeyBytes, " bytes, not ",
                                                   public_key.size()));
  }
  if (signature.size() != kEd25519VerifySignatureBytes) {
    return absl::InvalidArgumentError(absl::StrCat("an Ed25519 signature is ",
                                                   kEd25519VerifySignatureBytes, " bytes, not ",
                                                   signature.size()));
  }
  if (!SodiumReady()) return absl::InternalError("libsodium cannot initialize (sodium_init)");
  // RFC 8032 §5.1.7, pure Ed25519, checked as [S]B = R + [k]A' without the cofactor. libsodium
  // (crypto_sign_ed25519_verify_detached, src/libsodium/crypto_sign/ed25519/ref10/open.c) also
  // refuses S ≥ L (the check of §5.1.7 step 1 that OpenSSL 3.0 makes too), an R or A of small
  // order, and a non-canonical A: signatures OpenSSL 3.0 would accept under a small-order key, or
  // with a small-order R, fail here (ed25519_verify_test), and nothing OpenSSL refuses passes.
  if (crypto_sign_ed25519_verify_detached(
          reinterpret_cast<const unsigned char*>(signature.data()),
          reinterpret_cast<const unsigned char*>(message.data()), message.size(),
          reinterpret_cast<const unsigned char*>(public_key.data())) != 0) {
    return absl::InvalidArgumentError("signature does not verify");
  }
  return absl::OkStatus();
}

absl::Status VerifyEd25519(EVP_PKEY* key, absl::string_view signature, absl::string_view message) {
  unsigned char raw[kEd25519VerifyPublicKeyBytes];
  size_t length = sizeof(raw);
  if (key == nullptr || !EVP_PKEY_is_a(key, "ED25519") ||
      EVP_PKEY_get_raw_public_key(key, raw, &length) != 1 ||
      length != kEd25519VerifyPublicKeyBytes) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError("the key is not an Ed25519 key");
  }
  return VerifyEd25519(absl::string_view(reinterpret_cast<const char*>(raw), length), signature,
                       message);
}

}  // namespace mecai
