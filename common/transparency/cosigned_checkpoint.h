// Verifying a witnessed checkpoint (https://c2sp.org/tlog-witness, docs/PUBLIC_LOG.md
// "Witnesses"): the log's own note signature, and at least k cosignatures/v1
// (https://c2sp.org/tlog-cosignature) of distinct witnesses the caller trusts. A client that
// requires k cosignatures accepts a tree only when k witnesses saw it extend every tree they saw
// before: a log cannot show it a view others do not see without k witnesses lying too.
//
// Status codes: INVALID_ARGUMENT for a malformed note or checkpoint, or a wrong argument;
// PERMISSION_DENIED when the log's signature does not verify, the origin is not the log key's
// name, or fewer than k witnesses cosigned.
#ifndef MECAI_COMMON_TRANSPARENCY_COSIGNED_CHECKPOINT_H_
#define MECAI_COMMON_TRANSPARENCY_COSIGNED_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/transparency/note_key.h"
#include "common/transparency/tlog_checkpoint.h"

namespace mecai {

struct CosignedCheckpoint {
  TlogCheckpoint checkpoint;
  // The witnesses (key names) whose cosignature verified, in the order of `witnesses`, each once,
  // and the time each cosigned (POSIX seconds).
  std::vector<std::string> cosigners;
  std::vector<uint64_t> cosigned_at;
};

// Opens `note`: the signature of `log_key` (a note vkey of type 0x01 whose name is the origin) must
// verify; then each signature line whose key name and key ID are those of a key of `witnesses`
// (cosigner keys, type 0x04) is verified as a cosignature/v1, a witness counted once however many
// lines it has (the first valid one counts). Signature lines of other keys are ignored. A line
// of a listed witness that does not verify is not fatal, but it is named in the error when fewer
// than `min_cosignatures` witnesses cosigned:
//   "2 of the required 3 cosignatures: witness w3.example's signature does not verify"
//   "1 of the required 2 cosignatures: no signature of witness w2.example"
// INVALID_ARGUMENT when min_cosignatures exceeds the number of witnesses, or when two witnesses
// share a name or a key (a cosignature/v1 does not sign the witness's name).
absl::StatusOr<CosignedCheckpoint> VerifyCosignedCheckpoint(
    absl::string_view note, const NoteVerifierKey& log_key,
    const std::vector<NoteVerifierKey>& witnesses, size_t min_cosignatures);

}  // namespace mecai

#endif  // MECAI_COMMON_TRANSPARENCY_COSIGNED_CHECKPOINT_H_
