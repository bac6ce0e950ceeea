// Signing and verifying detached signatures over byte strings (trust rule 1: sign bytes, not
// messages). The algorithm travels with the signature and must match the key.
#ifndef MECAI_COMMON_CRYPTO_SIGNATURE_H_
#define MECAI_COMMON_CRYPTO_SIGNATURE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/ed25519_sign.h"
#include "common/crypto/openssl_types.h"
#include "proto/mecai/v1/common.pb.h"

namespace mecai {

// The algorithm this code uses for `key`: ECDSA P-256/SHA-256, ECDSA P-384/SHA-384, Ed25519 or,
// for RSA keys of 2048 bits or more, RSASSA-PKCS1-v1_5 with SHA-256. Other keys: INVALID_ARGUMENT.
absl::StatusOr<v1::SignatureAlgorithm> AlgorithmForKey(EVP_PKEY* key);

// OK when `algorithm` can be verified with `key` (key type, curve, RSA ≥ 2048 bits).
absl::Status CheckAlgorithmMatchesKey(EVP_PKEY* key, v1::SignatureAlgorithm algorithm);

// Something that signs: a key in memory (probe agents, TLS servers' VRs) or in an HSM (the VA).
// Implementations are thread-safe.
class SigningKey {
 public:
  virtual ~SigningKey() = default;
  virtual absl::StatusOr<v1::Signature> Sign(absl::string_view data) = 0;
};

// A private key held in process memory. Thread-safe.
class InMemorySigningKey : public SigningKey {
 public:
  // Takes ownership of `key`; fails for unsupported key types, and for an Ed25519 key without its
  // private half.
  static absl::StatusOr<std::unique_ptr<InMemorySigningKey>> Create(EvpPkeyPtr key);
  // Ed25519 with libsodium (common/crypto/ed25519_sign.h: the signature OpenSSL would make, at a
  // third of the CPU); every other algorithm with OpenSSL (SignBytes).
  absl::StatusOr<v1::Signature> Sign(absl::string_view data) override;
  EVP_PKEY* key() const { return key_.get(); }

 private:
  InMemorySigningKey(EvpPkeyPtr key, v1::SignatureAlgorithm algorithm,
                     std::unique_ptr<Ed25519SecretKey> ed25519)
      : key_(std::move(key)), algorithm_(algorithm), ed25519_(std::move(ed25519)) {}
  const EvpPkeyPtr key_;
  const v1::SignatureAlgorithm algorithm_;
  // Set for an Ed25519 key.
  const std::unique_ptr<Ed25519SecretKey> ed25519_;
};

// Signs `data` with `key` under `algorithm`.
absl::StatusOr<v1::Signature> SignBytes(EVP_PKEY* key, v1::SignatureAlgorithm algorithm,
                                        absl::string_view data);

// OK iff `signature` is a valid signature of `data` under `key`; INVALID_ARGUMENT otherwise
// ("signature does not verify", or an algorithm/key mismatch). Ed25519 signatures are verified by
// libsodium (common/crypto/ed25519_verify.h), every other algorithm by OpenSSL.
absl::Status VerifySignature(EVP_PKEY* key, const v1::Signature& signature, absl::string_view data);

// DER ECDSA-Sig-Value from the raw r||s form PKCS#11 CKM_ECDSA returns (PKCS#11 v2.40 §2.3.1).
absl::StatusOr<std::string> EcdsaRawToDer(absl::string_view raw);

}  // namespace mecai

#endif  // MECAI_COMMON_CRYPTO_SIGNATURE_H_
