#include "cluster/binaries.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mecai {
namespace {

bool IsExecutable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

std::string SelfDirectory() {
  char buffer[PATH_MAX];
  ssize_t length = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (length <= 0) return "";
  std::string path(buffer, static_cast<size_t>(length));
  return path.substr(0, path.rfind('/'));
}

// `package/name` of a binary of this workspace.
absl::StatusOr<std::string> Find(const std::string& package, const std::string& name) {
  std::vector<std::string> candidates;
  if (const char* directory = getenv("MECAI_BIN_DIR")) {
    candidates.push_back(absl::StrCat(directory, "/", name));
  }
  for (const char* variable : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
    if (const char* runfiles = getenv(variable)) {
      candidates.push_back(absl::StrCat(runfiles, "/mecai/", package, "/", name));
    }
  }
  std::string self = SelfDirectory();
  if (!self.empty()) {
    candidates.push_back(absl::StrCat(self, "/mecai.runfiles/mecai/", package, "/", name));
    candidates.push_back(absl::StrCat(self, "/../", package, "/", name));
    candidates.push_back(absl::StrCat(self, "/", name));
  }
  for (const std::string& candidate : candidates) {
    if (IsExecutable(candidate)) return candidate;
  }
  if (const char* path = getenv("PATH")) {
    for (absl::string_view directory : absl::StrSplit(path, ':')) {
      std::string candidate = absl::StrCat(directory, "/", name);
      if (IsExecutable(candidate)) return candidate;
    }
  }
  return absl::NotFoundError(absl::StrCat("cannot find the ", name,
                                          " binary; build it with `bazel build //", package, ":",
                                          name, "` or set MECAI_BIN_DIR"));
}

}  // namespace

absl::StatusOr<BinaryPaths> FindClusterBinaries() {
  BinaryPaths paths;
  auto coordinator = Find("coordinator", "coordinator");
  if (!coordinator.ok()) return coordinator.status();
  paths.coordinator = *coordinator;
  auto signer = Find("signer", "signer");
  if (!signer.ok()) return signer.status();
  paths.signer = *signer;
  auto probe_agent = Find("probe_agent", "probe_agent");
  if (!probe_agent.ok()) return probe_agent.status();
  paths.probe_agent = *probe_agent;
  paths.approval = Find("approval", "approval").value_or("");
  paths.log_server = Find("log_server", "log_server").value_or("");
  for (const char* candidate : {"/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"}) {
    if (IsExecutable(candidate)) paths.dnsmasq = candidate;
  }
  if (paths.dnsmasq.empty()) {
    return absl::NotFoundError("dnsmasq is not installed (run scripts/bootstrap.sh)");
  }
  for (const char* candidate : {"/usr/sbin/nginx", "/usr/bin/nginx"}) {
    if (IsExecutable(candidate)) paths.nginx = candidate;
  }
  if (paths.nginx.empty()) {
    return absl::NotFoundError("nginx is not installed (run scripts/bootstrap.sh)");
  }
  return paths;
}

std::string SoftHsmModulePath() {
  for (const char* candidate :
       {"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"}) {
    if (access(candidate, R_OK) == 0) return candidate;
  }
  return "/usr/lib/softhsm/libsofthsm2.so";
}

}  // namespace mecai
