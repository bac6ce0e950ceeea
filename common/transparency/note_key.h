// Keys of C2SP signed notes (https://c2sp.org/signed-note): key names, key IDs and the verifier key
// ("vkey") text form, for Ed25519 (signature type 0x01, RFC 8032), the one type a public log's
// checkpoint must carry (https://c2sp.org/tlog-tiles "Checkpoints").
//
//   key ID = first 4 bytes, big-endian, of SHA-256(key name || 0x0A || 0x01 || 32-byte public key)
//   vkey   = <key name>+<8 lower-case hex digits of the key ID>+base64(0x01 || public key)
//
// Status codes: INVALID_ARGUMENT for a malformed name, key or vkey.
#ifndef MECAI_COMMON_TRANSPARENCY_NOTE_KEY_H_
#define MECAI_COMMON_TRANSPARENCY_NOTE_KEY_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/openssl_types.h"

namespace mecai {

// The signature type byte of Ed25519 note signatures (c2sp.org/signed-note "Signature types").
inline constexpr uint8_t kNoteEd25519SignatureType = 0x01;
// Bytes of a raw Ed25519 public key and of a signature (RFC 8032 §5.1.5, §5.1.6).
inline constexpr size_t kEd25519PublicKeyBytes = 32;
inline constexpr size_t kEd25519SignatureBytes = 64;
// Longest key name accepted (the specification sets none; a bound keeps parsing bounded).
inline constexpr size_t kMaxNoteKeyNameBytes = 256;

// OK when `text` may be part of a signed note: valid UTF-8 without an ASCII control character
// (below U+0020) other than newline (c2sp.org/signed-note "Format"); INVALID_ARGUMENT otherwise.
absl::Status CheckNoteCharacters(absl::string_view text);

// OK when `name` is a key name: non-empty, valid UTF-8, no Unicode space (the White_Space ASCII
// characters and U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000),
// no '+', and no ASCII control character; at most kMaxNoteKeyNameBytes.
absl::Status CheckNoteKeyName(absl::string_view name);

// The key ID of an Ed25519 key (`public_key`: 32 bytes) under `name`.
uint32_t Ed25519NoteKeyId(absl::string_view name, absl::string_view public_key);

// The key ID of a key of signature type `type` (c2sp.org/signed-note "Verifier keys"): the first 4
// bytes, big-endian, of SHA-256(name || 0x0A || type || public_key). Ed25519NoteKeyId is type 0x01;
// a cosigner's Ed25519 key is type 0x04 (c2sp.org/tlog-cosignature,
// common/transparency/cosignature.h).
uint32_t NoteKeyId(absl::string_view name, uint8_t type, absl::string_view public_key);

// The 32 bytes of an Ed25519 public key (RFC 8032 §5.1.5); INVALID_ARGUMENT for another key type.
absl::StatusOr<std::string> Ed25519RawPublicKey(EVP_PKEY* key);

// An Ed25519 note verifier: who may sign, under which name and ID.
struct NoteVerifierKey {
  std::string name;
  uint32_t key_id = 0;
  // The 32 raw bytes.
  std::string public_key;
};

// The vkey text of `key` (no trailing newline).
std::string FormatVerifierKey(const NoteVerifierKey& key);
// The same for a 32-byte Ed25519 key of signature type `type` (key.key_id must be of that type).
std::string FormatVerifierKeyOfType(const NoteVerifierKey& key, uint8_t type);

// The verifier key of the Ed25519 key `public_key` (an EVP_PKEY) under `name`.
absl::StatusOr<NoteVerifierKey> Ed25519VerifierKey(absl::string_view name, EVP_PKEY* public_key);

// Parses a vkey: a name and a key ID, each followed by a '+', then the key (whose base64 may hold
// '+'); a valid name, 8 lower- or upper-case hex
// digits, canonical padded standard base64 (RFC 4648 §4) of 0x01 and 32 bytes, and a key ID equal
// to the one computed from the name and key. Other signature types are INVALID_ARGUMENT too.
absl::StatusOr<NoteVerifierKey> ParseVerifierKey(absl::string_view vkey);
// ParseVerifierKey for a 32-byte Ed25519 key of signature type `type` (0x01 for note signatures,
// 0x04 for cosignature/v1): a vkey of another type is INVALID_ARGUMENT.
absl::StatusOr<NoteVerifierKey> ParseVerifierKeyOfType(absl::string_view vkey, uint8_t type);

// Standard base64 with padding (RFC 4648 §4), and its strict inverse: INVALID_ARGUMENT unless
// `text` is exactly the encoding of some bytes (no whitespace, no missing or extra padding).
std::string Base64Encode(absl::string_view bytes);
absl::StatusOr<std::string> Base64DecodeStrict(absl::string_view text);

}  // namespace mecai

#endif  // MECAI_COMMON_TRANSPARENCY_NOTE_KEY_H_
