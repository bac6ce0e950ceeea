#include "tests/support/cluster_fixture.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"

namespace mecai {

absl::StatusOr<std::string> MakeTestDirectory(const std::string& name) {
  const char* temporary = std::getenv("TEST_TMPDIR");
  const std::string directory = absl::StrCat(temporary != nullptr ? temporary : "/tmp", "/", name);
  if (mkdir(directory.c_str(), 0700) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", directory, ": ", std::strerror(errno)));
  }
  return directory;
}

absl::StatusOr<std::unique_ptr<LocalCluster>> StartTestCluster(const std::string& name,
                                                               LocalClusterOptions options) {
  ASSIGN_OR_RETURN(options.workdir, MakeTestDirectory(name));
  options.verbose = false;
  auto cluster = std::make_unique<LocalCluster>(std::move(options));
  RETURN_IF_ERROR(cluster->Start());
  return cluster;
}

}  // namespace mecai
