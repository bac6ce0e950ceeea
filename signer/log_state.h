// The signer's own memory of each log shard (docs/SECURITY.md T7): the last checkpoint it signed
// and every VD it signed since. The signer signs a checkpoint only for a tree that provably
// extends the last one it signed (RFC 9162 §2.1.4 consistency proof) and that holds, at the index
// of each of those VDs, a record carrying that very VD (RFC 9162 §2.1.3 inclusion proof); and it
// signs a VD only at a log index that no signed checkpoint covers and that no other VD took.
//
// Two files keep it: `path` (a SignerLogState: the last checkpoint of each shard, rewritten
// atomically when a checkpoint is signed) and `path`.vouched, an append-only journal of the VDs
// signed since (SignerVouchedEntry, each synced to disk before its VD leaves the signer; the file
// is zero-filled ahead of its entries, so a sync writes data only), rewritten without the entries a
// new checkpoint covers. `path`.lock is held (flock(2)) for the life of the
// object: two signer processes never share one memory, so they cannot sign forks of a shard.
#ifndef MECAI_SIGNER_LOG_STATE_H_
#define MECAI_SIGNER_LOG_STATE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "proto/mecai/v1/signer.pb.h"

namespace mecai {

// Thread-safe.
class SignerLogState {
 public:
  // VDs signed since the last checkpoint of one shard, at most; beyond it the signer refuses to
  // sign (RESOURCE_EXHAUSTED) until a checkpoint covers some of them. The coordinator signs a
  // checkpoint at least every CoordinatorConfig.checkpoint_interval_seconds.
  static constexpr size_t kMaxUncheckpointedVouchingData = 65536;
  // Records a checkpoint request may carry, and indices of missing ones named in an answer.
  static constexpr size_t kMaxRecordsPerCheckpoint = 1024;

  // Reads `path` and its journal; a missing file is an empty state. A state file that does not
  // parse is DATA_LOSS (the signer must not start and forget what it signed); a journal entry cut
  // short by a crash is dropped (its VD never left the signer). FAILED_PRECONDITION when another
  // process holds `path`.lock.
  static absl::StatusOr<std::unique_ptr<SignerLogState>> Open(const std::string& path);
  ~SignerLogState();

  // The outcome of ClaimVouchingIndex.
  struct IndexClaim {
    // True: the index is the caller's; it signs and then calls RecordVouched, or ReleaseClaim
    // when it signs nothing.
    bool claimed = false;
    // Otherwise: why not, and the VD already signed at the index when there is one.
    std::string explanation;
    std::optional<v1::SignerVouchedEntry> vouched;
  };

  // Claims `log_index` of `shard` for one VD. FAILED_PRECONDITION when a signed checkpoint of the
  // shard already covers the index (it holds another record); RESOURCE_EXHAUSTED when the shard
  // has kMaxUncheckpointedVouchingData VDs since its last checkpoint; a claim that is not
  // `claimed` when another VD took the index.
  absl::StatusOr<IndexClaim> ClaimVouchingIndex(const std::string& shard, uint64_t log_index);

  // Records the VD signed at a claimed index in the journal; only after OK may it leave the signer.
  // The entry is then in the page cache (it survives the signer process's death) and on disk within
  // 10 ms (a periodic fdatasync(2); a power loss in between forgets it).
  // FAILED_PRECONDITION when the index was asked for again while it was being signed (the asker
  // was told it is taken, with no VD, and abandoned it: this VD must never be released). Any
  // error of the journal is returned to this and every later call (the signer then signs no more
  // VDs until it is restarted, which re-reads the journal).
  absl::Status RecordVouched(const std::string& shard, uint64_t log_index,
                             const std::string& statement, const v1::Signature& signature);

  // Gives up a claimed index at which no VD was signed.
  void ReleaseClaim(const std::string& shard, uint64_t log_index);

  // Why AdvanceCheckpoint did not advance, when it returned ABORTED.
  struct CheckpointShortfall {
    // The size of the signer's last checkpoint of the shard (0 for none).
    uint64_t signer_tree_size = 0;
    // previous_tree_size was not signer_tree_size: prove consistency from that size instead.
    bool previous_tree_size_mismatch = false;
    // VDs whose records were not given: their indices, lowest first.
    std::vector<uint64_t> records_needed;
    // VDs whose record at their own index was given and does not carry them (their answer never
    // reached the coordinator), and that no later record given carries: the log must take a
    // record carrying each before a checkpoint covers them.
    std::vector<v1::SignerVouchedEntry> unrecorded;
  };

  // Checks that the tree (`tree_size`, `root_hash`) extends the last checkpoint of `shard` the
  // signer signed, with `consistency_proof` from `previous_tree_size`, and that `records` (each
  // with its inclusion proof in this tree) show every VD signed since then at an index below
  // `tree_size` in the log: in the record at its own index, or in a later record as
  // unrecorded_vouching_data. On success records the checkpoint durably (the file is written
  // before this returns). The first checkpoint of a shard needs no consistency proof.
  // FAILED_PRECONDITION for a tree smaller than the last, a different root at the same size, a
  // proof that does not verify, a VD still being signed below tree_size, or a record given that is
  // not proven or not of this shard and index; ABORTED with *shortfall saying what is missing (at
  // most kMaxRecordsPerCheckpoint indices or VDs).
  absl::Status AdvanceCheckpoint(const std::string& shard, uint64_t tree_size,
                                 const std::string& root_hash, int64_t timestamp_unix_milliseconds,
                                 uint64_t previous_tree_size,
                                 const std::vector<std::string>& consistency_proof,
                                 const std::vector<v1::RecordAtIndex>& records,
                                 CheckpointShortfall* shortfall);

  // Logged VDs (docs/VOUCHING_DATA.md "Logged VDs"): the tree (`tree_size`, `root_hash`) made of
  // the tree of the signer's last checkpoint of `shard` — given as its compact range
  // `previous_compact_range` of `previous_tree_size` leaves, which must fold to that checkpoint's
  // root — and `entries`, the serialized LogEntry of every leaf from previous_tree_size to
  // tree_size. The root is computed here. Every entry that carries a statement must carry the very
  // statement approved at its index (RecordVouched). Statements approved below tree_size that no
  // entry carries are dropped: no VD can ever prove them. On success records the checkpoint
  // durably. ABORTED (previous_tree_size_mismatch) when previous_tree_size is not the signer's last
  // size; FAILED_PRECONDITION for a smaller tree, a range or root that does not match, an entry
  // that is not a canonical LogEntry, or a statement not approved at its index (or still being
  // approved); INVALID_ARGUMENT when the number of entries is not tree_size − previous_tree_size.
  absl::Status AdvanceLoggedCheckpoint(const std::string& shard, uint64_t tree_size,
                                       const std::string& root_hash,
                                       int64_t timestamp_unix_milliseconds,
                                       uint64_t previous_tree_size,
                                       const std::vector<std::string>& previous_compact_range,
                                       const std::vector<std::string>& entries,
                                       CheckpointShortfall* shortfall);

  // The last signed tree size of `shard` (0 for none).
  uint64_t TreeSize(const std::string& shard) const;
  // VDs signed for `shard` since its last checkpoint.
  size_t UncheckpointedVouchingData(const std::string& shard) const;

 private:
  // What the signer knows of one log index above the last checkpoint.
  struct IndexUse {
    enum class Kind {
      kSigning,  // Claimed; the VD is being signed.
      kVouched,  // A VD signed here (entry); it may have left the signer.
      kBurned,   // Asked for again while signing: no VD is ever released here.
    };
    Kind kind = Kind::kSigning;
    bool asked_again = false;
    v1::SignerVouchedEntry entry;
  };
  struct Shard {
    v1::SignerShardState durable;
    std::map<uint64_t, IndexUse> uses;
  };

  SignerLogState(std::string path, int lock_fd);
  absl::Status LoadJournalLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Makes (`tree_size`, `root_hash`, time) the last checkpoint of `state` durably and forgets the
  // VDs it covers.
  absl::Status RecordCheckpointLocked(const std::string& shard, Shard& state, uint64_t tree_size,
                                      const std::string& root_hash,
                                      int64_t timestamp_unix_milliseconds)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  absl::Status PersistLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Checks `records` against the VDs of `shard` signed below `tree_size` since its last
  // checkpoint; what is missing goes to *shortfall.
  absl::Status CheckVouchedRecordsLocked(const std::string& shard, const Shard& state,
                                         uint64_t tree_size, const std::string& root_hash,
                                         const std::vector<v1::RecordAtIndex>& records,
                                         CheckpointShortfall* shortfall) const
      ABSL_SHARED_LOCKS_REQUIRED(mutex_);
  // Rewrites the journal with the VDs no checkpoint covers yet and reopens it.
  void CompactJournalLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Writes `bytes` at the journal's end; any error is kept and returned to every later call.
  absl::Status AppendToJournalLocked(absl::string_view bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // The syncer thread: fdatasync(2) of the journal every kJournalSyncInterval when it has new
  // entries.
  void SyncJournalPeriodically() ABSL_LOCKS_EXCLUDED(mutex_);

  const std::string path_;
  const std::string journal_path_;
  const int lock_fd_;
  mutable absl::Mutex mutex_;
  std::map<std::string, Shard> shards_ ABSL_GUARDED_BY(mutex_);
  int journal_fd_ ABSL_GUARDED_BY(mutex_) = -1;
  // Where the next entry goes, and how far the file is written with zeros (its end marker).
  uint64_t journal_end_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t journal_capacity_ ABSL_GUARDED_BY(mutex_) = 0;
  // Entries written since the last sync.
  bool journal_dirty_ ABSL_GUARDED_BY(mutex_) = false;
  absl::Status journal_error_ ABSL_GUARDED_BY(mutex_);
  absl::Notification stop_syncing_;
  std::thread syncer_;
};

}  // namespace mecai

#endif  // MECAI_SIGNER_LOG_STATE_H_
