// C2SP transparency log proofs (https://c2sp.org/tlog-proof): an offline-verifiable proof that an
// entry is in a log, as text:
//
//   c2sp.org/tlog-proof@v1
//   [extra <base64 of opaque data>]
//   index <decimal, no leading zero>
//   <base64 hash>          the RFC 6962 §2.1.1 inclusion proof, leaf's sibling first,
//   ...                    one SHA-256 per line (none for a tree of one leaf)
//   <empty line>
//   <the checkpoint, a signed note, verbatim> (https://c2sp.org/tlog-checkpoint)
//
// Status codes: INVALID_ARGUMENT for a malformed or oversized proof or argument;
// PERMISSION_DENIED when the checkpoint does not verify with the vkey or names another origin;
// DATA_LOSS when the inclusion proof does not lead to the checkpoint's root.
#ifndef MECAI_COMMON_TRANSPARENCY_TLOG_PROOF_H_
#define MECAI_COMMON_TRANSPARENCY_TLOG_PROOF_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/transparency/note_key.h"
#include "common/transparency/tlog_checkpoint.h"

namespace mecai {

inline constexpr char kTlogProofHeader[] = "c2sp.org/tlog-proof@v1";
// A tree has fewer than 2^64 leaves, so an inclusion proof fewer than 64 hashes.
inline constexpr size_t kMaxTlogProofHashes = 64;
// The whole proof: the checkpoint note's bound, the hashes and a little extra data.
inline constexpr size_t kMaxTlogProofBytes = (64 << 10) + 8192;

struct TlogProof {
  // Opaque and unauthenticated (the specification: never trusted implicitly); empty for none.
  std::string extra;
  uint64_t index = 0;
  // 32 bytes each, from the leaf's sibling up.
  std::vector<std::string> inclusion_proof;
  // The signed checkpoint note, verbatim.
  std::string checkpoint_note;
};

// The text of `proof`. INVALID_ARGUMENT for a hash that is not 32 bytes, too many hashes, or an
// empty note.
absl::StatusOr<std::string> FormatTlogProof(const TlogProof& proof);

// Parses `text` strictly: the header, the optional extra line, the index, the hashes (canonical
// base64 of 32 bytes each), an empty line and the note (not verified here).
absl::StatusOr<TlogProof> ParseTlogProof(absl::string_view text);

// Verifies that `entry` is entry proof.index of the log of `vkey`: the checkpoint note verifies
// with `vkey` (common/transparency/signed_note.h) and names its origin (the key name), the index
// is below its tree size, and the inclusion proof of SHA-256(0x00 || entry) leads to its root
// (RFC 9162 §2.1.3.2). Returns the checkpoint.
absl::StatusOr<TlogCheckpoint> VerifyTlogProof(const TlogProof& proof, const NoteVerifierKey& vkey,
                                               absl::string_view entry);

}  // namespace mecai

#endif  // MECAI_COMMON_TRANSPARENCY_TLOG_PROOF_H_
