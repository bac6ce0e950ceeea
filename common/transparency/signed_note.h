// C2SP signed notes (https://c2sp.org/signed-note): a text ending in a newline, a blank line, and
// one or more signature lines "— <key name> base64(key ID || signature)". Only Ed25519 signatures
// (type 0x01) are made and verified here (common/transparency/note_key.h).
//
// A note's signed message is its text, which has no byte 0x00 (no control character but newline):
// it can never equal a message signed under one of the MECAI contexts of docs/VOUCHING_DATA.md
// "Signed bytes and keys" (context, 0x00, bytes), and none of those is ever a note text, so a note
// signature and a MECAI signature by the same key never stand for each other (trust rule 1).
//
// Status codes: INVALID_ARGUMENT for a malformed or oversized note; PERMISSION_DENIED when a
// signature of a known key does not verify, or no known key signed.
#ifndef MECAI_COMMON_TRANSPARENCY_SIGNED_NOTE_H_
#define MECAI_COMMON_TRANSPARENCY_SIGNED_NOTE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/signature.h"
#include "common/transparency/note_key.h"

namespace mecai {

// Bounds on what OpenSignedNote reads: the whole note, and its signature lines (the specification
// asks verifiers to accept at least 16).
inline constexpr size_t kMaxSignedNoteBytes = 64 << 10;
inline constexpr size_t kMaxNoteSignatures = 64;

// One signature line.
struct NoteSignature {
  std::string key_name;
  uint32_t key_id = 0;
  // The signature itself, after the 4 key ID bytes.
  std::string signature;
};

// text, a blank line, then one line per signature. INVALID_ARGUMENT when the text is empty, does
// not end in a newline or has characters a note may not hold, when a name is not a key name, or
// without signatures.
absl::StatusOr<std::string> FormatSignedNote(absl::string_view text,
                                             const std::vector<NoteSignature>& signatures);

// Signs `text` with `signer`, which must make pure Ed25519 signatures (RFC 8032 §5.1.6) with the
// key of `key`; the signature is checked against key.public_key before it is returned (INTERNAL
// otherwise, or when the signer makes signatures of another algorithm).
absl::StatusOr<NoteSignature> SignNoteText(absl::string_view text, const NoteVerifierKey& key,
                                           SigningKey& signer);

// OK when `signature` (the bytes after the key ID) is `key`'s Ed25519 signature of `text`.
absl::Status VerifyNoteSignature(absl::string_view text, const NoteVerifierKey& key,
                                 absl::string_view signature);

struct OpenedNote {
  // The note text, final newline included.
  std::string text;
  // The signatures of known keys, each verified (a repeated one counted once).
  std::vector<NoteSignature> verified;
  // Signature lines of keys not in `known` (same name and ID as none of them), ignored.
  size_t unknown_signatures = 0;
};

// A note split into its text and signature lines, nothing verified.
struct ParsedNote {
  // The note text, final newline included.
  std::string text;
  // Every signature line, in order (at least one).
  std::vector<NoteSignature> signatures;
};

// Splits `note` strictly (at most kMaxSignedNoteBytes and kMaxNoteSignatures): the text ends at the
// last blank line, each line after it is "— <key name> base64(key ID || signature)" with a valid
// key name and at least one signature byte. INVALID_ARGUMENT otherwise.
absl::StatusOr<ParsedNote> ParseSignedNote(absl::string_view note);

// Parses `note` strictly (at most kMaxSignedNoteBytes and kMaxNoteSignatures) and verifies every
// signature whose key name and key ID are both those of a key of `known`; other signatures are
// ignored. PERMISSION_DENIED when one of them does not verify, or none is by a known key.
absl::StatusOr<OpenedNote> OpenSignedNote(absl::string_view note,
                                          const std::vector<NoteVerifierKey>& known);

}  // namespace mecai

#endif  // MECAI_COMMON_TRANSPARENCY_SIGNED_NOTE_H_
