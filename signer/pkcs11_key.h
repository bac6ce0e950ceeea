// The VA signing key, held by a PKCS#11 token (DESIGN §1 signer: "holds no key in memory"). The
// signer hashes in software and lets the token sign the digest with CKM_ECDSA (PKCS#11 v2.40
// Current Mechanisms §2.3.6); this process only ever sees the public half.
#ifndef MECAI_SIGNER_PKCS11_KEY_H_
#define MECAI_SIGNER_PKCS11_KEY_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/openssl_types.h"
#include "common/signature.h"
#include "proto/mecai/v1/config.pb.h"
#include "signer/pkcs11_module.h"

namespace mecai {

// CKA_EC_PARAMS of P-256: the DER of the namedCurve OID 1.2.840.10045.3.1.7 (prime256v1), the
// ECParameters choice of PKCS#11 v2.40 Current Mechanisms §2.3.3 and RFC 5480 §2.1.1.
inline constexpr absl::string_view kP256EcParams("\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07", 10);

// The user PIN stored in `path`: the file's bytes without trailing CR/LF. NOT_FOUND /
// PERMISSION_DENIED name the file; an empty PIN is INVALID_ARGUMENT. The PIN itself never appears
// in a message.
absl::StatusOr<std::string> ReadPinFile(const std::string& path);

// An EC P-256 public key from a key object's CKA_EC_PARAMS and CKA_EC_POINT (v2.40 Current
// Mechanisms §2.3.3: the point is the DER of an OCTET STRING holding the X9.62 point; a bare point,
// which some modules return, is accepted too). FAILED_PRECONDITION for another curve or a point
// that is not on P-256.
absl::StatusOr<EvpPkeyPtr> P256PublicKeyFromAttributes(absl::string_view ec_params,
                                                       absl::string_view ec_point);

// A session logged in as CKU_USER to the token `config.token_label()` of `module`, the PIN read
// from `config.pin_file()`. Before logging in it refuses a token whose flags say the PIN is locked
// (PERMISSION_DENIED), so a restart loop cannot burn PIN attempts on a locked token. Errors read
// "login to token '<label>' failed: wrong PIN (CKR_PIN_INCORRECT)" and the like.
absl::StatusOr<std::unique_ptr<Pkcs11Session>> OpenLoggedInSession(const Pkcs11Module& module,
                                                                   const v1::Pkcs11Config& config,
                                                                   bool read_write);

// The VA's EC P-256 key inside a PKCS#11 token, found by CKA_LABEL (a private and a public key
// object with the same label). Sign() returns ECDSA_P256_SHA256 signatures in DER (RFC 5480 §2.2).
//
// Every signature is checked against the public key before it leaves, so a token fault or a
// swapped key object cannot produce a bad VD. When the session is lost (token removed and
// reinserted, sessions closed by another user of the module), Sign() reopens it and logs in again
// once, re-reading the PIN file; the PIN is not kept in memory.
//
// Thread-safe: one session, serialized by a mutex (v2.40 §2.6.7: a session runs one operation at
// a time).
class Pkcs11SigningKey : public SigningKey {
 public:
  // Loads config.module_path(), logs in to the token config.token_label() with the PIN in
  // config.pin_file(), finds the private and public key labelled config.key_label(), checks that
  // they are EC P-256 and form a pair (one test signature). Errors:
  //   NOT_FOUND           module file, PIN file, token label or key label absent (the message
  //                       names it);
  //   PERMISSION_DENIED   wrong or locked PIN (the message says "PIN");
  //   FAILED_PRECONDITION not EC P-256, not allowed to sign, two keys with the label, halves that
  //                       do not match, a module that is not PKCS#11;
  //   INVALID_ARGUMENT    an empty config field;
  //   INTERNAL            any other failed Cryptoki call, with its CKR name.
  static absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> Open(const v1::Pkcs11Config& config);

  ~Pkcs11SigningKey() override = default;

  // SHA-256 of `data` in software, then C_SignInit/C_Sign with CKM_ECDSA on the digest (v2.40
  // §5.11), the raw r||s converted to DER. Errors carry the CKR name: INTERNAL, UNAVAILABLE when
  // the token is gone, PERMISSION_DENIED when logging in again after a lost session fails; INTERNAL
  // too when the token's signature does not verify with the public key.
  absl::StatusOr<v1::Signature> Sign(absl::string_view data) override;

  // The public key, built from the token's CKA_EC_PARAMS and CKA_EC_POINT at Open(). Each call
  // returns a new reference. Never fails after a successful Open().
  absl::StatusOr<EvpPkeyPtr> PublicKey() const;

  // "key '<key label>' in token '<token label>'", for messages.
  std::string Description() const;

 private:
  Pkcs11SigningKey(const v1::Pkcs11Config& config, std::unique_ptr<Pkcs11Module> module,
                   EvpPkeyPtr public_key, std::unique_ptr<Pkcs11Session> session,
                   CK_OBJECT_HANDLE private_key);

  // Sign() without the check against the public key.
  absl::StatusOr<v1::Signature> SignUnverified(absl::string_view data) ABSL_LOCKS_EXCLUDED(mutex_);
  // C_SignInit + C_Sign of `digest`; the raw signature goes to `raw`. Returns the Cryptoki result.
  CK_RV SignDigestLocked(absl::string_view digest, std::string* raw)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Replaces the session: new session, login, private key found again by label.
  absl::Status ReconnectLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  // Constant after construction.
  const v1::Pkcs11Config config_;
  const std::unique_ptr<Pkcs11Module> module_;
  const EvpPkeyPtr public_key_;

  absl::Mutex mutex_;
  // Declared after module_: destroyed (C_CloseSession) before the module is finalized.
  std::unique_ptr<Pkcs11Session> session_ ABSL_GUARDED_BY(mutex_);
  CK_OBJECT_HANDLE private_key_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace mecai

#endif  // MECAI_SIGNER_PKCS11_KEY_H_
