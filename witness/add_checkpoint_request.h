// The body of a tlog-witness add-checkpoint request (https://c2sp.org/tlog-witness
// "add-checkpoint"):
//
//   old <size>\n
//   <base64 hash>\n          (0 to 63 consistency proof lines, RFC 6962 §2.1.2)
//   \n
//   <checkpoint note>
#ifndef MECAI_WITNESS_ADD_CHECKPOINT_REQUEST_H_
#define MECAI_WITNESS_ADD_CHECKPOINT_REQUEST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mecai {
namespace witness {

// Proof lines a client may send at most (c2sp.org/tlog-witness).
inline constexpr size_t kMaxConsistencyProofLines = 63;

struct AddCheckpointRequest {
  uint64_t old_size = 0;
  // 32 bytes each.
  std::vector<std::string> consistency_proof;
  // The checkpoint note, signature lines included, not yet parsed.
  std::string note;
};

// INVALID_ARGUMENT, naming the problem, unless `body` is exactly as above: an old size line with a
// canonical decimal ("0", or no leading zero), each proof line canonical base64 of 32 bytes, at
// most kMaxConsistencyProofLines of them, an empty line, and a non-empty note.
absl::StatusOr<AddCheckpointRequest> ParseAddCheckpointRequest(absl::string_view body);

// The body for `request` (the client side).
std::string FormatAddCheckpointRequest(const AddCheckpointRequest& request);

}  // namespace witness
}  // namespace mecai

#endif  // MECAI_WITNESS_ADD_CHECKPOINT_REQUEST_H_
