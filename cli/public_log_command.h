// `mecai audit --log URL --key VKEY ...` (cli/public_log_audit.h) and `mecai log verify-proof`:
// flags, the real HTTP fetcher, output and exit codes (docs/PUBLIC_LOG.md "Auditing with only the
// URL and the key").
#ifndef MECAI_CLI_PUBLIC_LOG_COMMAND_H_
#define MECAI_CLI_PUBLIC_LOG_COMMAND_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/transparency/note_key.h"

namespace mecai {

// Exit codes of both commands: 0 verified; 1 the log could not be read or a file not read or
// written; 2 usage; 3 something did not verify (each problem printed).
inline constexpr int kPublicLogExitVerified = 0;
inline constexpr int kPublicLogExitError = 1;
inline constexpr int kPublicLogExitUsage = 2;
inline constexpr int kPublicLogExitProblem = 3;

// True when argv[2..] holds --log, i.e. `mecai audit` audits a public log.
bool IsPublicLogAudit(int argc, char** argv);

// `key` is a vkey, or the name of a file holding one (a final newline allowed).
absl::StatusOr<NoteVerifierKey> LoadVerifierKey(const std::string& key);

// argv[1] is "audit" and --log is given; returns the exit code.
int PublicLogAuditCommand(int argc, char** argv);

// argv[1] is "log", argv[2] "verify-proof"; returns the exit code.
int VerifyProofCommand(int argc, char** argv);

}  // namespace mecai

#endif  // MECAI_CLI_PUBLIC_LOG_COMMAND_H_
