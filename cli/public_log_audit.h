// `mecai audit --log URL --key VKEY`: audits a shard's public log with nothing but its URL prefix
// and its verifier key (docs/PUBLIC_LOG.md "Auditing with only the URL and the key"):
//
//   1. the checkpoint note verifies with the vkey and names its origin (c2sp.org/tlog-checkpoint);
//   2. every entry bundle and every tile the checkpoint covers is fetched; the leaf hashes are
//      recomputed from the entries and the whole tree from them (RFC 9162 §2.1.1), whose root
//      must be the checkpoint's; every served tile must hold the hashes the entries make, and a
//      mismatch names the entry index or the tile;
//   3. with a state file: the checkpoint verified last time must be a prefix of this tree (its
//      size at most this one's, its root that of the same first leaves), else both heads are
//      printed; the state is then replaced;
//   4. with a hostname: each record for it is printed, and every revocation response it names is
//      fetched by hash and must hash to its name;
//   5. with a proof index: a c2sp.org/tlog-proof of that entry against the checkpoint.
#ifndef MECAI_CLI_PUBLIC_LOG_AUDIT_H_
#define MECAI_CLI_PUBLIC_LOG_AUDIT_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/public_log_client.h"
#include "cli/record_observations.h"
#include "common/transparency/note_key.h"
#include "common/transparency/tlog_checkpoint.h"

namespace mecai {

struct PublicLogAuditOptions {
  // Witnesses (cosigner vkeys, docs/PUBLIC_LOG.md "Witnesses") of which at least
  // `min_cosignatures` must have cosigned the checkpoint (c2sp.org/tlog-cosignature); 0: none.
  std::vector<NoteVerifierKey> witnesses;
  size_t min_cosignatures = 0;
  // With `hostname`: the VA's enrolled agent keys, to verify each record's Observations
  // (cli/record_observations.h); null: they are not checked.
  const AgentKeys* agents = nullptr;
  // Where the last verified checkpoint is kept between runs; empty: none.
  std::string state_file;
  // Print and check the records for this hostname (compared without regard to ASCII case);
  // empty: none.
  std::string hostname;
  // Write a c2sp.org/tlog-proof of this entry to `proof_out` and, when set, the entry's bytes to
  // `entry_out`.
  std::optional<uint64_t> prove_index;
  std::string proof_out;
  std::string entry_out;
};

struct PublicLogAuditReport {
  // The checkpoint served (verified when `checkpoint_verified`).
  TlogCheckpoint checkpoint;
  bool checkpoint_verified = false;
  uint64_t tiles_checked = 0;
  uint64_t bundles_checked = 0;
  uint64_t host_records = 0;
  // Observations of those records verified with the agents' keys (PublicLogAuditOptions.agents).
  uint64_t observations_verified = 0;
  // What failed, one sentence each, naming the entry index, tile or heads; empty when everything
  // verified.
  std::vector<std::string> problems;
};

// Runs the audit, writing what it checked to `out`. Errors (not problems) are what keeps the
// audit from running: the log cannot be reached or does not serve a resource (UNAVAILABLE and the
// other codes of HttpFetcher, naming the URL), an unreadable state file (INVALID_ARGUMENT), or a
// file that cannot be written.
absl::StatusOr<PublicLogAuditReport> RunPublicLogAudit(const PublicLogClient& log,
                                                       const NoteVerifierKey& vkey,
                                                       const PublicLogAuditOptions& options,
                                                       std::ostream& out);

}  // namespace mecai

#endif  // MECAI_CLI_PUBLIC_LOG_AUDIT_H_
