// The note text of a C2SP transparency-log checkpoint (https://c2sp.org/tlog-checkpoint):
//
//   <origin>\n<tree size, decimal, no leading zero>\n<base64 RFC 6962 root
//   hash>\n[<extension>\n]...
//
// The signature lines around it are a C2SP signed note (common/transparency/signed_note.h).
// Status codes: INVALID_ARGUMENT for a malformed checkpoint or argument.
#ifndef MECAI_COMMON_TRANSPARENCY_TLOG_CHECKPOINT_H_
#define MECAI_COMMON_TRANSPARENCY_TLOG_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mecai {

// Bytes of a checkpoint text at most (ParseCheckpointText); extension lines included.
inline constexpr size_t kMaxCheckpointTextBytes = 4096;

struct TlogCheckpoint {
  // Non-empty; this code makes origins that are also note key names (no space, no '+').
  std::string origin;
  uint64_t tree_size = 0;
  // 32 bytes (SHA-256, RFC 6962 §2.1 = RFC 9162 §2.1.1).
  std::string root_hash;
  // Opaque, each non-empty, no newline.
  std::vector<std::string> extension_lines;
};

// The note text of `checkpoint`, final newline included. INVALID_ARGUMENT for an empty origin or
// one with a character a note may not hold or a newline, a root that is not 32 bytes, an empty
// extension line or one with a newline.
absl::StatusOr<std::string> FormatCheckpointText(const TlogCheckpoint& checkpoint);

// Parses a note text (after its signature was verified): at least three lines, each ending in a
// newline; a non-empty origin; a canonical decimal size; canonical base64 of 32 bytes; non-empty
// extension lines.
absl::StatusOr<TlogCheckpoint> ParseCheckpointText(absl::string_view text);

}  // namespace mecai

#endif  // MECAI_COMMON_TRANSPARENCY_TLOG_CHECKPOINT_H_
