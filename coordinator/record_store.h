// The coordinator's durable, tamper-evident quorum history (ARCHITECTURE.md §8, trust rules 4 and
// 5): one RocksDB per coordinator holding its log shard. Every quorum record is a leaf of an
// append-only RFC 9162 Merkle log (the leaf is the record's LogEntry, common/evidence/log_entry.h:
// the statement of an issued VD and the SHA-256 of the record exactly as stored),
// written with its index entries in a WriteBatch whose WAL is synced before Append returns.
// Concurrent Appends share one synced WriteBatch (group commit, ARCHITECTURE.md §8) without giving
// up index order or contiguity.
//
// Column families:
//   records      big-endian uint64 log index → serialized v1::QuorumRecord
//   by_host      hostname '\0' big-endian index → empty (prefix scans for auditors)
//   merkle       big-endian index → 32-byte leaf hash; "tree_size" → big-endian leaf count
//   replay       vouching_request_sha256 → big-endian index of the latest record of that VR
//   trust_lists  key → bytes, trust-list state
//   checkpoints  big-endian tree size → serialized v1::SignedCheckpoint
//   evidence     SHA-256 → DER OCSP response or CRL that records name by that hash
//                (coordinator/record_evidence.h), each stored once
//   record_hashes  SHA-256 of a stored record → big-endian index (the log's entries name
//                records by it)
//   default      "shard_id" and "format_version" of the store
#ifndef MECAI_COORDINATOR_RECORD_STORE_H_
#define MECAI_COORDINATOR_RECORD_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/base/clock.h"
#include "common/transparency/merkle.h"
#include "proto/mecai/v1/record.pb.h"
#include "proto/mecai/v1/signer.pb.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class Snapshot;
}  // namespace rocksdb

namespace mecai {

// Thread-safe. The builds of concurrent Appends run in parallel and their records are committed in
// log-index order, many to one synced write; reads run concurrently with appends and with each
// other, and see only records whose write is complete.
class RecordStore {
 public:
  // Builds the record that takes log index `log_index`; the caller signs for that index here.
  using RecordBuilder = std::function<absl::StatusOr<v1::QuorumRecord>(uint64_t log_index)>;
  // The same, asynchronously: starts building the record for `log_index` and hands it (or why it
  // could not be built) to `built`, exactly once, from any thread, in bounded time. A `built` that
  // is dropped uncalled counts as a failed build (INTERNAL), so the index is never left as a hole.
  using BuildDone = std::function<void(absl::StatusOr<v1::QuorumRecord>)>;
  using AsyncRecordBuilder = std::function<void(uint64_t log_index, BuildDone built)>;
  // Receives what Append would return, once, on the store's commit thread (or the thread that
  // completed the build, when the record fails before its commit): it must not block.
  using AppendDone = std::function<void(absl::StatusOr<v1::QuorumRecord>)>;

  static constexpr uint32_t kDefaultPageSize = 100;
  static constexpr uint32_t kMaxPageSize = 1000;
  // Upper bound on the serialized records one group commit writes (the first always goes in).
  static constexpr size_t kMaxGroupCommitBytes = 4 << 20;
  // Upper bound on the error text an abandoned record quotes.
  static constexpr size_t kMaxAbandonedErrorBytes = 1024;

  // Opens the store at `path` (a directory; created if missing) for log shard `shard_id`.
  // FAILED_PRECONDITION when the store belongs to another shard; DATA_LOSS when its log is
  // inconsistent (a leaf hash or record missing or extra, a record that does not hash to its leaf
  // or names another index or shard). Open reads every record once to check this. `clock` dates
  // abandoned records (see Append) and must outlive the store.
  static absl::StatusOr<std::unique_ptr<RecordStore>> Open(const std::string& path,
                                                           const std::string& shard_id,
                                                           const Clock& clock = SystemClock::Get());

  RecordStore(const RecordStore&) = delete;
  RecordStore& operator=(const RecordStore&) = delete;
  // Waits until every Append begun is answered (builds are bounded in time), then stops the commit
  // thread.
  ~RecordStore();

  // Appends one record and returns it once it is durably stored (trust rule 4), in three steps:
  //   1. Reserve: takes the next log index i under a short lock.
  //   2. Build: calls build(i) with no lock held, so the builds of concurrent Appends (each a
  //      signer call) overlap; then checks the record names index i and this shard.
  //   3. Commit: records are committed strictly in index order by the store's one commit thread.
  //      Whenever the lowest uncommitted record is built, it writes that record and every built
  //      record that follows it without a gap (up to kMaxGroupCommitBytes), each with its by_host,
  //      leaf-hash and replay entries, plus the new tree size, in ONE WriteBatch with a synced WAL;
  //      then it extends the Merkle tree and answers the Appends it wrote for. No thread of an
  //      Append waits to lead a commit (ARCHITECTURE.md §13).
  // Returns the record stored: as built, but with its revocation evidence by hash
  // (coordinator/record_evidence.h: each response's bytes go to the evidence column family once,
  // in the same WriteBatch). A built evidence whose response_sha256 disagrees with its bytes, or
  // that names by hash only a response the store does not hold, is refused (INVALID_ARGUMENT).
  //
  // A reserved index is never left as a hole. When build fails, or its record is refused
  // (FAILED_PRECONDITION for a wrong index or shard, INVALID_ARGUMENT for a malformed hostname or
  // digest), an abandoned record is committed at i in its place — log index i, this shard, the
  // time from the store's clock, decision DECISION_UNSPECIFIED and the refusal explanation "the
  // decision at this index could not be completed: <error>" (no VR, hostname or digest, so neither
  // the by_host index nor the replay cache names it; the quoted error never names the store's path)
  // — and that error is returned (build's status as is). The log thus stays contiguous and says
  // honestly that a decision begun at i was not completed. If the abandoned record cannot be
  // written either, the write's error is returned.
  //
  // Since a record waits for every lower index, a slow build delays the Appends that reserved
  // later indexes: build must return in bounded time (the signer call carries a deadline). After a
  // failed write the Appends of that batch get its error, and every Append not yet committed or
  // started later is FAILED_PRECONDITION until the store is reopened, since the write may or may
  // not have reached the disk. `build` must not call Append.
  absl::StatusOr<v1::QuorumRecord> Append(const RecordBuilder& build);

  // Append without a thread waiting for the build or the commit: reserves the index, calls
  // build(i) on this thread, and calls `done` with what Append would return. The rules above apply
  // unchanged; this is the path Append itself takes.
  void AppendAsync(const AsyncRecordBuilder& build, AppendDone done);

  // Calls `observer` with the seconds of every synced group commit from now on (for metrics); it
  // runs on the commit thread and must be fast. REQUIRES: no Append is running.
  void ObserveCommits(std::function<void(double seconds)> observer);

  // Writes a consistent copy of the store into `directory`, which must not exist, with RocksDB's
  // Checkpoint (files are hard links when on the same filesystem, copies otherwise): every record
  // committed before the call, nothing half written (each group commit is one atomic WriteBatch).
  // The copy opens with Open like the store itself. Runs alongside Appends.
  absl::Status CreateBackup(const std::string& directory) const;

  // Number of WriteBatches Append has committed since Open (each holding one or more records);
  // records appended / CommittedBatches() is the mean group-commit size.
  uint64_t CommittedBatches() const;

  // RocksDB's own figures for metrics (0 when RocksDB cannot tell).
  struct StoreFigures {
    uint64_t sst_files_bytes = 0;           // rocksdb.total-sst-files-size, all column families.
    uint64_t live_data_bytes = 0;           // rocksdb.estimate-live-data-size.
    uint64_t memtable_bytes = 0;            // rocksdb.cur-size-all-mem-tables.
    uint64_t pending_compaction_bytes = 0;  // rocksdb.estimate-pending-compaction-bytes.
  };
  StoreFigures Figures() const;

  // The record at `index`; NOT_FOUND at or beyond TreeSize(), DATA_LOSS if its bytes no longer hash
  // to the leaf of the log.
  absl::StatusOr<v1::QuorumRecord> GetRecord(uint64_t index) const;

  // The stored bytes of record `index`, checked against its leaf hash; NOT_FOUND
  // at or beyond TreeSize(), DATA_LOSS if they no longer hash to it.
  absl::StatusOr<std::string> GetRecordBytes(uint64_t index) const;

  // RFC 9162 §2.1.1 leaf hash of record `index`: SHA-256(0x00 || its LogEntry). Auditors get it
  // from here rather than re-serializing the record. NOT_FOUND at or beyond TreeSize().
  absl::StatusOr<std::string> GetLeafHash(uint64_t index) const;

  // Index of the latest record of the VR whose SHA-256 is `sha256` (32 bytes, else
  // INVALID_ARGUMENT); nullopt if none (the VR replay / de-duplication cache). Also nullopt while
  // that latest record is written but not yet committed (its Append has not returned).
  absl::StatusOr<std::optional<uint64_t>> FindByRequestDigest(const std::string& sha256) const;

  // Records in log order from `page_token` (empty: the start), only those for `hostname` (exact;
  // empty for all) decided at or after `since_unix_milliseconds`. At most `page_size` of them (0 →
  // kDefaultPageSize, capped at kMaxPageSize). `*next_page_token` is set to the index to continue
  // from, in decimal, or cleared when nothing more matches. INVALID_ARGUMENT for a page token that
  // is not such an index.
  absl::StatusOr<std::vector<v1::QuorumRecord>> ListRecords(const std::string& hostname,
                                                            int64_t since_unix_milliseconds,
                                                            uint32_t page_size,
                                                            const std::string& page_token,
                                                            std::string* next_page_token) const;

  // The DER OCSP response or CRL whose SHA-256 is `sha256`, as records name it
  // (RevocationEvidence.response_sha256). INVALID_ARGUMENT unless 32 bytes, NOT_FOUND when no
  // record named it, DATA_LOSS when the stored bytes no longer hash to it.
  absl::StatusOr<std::string> GetEvidence(const std::string& sha256) const;
  // Whether the store holds the response whose SHA-256 is `sha256` (a record may name it by hash
  // alone); remembered once true.
  absl::StatusOr<bool> HasEvidence(const std::string& sha256) const;

  // Number of records (leaves) in the log.
  uint64_t TreeSize() const;

  // RFC 9162 §2.1.1 MTH of the first `tree_size` records; OUT_OF_RANGE beyond TreeSize().
  absl::StatusOr<std::string> RootHash(uint64_t tree_size) const;
  // RFC 9162 §2.1.3.1 inclusion proof of record `index` in the tree of `tree_size` records.
  // OUT_OF_RANGE when tree_size > TreeSize(), INVALID_ARGUMENT when index ≥ tree_size.
  absl::StatusOr<std::vector<std::string>> InclusionProof(uint64_t index, uint64_t tree_size) const;
  // The compact range of the first `tree_size` records (common/transparency/compact_range.h): the
  // hashes of its complete subtrees, largest first. OUT_OF_RANGE beyond TreeSize().
  absl::StatusOr<std::vector<std::string>> CompactRangeHashes(uint64_t tree_size) const;
  // RFC 9162 §2.1.4.1 consistency proof between tree sizes `first` ≤ `second`. OUT_OF_RANGE when
  // second > TreeSize(), INVALID_ARGUMENT when first > second.
  absl::StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t first, uint64_t second) const;

  // Stores a signed checkpoint of the first `tree_size` records (synced). The signature is not
  // checked here, but the body must be a CheckpointBody of this shard with this tree size and the
  // log's root hash for it (INVALID_ARGUMENT otherwise; OUT_OF_RANGE beyond TreeSize()).
  absl::Status PutCheckpoint(const v1::SignedCheckpoint& checkpoint, uint64_t tree_size);
  // The checkpoint of the largest tree size stored; NOT_FOUND when there is none.
  absl::StatusOr<v1::SignedCheckpoint> GetLatestCheckpoint() const;

  // Trust-list state: opaque bytes under a non-empty key (synced). Get is NOT_FOUND for an absent
  // key.
  absl::Status PutTrustListState(const std::string& key, const std::string& bytes);
  absl::StatusOr<std::string> GetTrustListState(const std::string& key) const;

  const std::string& shard_id() const { return shard_id_; }
  const std::string& path() const { return path_; }

 private:
  struct ColumnFamilies {
    rocksdb::ColumnFamilyHandle* default_family = nullptr;
    rocksdb::ColumnFamilyHandle* records = nullptr;
    rocksdb::ColumnFamilyHandle* by_host = nullptr;
    rocksdb::ColumnFamilyHandle* merkle = nullptr;
    rocksdb::ColumnFamilyHandle* replay = nullptr;
    rocksdb::ColumnFamilyHandle* trust_lists = nullptr;
    rocksdb::ColumnFamilyHandle* checkpoints = nullptr;
    rocksdb::ColumnFamilyHandle* evidence = nullptr;
    rocksdb::ColumnFamilyHandle* record_hashes = nullptr;
  };

  // One Append's record on its way to the disk, set before it is queued and not changed after.
  struct PendingRecord;

  RecordStore(std::string path, std::string shard_id, const Clock& clock,
              std::unique_ptr<rocksdb::DB> db, ColumnFamilies families);

  // The record that takes a reserved `index` whose decision failed with `error`.
  v1::QuorumRecord AbandonedRecord(uint64_t index, const absl::Status& error) const;
  // Prepares `record` (already checked for `index`) for Commit, rewriting it into its stored form
  // (evidence by hash).
  absl::Status Prepare(v1::QuorumRecord* record, uint64_t index, PendingRecord* pending) const;
  // What becomes of the build of the record at `index`: checked and prepared (or replaced by an
  // abandoned record) and queued for the commit thread, which answers `done`.
  void Built(uint64_t index, absl::StatusOr<v1::QuorumRecord> built, AppendDone done);
  // Queues `pending` for the commit thread; answers it at once when the store has failed.
  void Enqueue(std::unique_ptr<PendingRecord> pending) ABSL_LOCKS_EXCLUDED(append_mutex_);
  // The commit thread: writes each gap-free run of built records from the tree size, in order.
  void CommitLoop() ABSL_LOCKS_EXCLUDED(append_mutex_);
  // `count` Appends were answered.
  void Answered(size_t count) ABSL_LOCKS_EXCLUDED(append_mutex_);
  // Whether the commit thread has a record to write, or is to stop.
  bool CommitterHasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mutex_);
  // Writes `group` (consecutive indexes from the tree size) in one synced WriteBatch and extends
  // the Merkle tree. Called by the commit thread without append_mutex_.
  absl::Status WriteGroup(const std::vector<std::unique_ptr<PendingRecord>>& group)
      ABSL_LOCKS_EXCLUDED(append_mutex_);
  absl::Status WriteFailedError() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mutex_);

  // Called once by Open: claims a new store for the shard or checks an existing one, and loads and
  // verifies the log into tree_.
  absl::Status Recover();
  absl::Status LoadAndVerifyLog(uint64_t tree_size);
  // Checks a record `build` returned for `index`.
  absl::Status CheckBuiltRecord(const v1::QuorumRecord& record, uint64_t index) const;
  // Parses the stored bytes of record `index` after checking they hash to its leaf.
  absl::StatusOr<v1::QuorumRecord> ParseStoredRecord(uint64_t index, absl::string_view bytes) const;
  // Reads record `index` (< TreeSize()) as of `snapshot` (nullptr: latest).
  absl::StatusOr<v1::QuorumRecord> ReadRecord(uint64_t index,
                                              const rocksdb::Snapshot* snapshot) const;
  absl::Status SyncedPut(rocksdb::ColumnFamilyHandle* family, absl::string_view key,
                         absl::string_view value, absl::string_view what);
  // "record store at <path>: <status message>", same code.
  absl::Status InContext(const absl::Status& status) const;

  // Constant after construction.
  const std::string path_;
  const std::string shard_id_;
  std::unique_ptr<rocksdb::DB> db_;
  const ColumnFamilies families_;

  const Clock& clock_;

  // Lock order: append_mutex_ before state_mutex_. Both are held only for moments: no lock is held
  // across build() or the synced write, so readers never wait for a build or an fsync.
  mutable absl::Mutex state_mutex_;
  mutable absl::Mutex append_mutex_ ABSL_ACQUIRED_BEFORE(state_mutex_);
  // The leaves of every record committed; its size is the tree size.
  MerkleTree tree_ ABSL_GUARDED_BY(state_mutex_);
  // The next index Append reserves; indexes in [committed_size_, next_index_) are being built or
  // waiting for their commit.
  uint64_t next_index_ ABSL_GUARDED_BY(append_mutex_) = 0;
  // Records committed: equal to tree_.size() whenever the commit thread is not writing.
  uint64_t committed_size_ ABSL_GUARDED_BY(append_mutex_) = 0;
  // Built records waiting for their commit, by index.
  std::map<uint64_t, std::unique_ptr<PendingRecord>> queued_ ABSL_GUARDED_BY(append_mutex_);
  uint64_t committed_batches_ ABSL_GUARDED_BY(append_mutex_) = 0;
  // Appends begun (an index reserved) and not yet answered.
  uint64_t unanswered_ ABSL_GUARDED_BY(append_mutex_) = 0;
  // Set by the destructor: the commit thread ends once every Append is answered.
  bool stopping_ ABSL_GUARDED_BY(append_mutex_) = false;
  // Set before any Append (ObserveCommits); called by the commit thread.
  std::function<void(double)> commit_observer_;
  // Set by a failed write; refuses later appends.
  absl::Status write_failure_ ABSL_GUARDED_BY(append_mutex_);
  // Hashes of evidence known to be stored (at most kMaxKnownEvidence; then cleared and relearnt).
  mutable absl::flat_hash_set<std::string> known_evidence_ ABSL_GUARDED_BY(state_mutex_);
  // Started by the constructor, joined by the destructor; declared last.
  std::thread committer_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_RECORD_STORE_H_
