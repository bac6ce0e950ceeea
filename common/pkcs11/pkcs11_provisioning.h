// Setting up an HSM for the signer or a probe agent: a SoftHSM2 token in a directory of its own,
// and an EC P-256, RSA or Ed25519 key pair generated inside a token (the private key never exists
// outside it). Used by `mecai demo`, by tests (a fresh token per test) and by operators preparing a
// development signer.
#ifndef MECAI_COMMON_PKCS11_PKCS11_PROVISIONING_H_
#define MECAI_COMMON_PKCS11_PKCS11_PROVISIONING_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/crypto/openssl_types.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

// Where Debian's softhsm2 package installs the module.
inline constexpr char kSoftHsmModulePath[] = "/usr/lib/softhsm/libsofthsm2.so";

// The SoftHSM2 configuration file InitSoftHsmToken writes for `directory`.
std::string SoftHsmConfigPath(const std::string& directory);

// Creates an initialized SoftHSM2 token labelled `token_label`, stored under `directory`:
//   * writes <directory>/softhsm2.conf (directories.tokendir = <directory>/tokens,
//     objectstore.backend = file, log.level = ERROR) and creates <directory>/tokens;
//   * sets SOFTHSM2_CONF of this process to that file (setenv), so that SoftHSM2 loaded here later,
//     and child processes, use this token directory;
//   * runs `softhsm2-util --init-token --free --label L --pin P --so-pin S` (found on PATH; stdin
//     /dev/null; stdout and stderr captured). A non-zero exit is INTERNAL with the tool's output.
// A relative `directory` is made absolute. Labels have 1 to 32 bytes, PINs 4 to 255
// (INVALID_ARGUMENT otherwise). The PINs never appear in messages; note that they are visible in
// the tool's command line while it runs, so use this for development and test tokens only.
//
// SoftHSM2 reads SOFTHSM2_CONF in C_Initialize: call this before any Pkcs11Module for SoftHSM2 is
// loaded in the process (or after all are destroyed), and not while other threads read the
// environment (setenv is not thread-safe).
absl::Status InitSoftHsmToken(const std::string& directory, const std::string& token_label,
                              const std::string& user_pin, const std::string& so_pin);

// Logs in to the token config.token_label() of config.module_path() with the PIN of
// ReadPin(config) (pin_file or pin_environment_variable) and generates an EC P-256 key pair with
// C_GenerateKeyPair and CKM_EC_KEY_PAIR_GEN (PKCS#11 v2.40 §5.14, Current Mechanisms §2.3.5), both
// halves labelled config.key_label() with one random CKA_ID:
//   private key: CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, CKA_SIGN true; CKA_EXTRACTABLE false;
//   public key:  CKA_TOKEN, CKA_VERIFY true; CKA_EC_PARAMS the P-256 OID.
// Returns the public key. ALREADY_EXISTS when a private key with that label is in the token; the
// other errors are those of Pkcs11SigningKey::Open.
absl::StatusOr<EvpPkeyPtr> GenerateEcKeyPairInToken(const v1::Pkcs11Config& config);

// The same with an Ed25519 key pair (RFC 8032), generated with CKM_EC_EDWARDS_KEY_PAIR_GEN
// (PKCS#11 v3.0 Current Mechanisms §2.3.11), CKA_EC_PARAMS the id-Ed25519 OID; the private key has
// CKA_DERIVE false. A probe agent's Observation key.
absl::StatusOr<EvpPkeyPtr> GenerateEd25519KeyPairInToken(const v1::Pkcs11Config& config);

// The same with an RSA key pair of `modulus_bits` bits and public exponent 65537, generated with
// CKM_RSA_PKCS_KEY_PAIR_GEN (Current Mechanisms §2.1.4):
//   private key: CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, CKA_SIGN true; CKA_EXTRACTABLE,
//                CKA_DECRYPT, CKA_UNWRAP false;
//   public key:  CKA_TOKEN, CKA_VERIFY true; CKA_ENCRYPT, CKA_WRAP false.
// INVALID_ARGUMENT unless 2048 <= modulus_bits <= 8192 and a multiple of 8.
absl::StatusOr<EvpPkeyPtr> GenerateRsaKeyPairInToken(const v1::Pkcs11Config& config,
                                                     size_t modulus_bits);

}  // namespace mecai

#endif  // MECAI_COMMON_PKCS11_PKCS11_PROVISIONING_H_
