// Verification of a logged VD's proof (docs/VOUCHING_DATA.md "Logged VDs"): the VA key endorses
// the log key; the log key signs a C2SP checkpoint note; the VD's log entry is in that tree. A VD
// whose proof verifies is provably in the VA's log, which anyone can audit (docs/PUBLIC_LOG.md).
#ifndef MECAI_CLIENT_LOG_PROOF_VERIFIER_H_
#define MECAI_CLIENT_LOG_PROOF_VERIFIER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "client/verified_va_cache.h"
#include "common/crypto/openssl_types.h"
#include "common/transparency/note_key.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

// Where the VA chain of the VD was validated: the verified-VA cache remembers the endorsement and
// the checkpoint note verified under that path, so a client verifies each of them once.
struct VerifiedVaPath {
  // The VA certificate's key (validated to the CA and pinned).
  EVP_PKEY* va_key = nullptr;
  std::string chain_sha256;
  std::string ca_sha256;
  VerifiedVaCache* cache = nullptr;
  // Witnesses of the other VAs of the client's list (docs/PUBLIC_LOG.md "Witnesses") and how many
  // of them must have cosigned the checkpoint (VaList.min_cosignatures; 0: none required).
  std::vector<NoteVerifierKey> witnesses;
  size_t min_cosignatures = 0;
  // The public logs the client's VA list names for the statement's VA (VaListEntry.log_vkeys),
  // borrowed from the list's entry; empty: the list names none, and any log the VA endorsed is
  // accepted.
  absl::Span<const NoteVerifierKey> published_logs;
};

// OK when `vd` (its `statement` parsed as `statement`) carries a log proof that verifies:
//   1. the endorsement is a LogKeyEndorsement signed by `path.va_key` under "MECAI log key
//      endorsement v1", of the statement's VA;
//   2. the checkpoint note is signed by the endorsed Ed25519 key under the origin
//      "<log_origin_prefix>/<log_shard_id>" and is a C2SP checkpoint of that origin;
//   2b. when path.published_logs is not empty, one of them is named by that origin and holds the
//      endorsed key: a log the VA does not publish proves nothing a client accepts;
//   3. with path.min_cosignatures > 0, at least that many of path.witnesses cosigned the note
//      (c2sp.org/tlog-cosignature; common/transparency/cosigned_checkpoint.h);
//   4. the entry LogEntry{statement, record_sha256} is leaf statement.log_index of its tree
//      (RFC 9162 §2.1.3.2).
// PERMISSION_DENIED naming the failed step otherwise; INVALID_ARGUMENT for a VD with both a
// signature and a log proof, or a malformed proof.
absl::Status VerifyLogProof(const v1::VouchingData& vd, const v1::VouchingStatement& statement,
                            const VerifiedVaPath& path);

}  // namespace mecai

#endif  // MECAI_CLIENT_LOG_PROOF_VERIFIER_H_
