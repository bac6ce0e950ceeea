// The shared `main` of every service binary (ARCHITECTURE.md §10: "Every binary answers --help,
// validates its config at start and exits with a clear message on a bad one"):
//
//   int main(int argc, char** argv) { return mecai::ServiceMain(argc, argv, "signer", kUsage, Run);
//   }
//
// Exit codes: 0 after an orderly shutdown or --help, 1 when `run` fails (one line on stderr,
// "<name>: <message>"), 2 for a usage error.
#ifndef MECAI_COMMON_BASE_SERVICE_MAIN_H_
#define MECAI_COMMON_BASE_SERVICE_MAIN_H_

#include <string>

#include "absl/status/status.h"

namespace mecai {

// Blocks SIGINT/SIGTERM (before any thread exists), parses `--config FILE` (or `--config=FILE`)
// and `--help`, then calls `run(config_path)`, which loads, validates, wires and serves until a
// termination signal.
int ServiceMain(int argc, char** argv, const char* name, const char* usage,
                absl::Status (*run)(const std::string& config_path));

}  // namespace mecai

#endif  // MECAI_COMMON_BASE_SERVICE_MAIN_H_
