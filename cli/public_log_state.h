// What `mecai audit --log --state FILE` keeps between runs (docs/PUBLIC_LOG.md "Auditing with only
// the URL and the key"): the last checkpoint it verified, so that the next run can check that the
// log it sees extends that one (RFC 9162 §2.1.4: the same first leaves, never fewer).
//
// The file is text, written atomically:
//
//   mecai public log audit state v1
//   origin <origin>
//   size <tree size>
//   root <base64 root hash>
//
//   <the signed checkpoint note, verbatim>
//
// The note is kept so that the saved head can be shown to anyone as the log signed it; it is
// verified again with the vkey when the file is read, and must say what the lines above say.
#ifndef MECAI_CLI_PUBLIC_LOG_STATE_H_
#define MECAI_CLI_PUBLIC_LOG_STATE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/transparency/note_key.h"
#include "common/transparency/tlog_checkpoint.h"

namespace mecai {

struct PublicLogState {
  TlogCheckpoint checkpoint;
  // The signed note of `checkpoint`.
  std::string note;
};

// The state in `path`; nullopt when the file does not exist (a first run). INVALID_ARGUMENT for a
// file that is not such a state, or whose note does not verify with `vkey` or says something
// else than its lines.
absl::StatusOr<std::optional<PublicLogState>> ReadPublicLogState(const std::string& path,
                                                                 const NoteVerifierKey& vkey);

// Replaces `path` atomically with `state`.
absl::Status WritePublicLogState(const std::string& path, const PublicLogState& state);

// "<origin> size <N> root <base64>": a head as people compare them.
std::string DescribeHead(const TlogCheckpoint& checkpoint);

}  // namespace mecai

#endif  // MECAI_CLI_PUBLIC_LOG_STATE_H_
