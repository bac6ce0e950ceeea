// What `mecai audit` does (ARCHITECTURE.md §10; trust rule 5): lists quorum records and, with
// --verify, checks the shard's signed checkpoint, an RFC 9162 inclusion proof for every listed
// record, and consistency with the checkpoint seen last time (a fork or a shrunk log is reported).
#ifndef MECAI_CLI_AUDIT_CLIENT_H_
#define MECAI_CLI_AUDIT_CLIENT_H_

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/va_list.h"
#include "common/crypto/openssl_types.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/record.pb.h"
#include "proto/mecai/v1/signer.pb.h"

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
  // Required with `verify`: the VA list that says which VA may sign the checkpoint
  // (CheckpointVerificationKey).
  std::string va_list_file;
  // When set with `verify`: where the last verified checkpoint is kept between runs; the new one
  // must come from the same log shard and VA and be consistent with it (RFC 9162 §2.1.4), and
  // replaces it.
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
// INVALID_ARGUMENT, before any call, for `verify` without `va_list_file`, an unloadable VA list or
// a state file that holds no checkpoint.
absl::StatusOr<AuditReport> RunAudit(const AuditOptions& options, std::ostream& out);

// The key a checkpoint's signature must verify under, and the VA that key speaks for.
struct CheckpointKey {
  std::string va_id;
  EvpPkeyPtr key;
  // The VA certificate's key, which endorses the log key of a logged VD signer.
  EvpPkeyPtr va_key;
};

// The one place that decides which key signs `checkpoint`: the log key the VA list names
// (VaListEntry.log_public_key_file) for the VA whose certificate the checkpoint carries, once
// client/va_chain.h ValidateVaChain accepted that chain at `now` (it builds, with the presented
// intermediates, to the CA of a listed VA that pins the key in va_spki_sha256, and the
// certificate has id-kp-OCSPSigning). PERMISSION_DENIED / INVALID_ARGUMENT naming the failed
// check; FAILED_PRECONDITION when the VA list names no log key for that VA.
absl::StatusOr<CheckpointKey> CheckpointVerificationKey(const v1::SignedCheckpoint& checkpoint,
                                                        const VaList& vas, absl::Time now);

// For a checkpoint signed only as its C2SP note (a signer set for logged VDs,
// docs/VOUCHING_DATA.md "Logged VDs"): OK when the log key endorsement verifies under `signer`'s
// VA key and endorses `signer`'s log key for its VA, and the note is signed by that log key under
// the origin "<endorsed log_origin_prefix>/<shard>" and states the body's size and root;
// PERMISSION_DENIED otherwise.
absl::Status VerifyCheckpointNoteMatches(const v1::SignedCheckpoint& checkpoint,
                                         const v1::CheckpointBody& body,
                                         const CheckpointKey& signer);

// Verifies `checkpoint` against `vas` at `now`: its signature under CheckpointVerificationKey with
// the context of SignedObject::kCheckpoint (common/crypto/signed_object.h), its body parsed
// strictly (ParseSignedBytes), and the body's va_id equal to the VA whose key signed it. Returns
// the body.
absl::StatusOr<v1::CheckpointBody> VerifyCheckpoint(const v1::SignedCheckpoint& checkpoint,
                                                    const VaList& vas, absl::Time now);

// OK when `checkpoint` comes from the log shard and VA of `kept` (the checkpoint an earlier audit
// verified); otherwise FAILED_PRECONDITION naming both.
absl::Status CheckSameLog(const v1::CheckpointBody& kept, const v1::CheckpointBody& checkpoint);

// One line for `record`: index, decision time, hostname:port, decision and perspectives (or the
// trust-list change of an administrative record).
std::string DescribeRecord(const v1::QuorumRecord& record);

// The bytes a log serves under a content hash (ARCHITECTURE.md §8 "Evidence by content hash"):
// the AuditService's GetEvidence, or the public log server's /evidence/<hex> (docs/PUBLIC_LOG.md).
using EvidenceFetch = std::function<absl::StatusOr<std::string>(const std::string& sha256)>;

// Every revocation response `record` names by hash is served by `fetch` and hashes to that name;
// each failure is a sentence appended to `problems`. Each hash is fetched once per audit
// (`checked`).
void CheckNamedEvidence(const v1::QuorumRecord& record, const EvidenceFetch& fetch,
                        absl::flat_hash_set<std::string>* checked,
                        std::vector<std::string>* problems);

}  // namespace mecai

#endif  // MECAI_CLI_AUDIT_CLIENT_H_
