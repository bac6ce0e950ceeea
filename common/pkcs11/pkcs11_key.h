// A signing key held by a PKCS#11 token: the VA key of the signer (ARCHITECTURE.md §1 signer:
// "holds no key in memory") and, optionally, a probe agent's Observation key. For an EC P-256 key
// this process hashes in software and lets the token sign the digest with CKM_ECDSA (PKCS#11 v2.40
// Current Mechanisms §2.3.6); for an RSA key the token hashes and signs with CKM_SHA256_RSA_PKCS or
// CKM_SHA256_RSA_PKCS_PSS (§2.1.10, §2.1.15); for an Ed25519 key (CKK_EC_EDWARDS) the token signs
// the message with CKM_EDDSA, pure Ed25519 (PKCS#11 v3.0 Current Mechanisms §2.3.14, RFC 8032).
// This process only ever sees the public half.
#ifndef MECAI_COMMON_PKCS11_PKCS11_KEY_H_
#define MECAI_COMMON_PKCS11_PKCS11_KEY_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/signature.h"
#include "common/pkcs11/pkcs11_module.h"
#include "common/pkcs11/pkcs11_session_pool.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

// A key inside a PKCS#11 token, found by CKA_LABEL (a private and a public key object with the
// same label): EC P-256, signing ECDSA_P256_SHA256 in DER (RFC 5480 §2.2); RSA of at least 2048
// bits, signing RSA_PKCS1_SHA256 or, with config.rsa_pss(), RSA_PSS_SHA256 (RFC 8017 §8.2, §8.1);
// or Ed25519, signing ED25519 (RFC 8032 §5.1.6). Callers that accept only some of these check
// algorithm() after Open().
//
// The key keeps a pool of config.session_pool_size() logged-in sessions (Pkcs11SessionPool). Each
// Sign() takes a free session for the duration of one C_SignInit/C_Sign and waits on a condition
// variable while all are busy, so that many signatures run in the token at once.
//
// Every signature is checked against the public key before it leaves, so a token fault or a
// swapped key object cannot produce a bad VD. When a session is lost (token removed and
// reinserted, sessions closed by another user of the module), Sign() reopens that session and
// logs in again once, reading the PIN anew from its file or environment variable; the PIN is not
// kept in memory.
//
// Thread-safe. No Sign() may be running when the key is destroyed.
class Pkcs11SigningKey : public SigningKey {
 public:
  // Loads config.module_path(), logs in to the token config.token_label() with the PIN of
  // ReadPin(config), finds the private and public key labelled config.key_label(), checks that
  // they are EC P-256, RSA ≥ 2048 bits or Ed25519 and form a pair (one test signature), and opens
  // the session pool. Errors:
  //   NOT_FOUND           module file, PIN file, PIN variable, token label or key label absent
  //                       (the message names it);
  //   PERMISSION_DENIED   wrong or locked PIN (the message says "PIN");
  //   FAILED_PRECONDITION not EC P-256, RSA ≥ 2048 bits or Ed25519, halves of different types, not
  //                       allowed to sign, two keys with the label, halves that do not match,
  //                       rsa_pss with an EC or Ed25519 key, a mechanism the token lacks, a module
  //                       that is not PKCS#11;
  //   INVALID_ARGUMENT    an empty config field, both or neither PIN source, a pool larger than
  //                       kMaximumSessionPoolSize;
  //   INTERNAL            any other failed Cryptoki call, with its CKR name.
  //
  // `accepted`, when not empty, lists the algorithms the caller can use; a key of another kind is
  // FAILED_PRECONDITION "key '<label>' in token '<label>' is <kind> (<algorithm>); this key must be
  // <accepted, joined by " or ">", before any session beyond the first is opened or anything
  // is signed.
  static absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> Open(
      const v1::Pkcs11Config& config, std::vector<v1::SignatureAlgorithm> accepted = {});

  ~Pkcs11SigningKey() override;

  // EC: SHA-256 of `data` in software, then C_SignInit/C_Sign with CKM_ECDSA on the digest (v2.40
  // §5.11), the raw r||s converted to DER. Ed25519: C_Sign of `data` with CKM_EDDSA. RSA:
  // C_SignInit/C_Sign of `data` with CKM_SHA256_RSA_PKCS, or CKM_SHA256_RSA_PKCS_PSS with
  // {CKM_SHA256, CKG_MGF1_SHA256, 32}. Blocks while every session of the pool is busy. Errors carry
  // the CKR name: INTERNAL, UNAVAILABLE when the token is gone, PERMISSION_DENIED when logging in
  // again after a lost session fails; INTERNAL too when the token's signature does not verify with
  // the public key.
  absl::StatusOr<v1::Signature> Sign(absl::string_view data) override;

  // The public key, built at Open() from the token's CKA_EC_PARAMS and CKA_EC_POINT, or
  // CKA_MODULUS and CKA_PUBLIC_EXPONENT (for Ed25519 from CKA_EC_PARAMS and CKA_EC_POINT). Each
  // call returns a new reference. Never fails after a successful Open().
  absl::StatusOr<EvpPkeyPtr> PublicKey() const;

  // The algorithm of every signature: ECDSA_P256_SHA256, RSA_PKCS1_SHA256, RSA_PSS_SHA256 or
  // ED25519.
  v1::SignatureAlgorithm algorithm() const { return algorithm_; }

  // The number of sessions in the pool.
  size_t SessionPoolSize() const { return sessions_.size(); }
  // Sessions signing right now, and the most that ever were at once (for tests and metrics).
  size_t SessionsInUse() const { return sessions_.InUse(); }
  size_t SessionsInUseHighWater() const { return sessions_.InUseHighWater(); }

  // "key '<key label>' in token '<token label>'", for messages.
  std::string Description() const;

 private:
  Pkcs11SigningKey(const v1::Pkcs11Config& config, std::unique_ptr<Pkcs11Module> module,
                   EvpPkeyPtr public_key, v1::SignatureAlgorithm algorithm,
                   size_t signature_buffer_bytes, std::vector<Pkcs11PooledSession> sessions);

  // Sign() without the check against the public key.
  absl::StatusOr<v1::Signature> SignUnverified(absl::string_view data);
  // C_SignInit + C_Sign of `input` (the digest for EC, the data for RSA) in `pooled`; the
  // signature as the token returns it goes to `raw`. Returns the Cryptoki result.
  CK_RV SignWithSession(Pkcs11PooledSession& pooled, absl::string_view input,
                        std::string* raw) const;
  // Replaces the session of `pooled`: new session, login, private key found again by label.
  absl::Status Reconnect(Pkcs11PooledSession& pooled) const;
  // FAILED_PRECONDITION unless one signature by the token verifies with the public key: the
  // labels could name halves of two different pairs.
  absl::Status SelfTest();

  // Constant after construction.
  const v1::Pkcs11Config config_;
  const std::unique_ptr<Pkcs11Module> module_;
  const EvpPkeyPtr public_key_;
  const v1::SignatureAlgorithm algorithm_;
  // Large enough for any signature of the key (132 bytes for EC, the modulus size for RSA, 64 for
  // Ed25519).
  const size_t signature_buffer_bytes_;
  // Declared after module_: destroyed (C_CloseSession) before the module is finalized.
  Pkcs11SessionPool sessions_;
};

}  // namespace mecai

#endif  // MECAI_COMMON_PKCS11_PKCS11_KEY_H_
