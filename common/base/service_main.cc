#include "common/base/service_main.h"

#include <cstdio>
#include <cstring>

#include "common/base/shutdown_signal.h"

namespace mecai {

int ServiceMain(int argc, char** argv, const char* name, const char* usage,
                absl::Status (*run)(const std::string& config_path)) {
  // First, before gRPC (or anything else) starts a thread (common/base/shutdown_signal.h).
  BlockTerminationSignals();
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--help" || argument == "-h") {
      std::fputs(usage, stdout);
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
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "%s: --config FILE is required\n%s", name, usage);
    return 2;
  }
  const absl::Status status = run(config_path);
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", name, std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace mecai
