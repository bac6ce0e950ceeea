// The coordinator's durable, tamper-evident quorum history (DESIGN §8, trust rules 4 and 5): one
// RocksDB per coordinator holding its log shard. Every quorum record is a leaf of an append-only
// RFC 9162 Merkle log (the leaf is the serialized QuorumRecord exactly as stored), written with its
// index entries in one WriteBatch whose WAL is synced before Append returns.
//
// Column families:
//   records      big-endian uint64 log index → serialized v1::QuorumRecord
//   by_host      hostname '\0' big-endian index → empty (prefix scans for auditors)
//   merkle       big-endian index → 32-byte leaf hash; "tree_size" → big-endian leaf count
//   replay       vouching_request_sha256 → big-endian index of the latest record of that VR
//   trust_lists  key → bytes, trust-list state
//   checkpoints  big-endian tree size → serialized v1::SignedCheckpoint
//   default      "shard_id" and "format_version" of the store
#ifndef MECAI_COORDINATOR_RECORD_STORE_H_
#define MECAI_COORDINATOR_RECORD_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/merkle.h"
#include "proto/mecai/v1/record.pb.h"
#include "proto/mecai/v1/signer.pb.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class Snapshot;
}  // namespace rocksdb

namespace mecai {

// Thread-safe. Appends are serialized; reads run concurrently with them and with each other, and
// see only records whose write is complete.
class RecordStore {
 public:
  // Builds the record that takes log index `log_index`; the caller signs for that index here.
  using RecordBuilder = std::function<absl::StatusOr<v1::QuorumRecord>(uint64_t log_index)>;

  static constexpr uint32_t kDefaultPageSize = 100;
  static constexpr uint32_t kMaxPageSize = 1000;

  // Opens the store at `path` (a directory; created if missing) for log shard `shard_id`.
  // FAILED_PRECONDITION when the store belongs to another shard; DATA_LOSS when its log is
  // inconsistent (a leaf hash or record missing or extra, a record that does not hash to its leaf
  // or names another index or shard). Open reads every record once to check this.
  static absl::StatusOr<std::unique_ptr<RecordStore>> Open(const std::string& path,
                                                           const std::string& shard_id);

  RecordStore(const RecordStore&) = delete;
  RecordStore& operator=(const RecordStore&) = delete;
  ~RecordStore();

  // Under the append lock: calls build(next index); checks the record names that index and this
  // shard; writes the record, its by_host, leaf-hash and replay entries and the new tree size in
  // one synced WriteBatch; returns the record stored. A failing build (its status is returned as
  // is) or a refused record (FAILED_PRECONDITION for a wrong index or shard, INVALID_ARGUMENT for a
  // malformed hostname or digest) writes nothing and leaves the index to the next Append. After a
  // failed write every later Append is FAILED_PRECONDITION until the store is reopened, since the
  // write may or may not have reached the disk. `build` must not call Append.
  absl::StatusOr<v1::QuorumRecord> Append(const RecordBuilder& build);

  // The record at `index`; NOT_FOUND at or beyond TreeSize(), DATA_LOSS if its bytes no longer hash
  // to the leaf of the log.
  absl::StatusOr<v1::QuorumRecord> GetRecord(uint64_t index) const;

  // RFC 9162 §2.1.1 leaf hash of record `index`: SHA-256(0x00 || stored record bytes). Auditors get
  // it from here rather than re-serializing the record. NOT_FOUND at or beyond TreeSize().
  absl::StatusOr<std::string> GetLeafHash(uint64_t index) const;

  // Index of the latest record of the VR whose SHA-256 is `sha256` (32 bytes, else
  // INVALID_ARGUMENT); nullopt if none (the VR replay / de-duplication cache).
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

  // Number of records (leaves) in the log.
  uint64_t TreeSize() const;

  // RFC 9162 §2.1.1 MTH of the first `tree_size` records; OUT_OF_RANGE beyond TreeSize().
  absl::StatusOr<std::string> RootHash(uint64_t tree_size) const;
  // RFC 9162 §2.1.3.1 inclusion proof of record `index` in the tree of `tree_size` records.
  // OUT_OF_RANGE when tree_size > TreeSize(), INVALID_ARGUMENT when index ≥ tree_size.
  absl::StatusOr<std::vector<std::string>> InclusionProof(uint64_t index, uint64_t tree_size) const;
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
  };

  RecordStore(std::string path, std::string shard_id, std::unique_ptr<rocksdb::DB> db,
              ColumnFamilies families);

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

  // Lock order: append_mutex_ before state_mutex_. append_mutex_ is held across build() and the
  // synced write; state_mutex_ only for moments, so readers never wait for a build or an fsync.
  mutable absl::Mutex state_mutex_;
  absl::Mutex append_mutex_ ABSL_ACQUIRED_BEFORE(state_mutex_);
  // The leaves of every record written; its size is the tree size.
  MerkleTree tree_ ABSL_GUARDED_BY(state_mutex_);
  // Set by a failed write; refuses later appends.
  absl::Status write_failure_ ABSL_GUARDED_BY(append_mutex_);
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_RECORD_STORE_H_
