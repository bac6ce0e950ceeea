#include "common/transparency/note_key.h"

#include <openssl/evp.h>

#include <cstddef>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"

namespace mecai {
namespace {

// Decodes one UTF-8 code point at `text[*offset]`, advancing the offset; false for an invalid or
// overlong sequence or a surrogate.
bool NextCodePoint(absl::string_view text, size_t* offset, uint32_t* code_point) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char first = byte(*offset);
  size_t length = 0;
  uint32_t value = 0;
  if (first < 0x80) {
    length = 1;
    value = first;
  } else if ((first & 0xe0) == 0xc0) {
    length = 2;
    value = first & 0x1f;
  } else if ((first & 0xf0) == 0xe0) {
    length = 3;
    value = first & 0x0f;
  } else if ((first & 0xf8) == 0xf0) {
    length = 4;
    value = first & 0x07;
  } else {
    return false;
  }
  if (*offset + length > text.size()) return false;
  for (size_t i = 1; i < length; ++i) {
    const unsigned char next = byte(*offset + i);
    if ((next & 0xc0) != 0x80) return false;
    value = (value << 6) | (next & 0x3f);
  }
  static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (value < kSmallest[length] || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) {
    return false;
  }
  *offset += length;
  *code_point = value;
  return true;
}

// Unicode White_Space (what Go's unicode.IsSpace reports).
bool IsUnicodeSpace(uint32_t c) {
  return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
         c == 0x3000;
}

}  // namespace

absl::Status CheckNoteCharacters(absl::string_view text) {
  for (size_t offset = 0; offset < text.size();) {
    const size_t at = offset;
    uint32_t c = 0;
    if (!NextCodePoint(text, &offset, &c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("a signed note must be valid UTF-8 (byte ", at, ")"));
    }
    if (c < 0x20 && c != '\n') {
      return absl::InvalidArgumentError(absl::StrFormat(
          "a signed note has no control character but newline (U+%04X at byte %d)", c, at));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckNoteKeyName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxNoteKeyNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a note key name has 1 to ", kMaxNoteKeyNameBytes, " bytes, not ", name.size()));
  }
  for (size_t offset = 0; offset < name.size();) {
    uint32_t c = 0;
    if (!NextCodePoint(name, &offset, &c)) {
      return absl::InvalidArgumentError("a note key name must be valid UTF-8");
    }
    if (c < 0x20 || c == '+' || IsUnicodeSpace(c)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("a note key name has no space, '+' or control character (U+%04X)", c));
    }
  }
  return absl::OkStatus();
}

uint32_t Ed25519NoteKeyId(absl::string_view name, absl::string_view public_key) {
  return NoteKeyId(name, kNoteEd25519SignatureType, public_key);
}

uint32_t NoteKeyId(absl::string_view name, uint8_t type, absl::string_view public_key) {
  const std::string digest =
      Sha256(absl::StrCat(name, "\n", std::string(1, static_cast<char>(type)), public_key));
  uint32_t id = 0;
  for (size_t i = 0; i < 4; ++i) id = (id << 8) | static_cast<unsigned char>(digest[i]);
  return id;
}

absl::StatusOr<std::string> Ed25519RawPublicKey(EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("a note signing key must be Ed25519 (RFC 8032)");
  }
  std::string raw(kEd25519PublicKeyBytes, '\0');
  size_t length = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &length) !=
          1 ||
      length != kEd25519PublicKeyBytes) {
    return absl::InvalidArgumentError("the Ed25519 public key cannot be read");
  }
  return raw;
}

std::string FormatVerifierKey(const NoteVerifierKey& key) {
  return FormatVerifierKeyOfType(key, kNoteEd25519SignatureType);
}

std::string FormatVerifierKeyOfType(const NoteVerifierKey& key, uint8_t type) {
  return absl::StrCat(
      key.name, "+", absl::StrFormat("%08x", key.key_id), "+",
      Base64Encode(absl::StrCat(std::string(1, static_cast<char>(type)), key.public_key)));
}

absl::StatusOr<NoteVerifierKey> Ed25519VerifierKey(absl::string_view name, EVP_PKEY* public_key) {
  RETURN_IF_ERROR(CheckNoteKeyName(name));
  NoteVerifierKey key;
  key.name = std::string(name);
  ASSIGN_OR_RETURN(key.public_key, Ed25519RawPublicKey(public_key));
  key.key_id = Ed25519NoteKeyId(key.name, key.public_key);
  return key;
}

absl::StatusOr<NoteVerifierKey> ParseVerifierKey(absl::string_view vkey) {
  return ParseVerifierKeyOfType(vkey, kNoteEd25519SignatureType);
}

absl::StatusOr<NoteVerifierKey> ParseVerifierKeyOfType(absl::string_view vkey, uint8_t type) {
  // The name and the key ID hold no '+'; the base64 key may.
  const std::vector<absl::string_view> parts = absl::StrSplit(vkey, absl::MaxSplits('+', 2));
  if (parts.size() != 3) {
    return absl::InvalidArgumentError("a verifier key is <name>+<key ID>+<base64 key>");
  }
  RETURN_IF_ERROR(CheckNoteKeyName(parts[0]));
  uint32_t key_id = 0;
  if (parts[1].size() != 8 || !absl::SimpleHexAtoi(parts[1], &key_id) ||
      parts[1].find_first_not_of("0123456789abcdefABCDEF") != absl::string_view::npos) {
    return absl::InvalidArgumentError("the key ID of a verifier key is 8 hexadecimal digits");
  }
  absl::StatusOr<std::string> key = Base64DecodeStrict(parts[2]);
  if (!key.ok()) return Annotate(key.status(), "the key of a verifier key");
  if (key->empty() || static_cast<uint8_t>((*key)[0]) != type) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "the verifier key is not of an Ed25519 key of signature type 0x%02x", type));
  }
  if (key->size() != 1 + kEd25519PublicKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("an Ed25519 verifier key holds 32 key bytes, not ", key->size() - 1));
  }
  NoteVerifierKey parsed;
  parsed.name = std::string(parts[0]);
  parsed.public_key = key->substr(1);
  parsed.key_id = NoteKeyId(parsed.name, type, parsed.public_key);
  if (parsed.key_id != key_id) {
    return absl::InvalidArgumentError(
        absl::StrFormat("the verifier key's ID %08x is not the ID of its name and key (%08x)",
                        key_id, parsed.key_id));
  }
  return parsed;
}

std::string Base64Encode(absl::string_view bytes) { return absl::Base64Escape(bytes); }

absl::StatusOr<std::string> Base64DecodeStrict(absl::string_view text) {
  std::string bytes;
  if (!absl::Base64Unescape(text, &bytes) || absl::Base64Escape(bytes) != text) {
    return absl::InvalidArgumentError("not canonical base64 (RFC 4648 §4, with padding)");
  }
  return bytes;
}

}  // namespace mecai
