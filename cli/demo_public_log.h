// The end of `mecai demo` (docs/PUBLIC_LOG.md): a log server over the demo coordinator's store,
// and `mecai audit --log URL --key VKEY` against it, with nothing but its URL and the vkey of the
// cluster's Ed25519 log key.
#ifndef MECAI_CLI_DEMO_PUBLIC_LOG_H_
#define MECAI_CLI_DEMO_PUBLIC_LOG_H_

#include <string>

#include "absl/status/status.h"
#include "cluster/local_cluster.h"

namespace mecai {

// Starts `log_server_binary` over `cluster`'s store (its files in public-log/, its output in
// logs/log_server.log), waits up to `wait` for a checkpoint note covering the demo's VD (record
// 0), audits it as
// `mecai audit --log` does, prints the command to run it again, and stops the server.
// FAILED_PRECONDITION when the audit finds a problem; the server's errors otherwise.
absl::Status AuditDemoPublicLog(const LocalCluster& cluster, const std::string& log_server_binary,
                                absl::Duration wait);

}  // namespace mecai

#endif  // MECAI_CLI_DEMO_PUBLIC_LOG_H_
