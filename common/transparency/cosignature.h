// C2SP transparency-log cosignatures of type cosignature/v1 (https://c2sp.org/tlog-cosignature):
// a witness's Ed25519 statement that, as of a time, the checkpoint is the largest consistent tree
// it has observed of the log named by the checkpoint's origin.
//
//   key ID         = first 4 bytes of SHA-256(<name> || 0x0A || 0x04 || 32-byte public key)
//   vkey           = <name>+<8 hex digits of the key ID>+base64(0x04 || public key)
//   signed message = "cosignature/v1\n" "time <POSIX seconds, decimal>\n" <checkpoint note text>
//   signature line = "— <name> base64(key ID || timestamp (8 bytes, big-endian) || Ed25519 sig)"
//
// The signed message begins with "cosignature/v1\n", which no checkpoint's origin line is (an
// origin is a URL prefix, c2sp.org/tlog-checkpoint), and a cosigner key is a key of its own,
// never a log key (docs/PUBLIC_LOG.md "Witnesses").
//
// Status codes: INVALID_ARGUMENT for a malformed key, text or cosignature; PERMISSION_DENIED when a
// cosignature does not verify.
#ifndef MECAI_COMMON_TRANSPARENCY_COSIGNATURE_H_
#define MECAI_COMMON_TRANSPARENCY_COSIGNATURE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/signature.h"
#include "common/transparency/note_key.h"
#include "common/transparency/signed_note.h"

namespace mecai {

// The signature type byte of Ed25519 cosignature/v1 keys (c2sp.org/tlog-cosignature "Format").
inline constexpr uint8_t kCosignatureV1SignatureType = 0x04;
// Bytes after the key ID: an 8-byte timestamp and a 64-byte Ed25519 signature.
inline constexpr size_t kCosignatureV1Bytes = 8 + kEd25519SignatureBytes;
// Timestamps are at most 2^63 - 1 (c2sp.org/tlog-cosignature "Format").
inline constexpr uint64_t kMaxCosignatureTimestamp = (uint64_t{1} << 63) - 1;

// The cosigner key of the Ed25519 key `public_key` under `name` (a valid note key name); its
// key_id is of type 0x04.
absl::StatusOr<NoteVerifierKey> CosignerKey(absl::string_view name, EVP_PKEY* public_key);

// The vkey of a cosigner key, and its strict inverse (type 0x04 only; a note vkey of type 0x01
// is INVALID_ARGUMENT, as is a key ID that is not the one of the name and key).
std::string FormatCosignerVkey(const NoteVerifierKey& key);
absl::StatusOr<NoteVerifierKey> ParseCosignerVkey(absl::string_view vkey);

// "cosignature/v1\ntime <timestamp>\n" followed by `checkpoint_text` (the note text, final newline
// included, no signature line).
std::string CosignatureV1Message(absl::string_view checkpoint_text, uint64_t timestamp);

// Cosigns `checkpoint_text` at `timestamp` with `signer`, which must make pure Ed25519 signatures
// with the key of `key` (a PKCS#11 Pkcs11SigningKey or an in-memory key). The signature is checked
// against key.public_key before it is returned (INTERNAL otherwise). INVALID_ARGUMENT for a text
// that is not a note text or a timestamp beyond kMaxCosignatureTimestamp.
absl::StatusOr<NoteSignature> SignCosignatureV1(absl::string_view checkpoint_text,
                                                const NoteVerifierKey& key, uint64_t timestamp,
                                                SigningKey& signer);

// The timestamp of a cosignature/v1 signature (the bytes after the key ID), not verified.
// INVALID_ARGUMENT unless it is 72 bytes with a timestamp of at most kMaxCosignatureTimestamp.
absl::StatusOr<uint64_t> CosignatureV1Timestamp(absl::string_view signature);

// Verifies `signature` (a signature line of key.name with key.key_id, as ParseSignedNote returns)
// as `key`'s cosignature/v1 of `checkpoint_text`, and returns its timestamp. INVALID_ARGUMENT when
// it is not 72 bytes or its timestamp is beyond kMaxCosignatureTimestamp; PERMISSION_DENIED when
// the name or key ID is not key's or the Ed25519 signature does not verify.
absl::StatusOr<uint64_t> VerifyCosignatureV1(absl::string_view checkpoint_text,
                                             const NoteVerifierKey& key,
                                             const NoteSignature& signature);

// The signature line of `signature` ("— <name> <base64>\n"), as a witness answers it
// (c2sp.org/tlog-witness "add-checkpoint").
std::string FormatNoteSignatureLine(const NoteSignature& signature);

}  // namespace mecai

#endif  // MECAI_COMMON_TRANSPARENCY_COSIGNATURE_H_
