#include "common/transparency/cosigned_checkpoint.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/status.h"
#include "common/transparency/cosignature.h"
#include "common/transparency/signed_note.h"

namespace mecai {

absl::StatusOr<CosignedCheckpoint> VerifyCosignedCheckpoint(
    absl::string_view note, const NoteVerifierKey& log_key,
    const std::vector<NoteVerifierKey>& witnesses, size_t min_cosignatures) {
  std::set<std::string> names;
  for (const NoteVerifierKey& witness : witnesses) {
    if (!names.insert(witness.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("witness ", witness.name, " is listed twice"));
    }
  }
  // cosignature/v1 signs the checkpoint and a time, not the witness's name
  // (c2sp.org/tlog-cosignature): one key under two names would count as two witnesses.
  for (size_t i = 0; i < witnesses.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (witnesses[i].public_key == witnesses[j].public_key) {
        return absl::InvalidArgumentError(absl::StrCat(
            "witness ", witnesses[i].name, " has the key of witness ", witnesses[j].name));
      }
    }
  }
  if (min_cosignatures > witnesses.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        min_cosignatures, " cosignatures are required of only ", witnesses.size(), " witnesses"));
  }
  ASSIGN_OR_RETURN(OpenedNote opened, OpenSignedNote(note, {log_key}));
  ASSIGN_OR_RETURN(TlogCheckpoint checkpoint, ParseCheckpointText(opened.text));
  if (checkpoint.origin != log_key.name) {
    return absl::PermissionDeniedError(absl::StrCat("the checkpoint's origin ", checkpoint.origin,
                                                    " is not the log key's name ", log_key.name));
  }
  ASSIGN_OR_RETURN(ParsedNote parsed, ParseSignedNote(note));
  CosignedCheckpoint result;
  std::vector<std::string> problems;
  for (const NoteVerifierKey& witness : witnesses) {
    bool seen = false;
    bool verified = false;
    for (const NoteSignature& signature : parsed.signatures) {
      if (signature.key_name != witness.name || signature.key_id != witness.key_id) continue;
      seen = true;
      absl::StatusOr<uint64_t> timestamp = VerifyCosignatureV1(opened.text, witness, signature);
      if (timestamp.ok()) {
        result.cosigners.push_back(witness.name);
        result.cosigned_at.push_back(*timestamp);
        verified = true;
        break;
      }
    }
    if (!verified) {
      problems.push_back(
          seen ? absl::StrCat("witness ", witness.name, "'s signature does not verify")
               : absl::StrCat("no signature of witness ", witness.name));
    }
  }
  if (result.cosigners.size() < min_cosignatures) {
    return absl::PermissionDeniedError(
        absl::StrCat(result.cosigners.size(), " of the required ", min_cosignatures,
                     " cosignatures: ", absl::StrJoin(problems, "; ")));
  }
  result.checkpoint = std::move(checkpoint);
  return result;
}

}  // namespace mecai
