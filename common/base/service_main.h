// The shared `main` of every service binary (ARCHITECTURE.md §10: "Every binary answers --help,
// validates its config at start and exits with a clear message on a bad one"):
//
//   int main(int argc, char** argv) { return mecai::ServiceMain(argc, argv, "signer", kUsage, Run);
//   }
//
// Exit codes (sysexits.h; docs/ARCHITECTURE.md §10 "Exit codes"), decided from the code of the
// status `run` returns, never from its message (ExitCodeFor):
//   0  after an orderly shutdown or --help;
//   2  a usage error (unknown flag, no --config);
//   78 EX_CONFIG: the configuration is wrong: it does not parse, a field is invalid, a file it
//      names is missing, unreadable or does not parse (INVALID_ARGUMENT, FAILED_PRECONDITION,
//      NOT_FOUND, PERMISSION_DENIED, OUT_OF_RANGE); restarting cannot help;
//   69 EX_UNAVAILABLE: something the service needs is not there now: a port in use, a peer or a
//      device that does not answer (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED); a
//      restart later may succeed;
//   1  anything else (INTERNAL, DATA_LOSS, ...).
// Each is one line on stderr, "<name>: <message>".
#ifndef MECAI_COMMON_BASE_SERVICE_MAIN_H_
#define MECAI_COMMON_BASE_SERVICE_MAIN_H_

#include <string>

#include "absl/status/status.h"

namespace mecai {

// sysexits.h's values, spelled out for the code that maps to them.
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnavailable = 69;  // EX_UNAVAILABLE
inline constexpr int kExitConfig = 78;       // EX_CONFIG

// The exit code for a failed `run` (see above); 0 for OK.
int ExitCodeFor(const absl::Status& status);

// The exit-code paragraph every --help ends with.
extern const char kExitCodesHelp[];

// Blocks SIGINT/SIGTERM (before any thread exists), parses `--config FILE` (or `--config=FILE`)
// and `--help`, then calls `run(config_path)`, which loads, validates, wires and serves until a
// termination signal.
int ServiceMain(int argc, char** argv, const char* name, const char* usage,
                absl::Status (*run)(const std::string& config_path));

}  // namespace mecai

#endif  // MECAI_COMMON_BASE_SERVICE_MAIN_H_
