// Finds the cluster's binaries and the system programs `mecai demo` runs.
#ifndef MECAI_CLUSTER_BINARIES_H_
#define MECAI_CLUSTER_BINARIES_H_

#include <string>

#include "absl/status/statusor.h"

namespace mecai {

struct BinaryPaths {
  std::string coordinator;
  std::string signer;
  std::string probe_agent;
  // The phone-approval service (ARCHITECTURE.md §7); empty when it is not built (it is optional).
  std::string approval;
  // The public log server (docs/PUBLIC_LOG.md); empty when it is not built (`mecai demo` then
  // skips its last step).
  std::string log_server;
  std::string dnsmasq;
  std::string nginx;
};

// Looks, in order, in $MECAI_BIN_DIR, in the runfiles of this executable, beside it in a Bazel
// output tree (bazel-bin/cli/mecai → bazel-bin/coordinator/coordinator), then in PATH.
// NOT_FOUND names what is missing and how to build it.
absl::StatusOr<BinaryPaths> FindClusterBinaries();

// The SoftHSM2 PKCS#11 module of Debian's softhsm2 package.
std::string SoftHsmModulePath();

}  // namespace mecai

#endif  // MECAI_CLUSTER_BINARIES_H_
