#include "common/base/service_main.h"

#include <cstdio>
#include <cstring>

#include "absl/synchronization/mutex.h"
#include "common/base/shutdown_signal.h"

namespace mecai {

const char kExitCodesHelp[] =
    "\n"
    "Exit status: 0 after an orderly shutdown; 2 for a usage error; 78 (EX_CONFIG) for a\n"
    "configuration error: the config or a file it names is missing, unreadable or invalid, so a\n"
    "restart cannot help; 69 (EX_UNAVAILABLE) when something needed is unavailable at start\n"
    "(a port in use, a device or peer that does not answer), so a later restart may succeed;\n"
    "1 for any other failure.\n";

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kOutOfRange:
      return kExitConfig;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
      return kExitUnavailable;
    default:
      return 1;
  }
}

int ServiceMain(int argc, char** argv, const char* name, const char* usage,
                absl::Status (*run)(const std::string& config_path)) {
  // First, before gRPC (or anything else) starts a thread (common/base/shutdown_signal.h).
  BlockTerminationSignals();
#ifdef NDEBUG
  // Debian builds Abseil with its mutex deadlock detection on, which records every lock order in a
  // graph: a few percent of a service's CPU (docs/PERFORMANCE.md "Where the coordinator's CPU per
  // VR goes"). Release builds (-c opt, as deploy/image/build.sh makes them) leave it off; the tests
  // and every other build keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--help" || argument == "-h") {
      std::fputs(usage, stdout);
      std::fputs(kExitCodesHelp, stdout);
      return 0;
    }
    if (argument == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (argument.rfind("--config=", 0) == 0) {
      config_path = argument.substr(std::strlen("--config="));
    } else {
      std::fprintf(stderr, "%s: %s\n%s", name,
                   argument == "--config" ? "--config needs a FILE"
                                          : ("unknown argument " + argument).c_str(),
                   usage);
      return kExitUsage;
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "%s: --config FILE is required\n%s", name, usage);
    return kExitUsage;
  }
  const absl::Status status = run(config_path);
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", name, std::string(status.message()).c_str());
    return ExitCodeFor(status);
  }
  return 0;
}

}  // namespace mecai
