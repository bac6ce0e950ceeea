#include "common/transparency/signed_note.h"

#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/base/status.h"
#include "common/crypto/ed25519_verify.h"

namespace mecai {
namespace {

// "— ": U+2014 EM DASH and a space.
constexpr absl::string_view kSignaturePrefix = "\xe2\x80\x94 ";

absl::Status CheckText(absl::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return absl::InvalidArgumentError("a note text is not empty and ends in a newline");
  }
  return CheckNoteCharacters(text);
}

std::string KeyIdBytes(uint32_t key_id) {
  std::string bytes(4, '\0');
  for (size_t i = 0; i < 4; ++i) bytes[i] = static_cast<char>(key_id >> (24 - 8 * i));
  return bytes;
}

}  // namespace

absl::StatusOr<std::string> FormatSignedNote(absl::string_view text,
                                             const std::vector<NoteSignature>& signatures) {
  RETURN_IF_ERROR(CheckText(text));
  if (signatures.empty()) return absl::InvalidArgumentError("a signed note needs a signature");
  std::string note = absl::StrCat(text, "\n");
  for (const NoteSignature& signature : signatures) {
    RETURN_IF_ERROR(CheckNoteKeyName(signature.key_name));
    absl::StrAppend(&note, kSignaturePrefix, signature.key_name, " ",
                    Base64Encode(absl::StrCat(KeyIdBytes(signature.key_id), signature.signature)),
                    "\n");
  }
  return note;
}

absl::Status VerifyNoteSignature(absl::string_view text, const NoteVerifierKey& key,
                                 absl::string_view signature) {
  if (key.public_key.size() != kEd25519PublicKeyBytes ||
      signature.size() != kEd25519SignatureBytes) {
    return absl::PermissionDeniedError(
        absl::StrCat("the signature of note key ", key.name, " does not verify"));
  }
  if (!VerifyEd25519(key.public_key, signature, text).ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the signature of note key ", key.name, " does not verify"));
  }
  return absl::OkStatus();
}

absl::StatusOr<NoteSignature> SignNoteText(absl::string_view text, const NoteVerifierKey& key,
                                           SigningKey& signer) {
  RETURN_IF_ERROR(CheckText(text));
  RETURN_IF_ERROR(CheckNoteKeyName(key.name));
  ASSIGN_OR_RETURN(v1::Signature signature, signer.Sign(text));
  if (signature.algorithm() != v1::ED25519) {
    return absl::InternalError("the note signing key does not make Ed25519 signatures");
  }
  absl::Status verified = VerifyNoteSignature(text, key, signature.value());
  if (!verified.ok()) {
    return absl::InternalError(
        absl::StrCat("the note signing key's signature does not verify with ", key.name, "'s key"));
  }
  return NoteSignature{key.name, key.key_id, signature.value()};
}

absl::StatusOr<ParsedNote> ParseSignedNote(absl::string_view note) {
  if (note.size() > kMaxSignedNoteBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a signed note has at most ", kMaxSignedNoteBytes, " bytes"));
  }
  RETURN_IF_ERROR(CheckNoteCharacters(note));
  // The text ends at the last blank line.
  const size_t split = note.rfind("\n\n");
  if (split == absl::string_view::npos) {
    return absl::InvalidArgumentError("a signed note has a blank line before its signatures");
  }
  ParsedNote parsed;
  parsed.text = std::string(note.substr(0, split + 1));
  absl::string_view lines = note.substr(split + 2);
  if (lines.empty() || lines.back() != '\n') {
    return absl::InvalidArgumentError("a signed note ends with signature lines");
  }
  while (!lines.empty()) {
    const size_t end = lines.find('\n');
    absl::string_view line = lines.substr(0, end);
    lines.remove_prefix(end + 1);
    if (parsed.signatures.size() == kMaxNoteSignatures) {
      return absl::InvalidArgumentError(
          absl::StrCat("a signed note has at most ", kMaxNoteSignatures, " signatures"));
    }
    if (!absl::ConsumePrefix(&line, kSignaturePrefix)) {
      return absl::InvalidArgumentError("a note signature line begins with an em dash and a space");
    }
    const size_t space = line.find(' ');
    if (space == absl::string_view::npos) {
      return absl::InvalidArgumentError("a note signature line is a key name, space, signature");
    }
    NoteSignature signature;
    signature.key_name = std::string(line.substr(0, space));
    RETURN_IF_ERROR(CheckNoteKeyName(signature.key_name));
    absl::StatusOr<std::string> bytes = Base64DecodeStrict(line.substr(space + 1));
    if (!bytes.ok()) return Annotate(bytes.status(), "a note signature");
    if (bytes->size() < 5) {
      return absl::InvalidArgumentError("a note signature has a key ID and at least one byte");
    }
    for (size_t i = 0; i < 4; ++i) {
      signature.key_id = (signature.key_id << 8) | static_cast<unsigned char>((*bytes)[i]);
    }
    signature.signature = bytes->substr(4);
    parsed.signatures.push_back(std::move(signature));
  }
  return parsed;
}

absl::StatusOr<OpenedNote> OpenSignedNote(absl::string_view note,
                                          const std::vector<NoteVerifierKey>& known) {
  ASSIGN_OR_RETURN(ParsedNote parsed, ParseSignedNote(note));
  OpenedNote opened;
  opened.text = std::move(parsed.text);
  std::set<std::pair<std::string, uint32_t>> seen;
  std::set<std::tuple<std::string, uint32_t, std::string>> seen_unknown;
  for (NoteSignature& signature : parsed.signatures) {
    const NoteVerifierKey* key = nullptr;
    for (const NoteVerifierKey& candidate : known) {
      if (candidate.name == signature.key_name && candidate.key_id == signature.key_id) {
        key = &candidate;
        break;
      }
    }
    if (key == nullptr) {
      if (seen_unknown.insert({signature.key_name, signature.key_id, signature.signature}).second) {
        ++opened.unknown_signatures;
      }
      continue;
    }
    if (!seen.insert({key->name, key->key_id}).second) continue;
    RETURN_IF_ERROR(VerifyNoteSignature(opened.text, *key, signature.signature));
    opened.verified.push_back(std::move(signature));
  }
  if (opened.verified.empty()) {
    return absl::PermissionDeniedError("no known key signed the note");
  }
  return opened;
}

}  // namespace mecai
