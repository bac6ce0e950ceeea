// `mecai demo`: a whole local cluster (throwaway PKI, SoftHSM2 token, signer, probe agents,
// coordinator, a DNS resolver and a real TLS target) that vouches for the target and verifies the
// VD.
#ifndef MECAI_CLI_DEMO_H_
#define MECAI_CLI_DEMO_H_

#include <string>

#include "absl/status/status.h"

namespace mecai {

struct DemoOptions {
  // Where keys, configs, the token, the store and logs go; empty picks a fresh /tmp directory.
  std::string workdir;
  // How many probe agents (≥ 3), spread over at least two regions.
  int perspectives = 3;
  // Run each agent in its own network namespace with its own resolver (deploy/local; root).
  bool network_namespaces = false;
};

// Runs the demo; prints progress and the summary to stdout. Stops everything it started, also on
// error. Returns OK when a VD was issued and verified.
absl::Status RunDemo(const DemoOptions& options);

}  // namespace mecai

#endif  // MECAI_CLI_DEMO_H_
