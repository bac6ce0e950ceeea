// `mecai pki`: the private CA of the cluster's mutual TLS (trust rule 7) and one identity per
// service, as files an operator deploys (Kubernetes Secrets, /etc/mecai).
#ifndef MECAI_CLI_INTERNAL_PKI_H_
#define MECAI_CLI_INTERNAL_PKI_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace mecai {

struct InternalPkiOptions {
  // Written: ca.pem and ca.key (keep offline), and <identity>.pem / <identity>.key for each.
  std::string directory;
  // Identities (DNS subjectAltNames) such as "coordinator", "signer", "agent-eu-west-1", "admin".
  std::vector<std::string> identities;
  absl::Duration validity = absl::Hours(24 * 365);
  // Reuse ca.pem / ca.key from `directory` when present (to add identities later).
  bool reuse_ca = true;
};

// Every identity certificate carries serverAuth and clientAuth (services are both). Keys are
// EC P-256, written 0600. Refuses to overwrite an existing identity.
absl::Status MakeInternalPki(const InternalPkiOptions& options);

}  // namespace mecai

#endif  // MECAI_CLI_INTERNAL_PKI_H_
