// What `mecai audit` does (DESIGN §10; trust rule 5): lists quorum records and, with --verify,
// checks the shard's signed checkpoint, an RFC 9162 inclusion proof for every listed record, and
// consistency with the checkpoint seen last time (a fork or a shrunk log is reported).
#ifndef MECAI_CLI_AUDIT_CLIENT_H_
#define MECAI_CLI_AUDIT_CLIENT_H_

#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

struct AuditOptions {
  v1::PeerConfig vouching_server;
  // Only records for this hostname; empty: all.
  std::string hostname;
  // Only records decided at or after this time, Unix milliseconds.
  int64_t since_unix_milliseconds = 0;
  // When >= 0: only the record with this log index (by id), printed in full.
  int64_t log_index = -1;
  // Verify checkpoint signature and proofs.
  bool verify = false;
  // When set with `verify`: the VA list whose CA the checkpoint's VA certificate must chain to.
  std::string va_list_file;
  // When set with `verify`: where the last verified checkpoint is kept between runs; the new one
  // must be consistent with it (RFC 9162 §2.1.4), and replaces it.
  std::string state_file;
};

struct AuditReport {
  uint64_t records_listed = 0;
  uint64_t tree_size = 0;
  // Problems found by --verify: a bad signature, an inclusion proof that fails, a gap in the
  // indexes, an inconsistent (forked or rewritten) log. Empty when everything verified.
  std::vector<std::string> problems;
};

// Runs the audit, writing one line per record (and the verification results) to `out`.
absl::StatusOr<AuditReport> RunAudit(const AuditOptions& options, std::ostream& out);

}  // namespace mecai

#endif  // MECAI_CLI_AUDIT_CLIENT_H_
