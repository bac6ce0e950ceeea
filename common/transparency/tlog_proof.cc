#include "common/transparency/tlog_proof.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/base/status.h"
#include "common/transparency/merkle.h"
#include "common/transparency/signed_note.h"

namespace mecai {
namespace {

constexpr char kExtraPrefix[] = "extra ";
constexpr char kIndexPrefix[] = "index ";

// Consumes the next line of `*text` into `*line` (without its newline); false when no newline is
// left.
bool NextLine(absl::string_view* text, absl::string_view* line) {
  const size_t end = text->find('\n');
  if (end == absl::string_view::npos) return false;
  *line = text->substr(0, end);
  text->remove_prefix(end + 1);
  return true;
}

absl::Status Malformed(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("not a c2sp.org/tlog-proof@v1 proof: ", why));
}

}  // namespace

absl::StatusOr<std::string> FormatTlogProof(const TlogProof& proof) {
  if (proof.inclusion_proof.size() > kMaxTlogProofHashes) {
    return absl::InvalidArgumentError("an inclusion proof has fewer than 64 hashes");
  }
  if (proof.checkpoint_note.empty()) {
    return absl::InvalidArgumentError("a proof carries a checkpoint");
  }
  std::string text = absl::StrCat(kTlogProofHeader, "\n");
  if (!proof.extra.empty()) absl::StrAppend(&text, kExtraPrefix, Base64Encode(proof.extra), "\n");
  absl::StrAppend(&text, kIndexPrefix, proof.index, "\n");
  for (const std::string& hash : proof.inclusion_proof) {
    if (hash.size() != kMerkleHashBytes) {
      return absl::InvalidArgumentError("an inclusion proof's hashes have 32 bytes");
    }
    absl::StrAppend(&text, Base64Encode(hash), "\n");
  }
  absl::StrAppend(&text, "\n", proof.checkpoint_note);
  return text;
}

absl::StatusOr<TlogProof> ParseTlogProof(absl::string_view text) {
  if (text.size() > kMaxTlogProofBytes) {
    return Malformed(absl::StrCat("longer than ", kMaxTlogProofBytes, " bytes"));
  }
  absl::string_view line;
  if (!NextLine(&text, &line) || line != kTlogProofHeader) {
    return Malformed(absl::StrCat("the first line is not ", kTlogProofHeader));
  }
  TlogProof proof;
  if (!NextLine(&text, &line)) return Malformed("no index line");
  if (absl::ConsumePrefix(&line, kExtraPrefix)) {
    absl::StatusOr<std::string> extra = Base64DecodeStrict(line);
    if (!extra.ok() || extra->empty()) return Malformed("the extra line is not base64 of data");
    proof.extra = *std::move(extra);
    if (!NextLine(&text, &line)) return Malformed("no index line");
  }
  if (!absl::ConsumePrefix(&line, kIndexPrefix) || !absl::SimpleAtoi(line, &proof.index) ||
      absl::StrCat(proof.index) != line) {
    return Malformed("no \"index N\" line with a decimal index without a leading zero");
  }
  while (true) {
    if (!NextLine(&text, &line)) return Malformed("no empty line before the checkpoint");
    if (line.empty()) break;
    if (proof.inclusion_proof.size() == kMaxTlogProofHashes) {
      return Malformed("an inclusion proof has fewer than 64 hashes");
    }
    absl::StatusOr<std::string> hash = Base64DecodeStrict(line);
    if (!hash.ok() || hash->size() != kMerkleHashBytes) {
      return Malformed(absl::StrCat("inclusion proof line ", proof.inclusion_proof.size() + 1,
                                    " is not base64 of a 32-byte hash"));
    }
    proof.inclusion_proof.push_back(*std::move(hash));
  }
  if (text.empty()) return Malformed("no checkpoint after the empty line");
  proof.checkpoint_note = std::string(text);
  return proof;
}

absl::StatusOr<TlogCheckpoint> VerifyTlogProof(const TlogProof& proof, const NoteVerifierKey& vkey,
                                               absl::string_view entry) {
  absl::StatusOr<OpenedNote> opened = OpenSignedNote(proof.checkpoint_note, {vkey});
  if (!opened.ok()) {
    return Annotate(opened.status(), "the proof's checkpoint does not verify with the vkey");
  }
  ASSIGN_OR_RETURN(TlogCheckpoint checkpoint, ParseCheckpointText(opened->text));
  if (checkpoint.origin != vkey.name) {
    return absl::PermissionDeniedError(absl::StrCat("the proof's checkpoint is of origin \"",
                                                    checkpoint.origin, "\", not \"", vkey.name,
                                                    "\""));
  }
  if (proof.index >= checkpoint.tree_size) {
    return absl::InvalidArgumentError(absl::StrCat("the proof is for entry ", proof.index,
                                                   " but its checkpoint covers only ",
                                                   checkpoint.tree_size, " entries"));
  }
  absl::Status included = VerifyInclusion(LeafHash(entry), proof.index, checkpoint.tree_size,
                                          proof.inclusion_proof, checkpoint.root_hash);
  if (!included.ok()) {
    return absl::DataLossError(absl::StrCat("the entry is not entry ", proof.index,
                                            " of the tree of ", checkpoint.tree_size,
                                            " entries the checkpoint signs: ", included.message()));
  }
  return checkpoint;
}

}  // namespace mecai
